// libFuzzer entry point for the configuration parser: YAML (Yams) and the config model
// (docs/fuzzing.md, "Configuration parser").
//
// Each input is read as UTF-8 text and parsed both as a ConfigMap manifest or bare value
// (`ConfigParser.parse`) and as the bare `config` value the controller reads. The properties
// are LBConfig's `ConfigFuzzCheck`, which `Tests/LBConfigTests` also runs on the kept corpus
// (fuzz/corpus/config).
import FuzzSupport
import LBConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let problem = ConfigFuzzCheck.violation(text) { fatalError(problem) }
    return 0
}

@_cdecl("FuzzConfig_main")
public func fuzzConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzConfig(data, size) }
}
