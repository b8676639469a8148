// libFuzzer entry point for LinkWire's frame decoders and the responder (docs/fuzzing-l2.md).
//
// Any input must decode or fail without moving the reader index; when it decodes, encode
// back to the same bytes (up to the two spellings of a zero checksum) and decode again to
// the same frame; and give a responder decision whose reply, if any, round-trips too.
// `Tests/LinkWireTests` replays the kept corpus (fuzz/corpus/linkwire) through the same checks.
import FuzzSupport
import LinkWire
import NIOCore
import NetPrimitives

/// The interfaces and VIPs every input is decided against.
enum Setup {
    static let interfaces = [
        ResponderInterface(name: "n0", mac: MACAddress(rawValue: 0x0200_0000_0202)),
        ResponderInterface(name: "n0", mac: MACAddress(rawValue: 0x0200_0000_0202), vlanID: 100),
    ]
    static let owned: [IPAddress: Set<String>] = [
        .v4(IPv4Address(192, 0, 2, 20)): ["n0"],
        .v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: 0x20)): ["n0"],
        .v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: 0x21)): ["n0"],
    ]
}

func sameFrame(_ encoded: [UInt8], _ input: [UInt8]) -> Bool {
    guard encoded.count == input.count else { return false }
    let differing = encoded.indices.filter { encoded[$0] != input[$0] }
    if differing.isEmpty { return true }
    guard differing.count == 2, differing[1] == differing[0] + 1 else { return false }
    return encoded[differing[0]] == 0 && encoded[differing[1]] == 0 && input[differing[0]] == 0xff && input[differing[1]] == 0xff
}

func check(_ bytes: [UInt8]) {
    var buffer = ByteBuffer(bytes: bytes)
    do {
        let frame = try buffer.readLinkFrame()
        precondition(buffer.readableBytes == 0, "a decoded frame left bytes behind")
        let encoded = frame.bytes
        precondition(sameFrame(encoded, bytes), "re-encoding changed the frame")
        precondition((try? LinkFrame(decoding: encoded)) == frame, "the re-encoded frame decodes differently")
    } catch {
        precondition(buffer.readableBytes == bytes.count, "a failed decode moved the reader index")
    }
    for interface in Setup.interfaces {
        if case .reply(let reply) = Responder.decide(ByteBuffer(bytes: bytes), arrivedOn: interface, owned: Setup.owned) {
            precondition((try? LinkFrame(decoding: reply.bytes)) == reply, "a reply does not round-trip")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLinkWire(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("FuzzLinkWire_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzLinkWire(data, size) }
}
