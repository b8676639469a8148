// libFuzzer entry point for the BGP session state machine (docs/fuzzing.md).
//
// Each input is a script of events (`BGPSessionScript` in BGPSession says how bytes become
// events and what is checked after each). A check that fails traps, so libFuzzer keeps the
// input; `Tests/BGPSessionTests` replays the kept corpus (fuzz/corpus/bgp-session).
import FuzzSupport
import BGPSession

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBGPSession(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let problems = BGPSessionScript.run(Array(UnsafeBufferPointer(start: start, count: count))).problems
    precondition(problems.isEmpty, problems.joined(separator: "; "))
    return 0
}

@_cdecl("FuzzBGPSession_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzBGPSession(data, size) }
}
