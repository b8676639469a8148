import NIOCore
import NIOTestUtils
import Testing
import BGPWire

@Suite struct FixtureRoundTripTests {
    @Test func fixturesArePresent() {
        #expect(Fixtures.names.count >= 40)
        for kind in ["open", "update-ipv4", "update-ipv6", "withdraw-ipv4", "withdraw-ipv6", "eor-ipv4", "eor-ipv6",
                     "keepalive", "notification-6-2", "route-refresh"] {
            #expect(Fixtures.names.contains { $0.contains("-\(kind)") }, "no fixture of kind \(kind)")
        }
    }

    @Test(arguments: Fixtures.names)
    func decodesAndReencodesIdentically(name: String) throws {
        let bytes = try Fixtures.bytes(name)
        var buffer = ByteBuffer(bytes: bytes)
        let options = Fixtures.options(name)
        let message = try #require(try buffer.readBGPMessage(options: options))
        #expect(buffer.readableBytes == 0)
        if case .update(let update) = message {
            #expect(update.errors.isEmpty, "\(update.errors)")
        }
        var out = ByteBuffer()
        let written = out.writeBGPMessage(message, options: options)
        #expect(written == bytes.count)
        #expect(Array(out.readableBytesView) == bytes)
    }

    @Test(arguments: Fixtures.names)
    func leavesBufferUntouchedWhenShort(name: String) throws {
        let bytes = try Fixtures.bytes(name)
        let options = Fixtures.options(name)
        for cut in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<cut])
            #expect(try buffer.readBGPMessage(options: options) == nil)
            #expect(buffer.readableBytes == cut)
        }
    }

    /// Every fixture, one stream, through the framing decoder: whole, byte by byte, and in
    /// the other splits NIOTestUtils tries.
    @Test func dripFeedsAllFixturesThroughTheDecoder() throws {
        for fourOctet in [true, false] {
            let names = Fixtures.names.filter { Fixtures.options($0).fourOctetASN == fourOctet }
            var pairs: [(ByteBuffer, [BGPMessage])] = []
            for name in names {
                var buffer = try Fixtures.buffer(name)
                let message = try #require(try buffer.readBGPMessage(options: Fixtures.options(name)))
                pairs.append((try Fixtures.buffer(name), [message]))
            }
            var stream = ByteBuffer()
            var expected: [BGPMessage] = []
            for (buffer, messages) in pairs {
                stream.writeImmutableBuffer(buffer)
                expected += messages
            }
            pairs.append((stream, expected))
            try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
                BGPMessageDecoder(options: BGPCodecOptions(fourOctetASN: fourOctet))
            }
        }
    }
}
