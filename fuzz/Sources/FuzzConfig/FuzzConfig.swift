// libFuzzer entry point for the configuration parser: YAML (Yams) and the config model
// (docs/fuzzing.md, "Configuration parser").
//
// Each input is read as UTF-8 text and parsed both as a ConfigMap manifest or bare value
// (`ConfigParser.parse`) and as the bare `config` value the controller reads. The properties
// are LBConfig's `ConfigFuzzCheck`, which `Tests/LBConfigTests` also runs on the kept corpus
// (fuzz/corpus/config).
import LBConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let problem = ConfigFuzzCheck.violation(text) { fatalError(problem) }
    return 0
}

// SwiftPM links executables with `main` aliased to `<Module>_main`, which hides libFuzzer's
// own `main`; hand control to libFuzzer's driver from there (as FuzzBGPMessage does).
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("FuzzConfig_main")
public func fuzzConfigMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { data, size in fuzzConfig(data, size) }
}
