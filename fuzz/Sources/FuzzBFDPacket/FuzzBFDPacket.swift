// libFuzzer entry point for the BFD control packet decoder and session (docs/fuzzing.md).
//
// Any input, as one datagram, must decode or be dropped with a reason; a stream read must
// return nil or throw without moving the reader index; a decoded packet re-encodes to the
// bytes up to its Length (when Length covers exactly its sections) and decodes again to the same packet; and a session in each state
// must accept or drop it without trapping. `Tests/BFDTests` replays the kept corpus
// (fuzz/corpus/bfd) through the same checks.
import FuzzSupport
import BFD
import NIOCore

struct FuzzInstant: InstantProtocol {
    var offset: Duration
    func advanced(by duration: Duration) -> FuzzInstant { FuzzInstant(offset: offset + duration) }
    func duration(to other: FuzzInstant) -> Duration { other.offset - offset }
    static func < (lhs: FuzzInstant, rhs: FuzzInstant) -> Bool { lhs.offset < rhs.offset }
}

struct FixedRandom: RandomNumberGenerator {
    var state: UInt64 = 1
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }
}

func check(_ bytes: [UInt8]) {
    var stream = ByteBuffer(bytes: bytes)
    do {
        if let packet = try stream.readBFDControlPacket() {
            precondition(stream.readableBytes == bytes.count - Int(bytes[3]), "a decoded packet consumed other than its Length")
            var encoded = ByteBuffer()
            encoded.writeBFDControlPacket(packet)
            // A Length above the sections present (allowed, as FRR allows it) is not kept.
            if Int(bytes[3]) == packet.length {
                precondition(Array(encoded.readableBytesView) == Array(bytes.prefix(Int(bytes[3]))), "re-encoding changed the packet")
            }
            precondition((try? BFDControlPacket.decode(datagram: encoded)) == packet, "the re-encoded packet decodes differently")
        } else {
            precondition(stream.readableBytes == bytes.count, "a short read moved the reader index")
        }
    } catch {
        precondition(stream.readableBytes == bytes.count, "a failed decode moved the reader index")
        precondition(!error.rawValue.isEmpty)
    }
    guard let packet = try? BFDControlPacket.decode(datagram: ByteBuffer(bytes: bytes)) else { return }
    // A session that knows the sender (Down, then the packet) and a fresh one.
    var session = BFDSessionStateMachine<FuzzInstant, FixedRandom>(
        configuration: BFDSessionConfiguration(localDiscriminator: max(1, packet.yourDiscriminator)), random: FixedRandom()
    )
    let start = FuzzInstant(offset: .zero)
    _ = session.start(now: start)
    _ = session.received(packet, now: start.advanced(by: .milliseconds(1)))
    _ = session.received(packet, now: start.advanced(by: .milliseconds(2)))
    _ = session.timerFired(.transmit, now: start.advanced(by: .seconds(1)))
    _ = session.timerFired(.detection, now: start.advanced(by: .seconds(300)))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBFDPacket(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("FuzzBFDPacket_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzzBFDPacket(data, size) }
}
