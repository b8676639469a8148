// libFuzzer entry point for the BGP message decoder.
//
// Each input is decoded as a stream of messages, first with 4-octet AS numbers and then
// with 2-octet ones and extended messages. The decoder must never trap, must leave the
// buffer untouched when it throws or needs more bytes, and whatever it decodes must
// re-encode to bytes that decode to the same message.
import FuzzSupport
import BGPWire
import NIOCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBGPMessage(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    for options in [BGPCodecOptions(fourOctetASN: true), BGPCodecOptions(fourOctetASN: false, extendedMessages: true)] {
        var buffer = ByteBuffer(bytes: bytes)
        while true {
            let before = buffer
            let message: BGPMessage?
            do {
                message = try buffer.readBGPMessage(options: options)
            } catch {
                precondition(buffer == before, "a throwing read moved the buffer")
                precondition(!error.reason.isEmpty, "error without a reason")
                break
            }
            guard let message else {
                precondition(buffer == before, "a short read moved the buffer")
                break
            }
            precondition(buffer.readerIndex > before.readerIndex, "a decoded message consumed nothing")
            checkRoundTrip(message, options: options)
        }
    }
    return 0
}

private func checkRoundTrip(_ message: BGPMessage, options: BGPCodecOptions) {
    var encoded = ByteBuffer()
    encoded.writeBGPMessage(message, options: options)
    // Discarded attributes and re-split AS_PATH segments change the bytes, not the meaning:
    // compare decoded values, with the recovered errors of the first pass left out.
    var reencoded = options
    reencoded.extendedMessages = true
    guard let again = try? encoded.readBGPMessage(options: reencoded) else {
        preconditionFailure("re-encoded message does not decode: \(message)")
    }
    switch (message, again) {
    case (.update(var first), .update(var second)):
        if !first.errors.isEmpty { return }   // missing/malformed attributes may round trip differently
        first.errors = []
        second.errors = []
        precondition(first == second, "update round trip differs: \(first) vs \(second)")
    default:
        precondition(message == again, "round trip differs: \(message) vs \(again)")
    }
}

@_cdecl("FuzzBGPMessage_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzBGPMessage(data, size) }
}
