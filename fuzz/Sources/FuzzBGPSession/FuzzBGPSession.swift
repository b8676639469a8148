// libFuzzer entry point for the BGP session state machine (docs/fuzzing.md).
//
// Each input is a script of events (`BGPSessionScript` in BGPSession says how bytes become
// events and what is checked after each). A check that fails traps, so libFuzzer keeps the
// input; `Tests/BGPSessionTests` replays the kept corpus (fuzz/corpus/bgp-session).
import BGPSession

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBGPSession(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let problems = BGPSessionScript.run(Array(UnsafeBufferPointer(start: start, count: count))).problems
    precondition(problems.isEmpty, problems.joined(separator: "; "))
    return 0
}

// SwiftPM links executables with `main` aliased to `<Module>_main`, which hides
// libFuzzer's own `main`; hand control to libFuzzer's driver from there.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzBGPSession_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzBGPSession(data, size) }
}
