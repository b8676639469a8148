// libFuzzer entry point for KubeModel's JSON parser and stream framer (docs/fuzzing.md,
// "Kubernetes JSON parser"): every API response and watch event goes through them.
//
// The properties are KubeModel's `JSONFuzzCheck`, which `Tests/KubeModelTests` also runs on the
// kept corpus (fuzz/corpus/kube-json).
import KubeModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let problem = JSONFuzzCheck.violation(Array(UnsafeBufferPointer(start: data, count: size))) { fatalError(problem) }
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

@_cdecl("FuzzKubeJSON_main")
public func fuzzKubeJSONMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { data, size in fuzzKubeJSON(data, size) }
}
