// libFuzzer entry point for KubeModel's JSON parser and stream framer (docs/fuzzing.md,
// "Kubernetes JSON parser"): every API response and watch event goes through them.
//
// The properties are KubeModel's `JSONFuzzCheck`, which `Tests/KubeModelTests` also runs on the
// kept corpus (fuzz/corpus/kube-json).
import FuzzSupport
import KubeModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let problem = JSONFuzzCheck.violation(Array(UnsafeBufferPointer(start: data, count: size))) { fatalError(problem) }
    return 0
}

@_cdecl("FuzzKubeJSON_main")
public func fuzzKubeJSONMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzKubeJSON(data, size) }
}
