import NIOCore
import NetPrimitives
import Testing
import BGPWire

/// Builds messages byte by byte so that every length can be wrong on purpose.
enum Wire {
    static let marker = [UInt8](repeating: 0xFF, count: 16)

    static func message(type: UInt8, body: [UInt8], length: Int? = nil) -> [UInt8] {
        let total = length ?? 19 + body.count
        return marker + [UInt8(total >> 8), UInt8(total & 0xFF), type] + body
    }

    static func update(withdrawn: [UInt8] = [], attributes: [UInt8], nlri: [UInt8] = [],
                       withdrawnLength: Int? = nil, attributesLength: Int? = nil) -> [UInt8] {
        let w = withdrawnLength ?? withdrawn.count
        let a = attributesLength ?? attributes.count
        return message(type: 2, body: [UInt8(w >> 8), UInt8(w & 0xFF)] + withdrawn + [UInt8(a >> 8), UInt8(a & 0xFF)] + attributes + nlri)
    }

    static func open(version: UInt8 = 4, holdTime: UInt16 = 90, identifier: [UInt8] = [192, 0, 2, 9],
                     parameters: [UInt8], parametersLength: Int? = nil) -> [UInt8] {
        let length = parametersLength ?? parameters.count
        return message(type: 1, body: [version, 0xFD, 0xE8, UInt8(holdTime >> 8), UInt8(holdTime & 0xFF)] + identifier
            + [UInt8(length)] + parameters)
    }

    // Well-formed pieces (RFC 4271 §4.3).
    static let origin: [UInt8] = [0x40, 1, 1, 0]
    static let asPath4: [UInt8] = [0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE8]       // AS_SEQUENCE 65000
    static let asPath2: [UInt8] = [0x40, 2, 4, 2, 1, 0xFD, 0xE8]
    static let nextHop: [UInt8] = [0x40, 3, 4, 192, 0, 2, 1]
    static let nlri: [UInt8] = [24, 198, 51, 100]                             // 198.51.100.0/24
    static let mandatory = origin + asPath4 + nextHop
    static let capabilities: [UInt8] = [2, 6, 1, 4, 0, 1, 0, 1]              // multiprotocol ipv4-unicast
    /// MP_REACH_NLRI ipv6-unicast, next hop 2001:db8::1, NLRI 2001:db8:1::/48.
    static let mpReach: [UInt8] = [0x80, 14, 28, 0, 2, 1, 16] + [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1, 0]
        + [48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]
}

struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let fourOctetASN: Bool
    let code: UInt8
    let subcode: UInt8
    let handling: BGPError.Handling
    let data: [UInt8]?

    init(_ name: String, _ bytes: [UInt8], _ code: UInt8, _ subcode: UInt8, _ handling: BGPError.Handling = .sessionReset,
         data: [UInt8]? = nil, fourOctetASN: Bool = true) {
        self.name = name
        self.bytes = bytes
        self.code = code
        self.subcode = subcode
        self.handling = handling
        self.data = data
        self.fourOctetASN = fourOctetASN
    }

    var testDescription: String { name }
}

@Suite struct MalformedMessageTests {
    static let cases: [MalformedCase] = {
        typealias W = Wire
        let keepalive = W.message(type: 4, body: [])
        var badMarker = keepalive
        badMarker[5] = 0xFE
        var cases: [MalformedCase] = [
            // Message header, RFC 4271 §6.1.
            .init("bad marker", badMarker, 1, 1),
            .init("length below header", W.message(type: 4, body: [], length: 18), 1, 2, data: [0, 18]),
            .init("update over 4096", W.message(type: 2, body: [0, 0, 0, 0], length: 4097), 1, 2, data: [0x10, 0x01]),
            .init("keepalive with a body", W.message(type: 4, body: [0]), 1, 2, data: [0, 20]),
            .init("open shorter than 29", W.message(type: 1, body: [4, 0, 0, 0, 90, 1, 2, 3, 4]), 1, 2, data: [0, 28]),
            .init("notification without subcode", W.message(type: 3, body: [6]), 1, 2, data: [0, 20]),
            .init("route refresh shorter than 23", W.message(type: 5, body: [0, 1, 0]), 1, 2, data: [0, 22]),
            .init("unknown message type", W.message(type: 6, body: []), 1, 3, data: [6]),
            .init("message type zero", W.message(type: 0, body: []), 1, 3, data: [0]),

            // OPEN, RFC 4271 §6.2, RFC 5492, RFC 6286.
            .init("unsupported version", W.open(version: 3, parameters: W.capabilities), 2, 1, data: [0, 4]),
            .init("hold time 1", W.open(holdTime: 1, parameters: W.capabilities), 2, 6, data: [0, 1]),
            .init("hold time 2", W.open(holdTime: 2, parameters: W.capabilities), 2, 6, data: [0, 2]),
            .init("zero BGP identifier", W.open(identifier: [0, 0, 0, 0], parameters: W.capabilities), 2, 3),
            .init("parameters length past the message", W.open(parameters: W.capabilities, parametersLength: 9), 1, 2),
            .init("parameters length short of the message", W.open(parameters: W.capabilities, parametersLength: 7), 1, 2),
            .init("parameter length overrun", W.open(parameters: [2, 9, 1, 4, 0, 1, 0, 1, 0]), 2, 0),
            .init("capability length overrun", W.open(parameters: [2, 4, 1, 4, 0, 1]), 2, 0),
            .init("multiprotocol capability of 3 bytes", W.open(parameters: [2, 5, 1, 3, 0, 1, 1]), 2, 0),
            .init("4-octet AS capability of 2 bytes", W.open(parameters: [2, 4, 65, 2, 0xFD, 0xE8]), 2, 0),
            .init("route refresh capability with a value", W.open(parameters: [2, 3, 2, 1, 0]), 2, 0),
            .init("graceful restart capability of 3 bytes", W.open(parameters: [2, 5, 64, 3, 0, 120, 0]), 2, 0),
            .init("unsupported optional parameter", W.open(parameters: [1, 2, 0, 0]), 2, 4),

            // UPDATE lengths, RFC 4271 §6.3.
            .init("withdrawn length past the message", W.update(attributes: [], withdrawnLength: 10), 3, 1),
            .init("attribute length past the message", W.update(attributes: W.mandatory, attributesLength: 40), 3, 1),
            .init("withdrawn prefix longer than 32", W.update(withdrawn: [33, 1, 2, 3, 4, 5], attributes: []), 3, 10),
            .init("withdrawn prefix truncated", W.update(withdrawn: [24, 198, 51], attributes: []), 3, 10),
            .init("NLRI prefix longer than 32", W.update(attributes: W.mandatory, nlri: [33, 1, 2, 3, 4, 5]), 3, 10),
            .init("NLRI prefix truncated", W.update(attributes: W.mandatory, nlri: [24, 198, 51]), 3, 10),

            // Attribute framing, RFC 7606 §4 and §3 g.
            .init("attribute overruns the attributes", W.update(attributes: W.origin + [0x40, 2, 20, 2, 1, 0, 0], nlri: W.nlri),
                  3, 1, .treatAsWithdraw),
            .init("attribute header cut short", W.update(attributes: W.mandatory + [0x40], nlri: W.nlri), 3, 1, .treatAsWithdraw),
            .init("extended length cut short", W.update(attributes: W.mandatory + [0x50, 8, 0], nlri: W.nlri), 3, 1, .treatAsWithdraw),
            .init("duplicate ORIGIN", W.update(attributes: W.mandatory + W.origin, nlri: W.nlri), 3, 1, .attributeDiscard),
            .init("duplicate MP_REACH_NLRI", W.update(attributes: W.origin + W.asPath4 + W.mpReach + W.mpReach), 3, 1),
            .init("unrecognized well-known attribute", W.update(attributes: W.mandatory + [0x40, 99, 1, 0], nlri: W.nlri), 3, 2,
                  data: [0x40, 99, 1, 0]),

            // Well-known attributes, RFC 4271 §6.3 with RFC 7606 §7 handling.
            .init("missing ORIGIN", W.update(attributes: W.asPath4 + W.nextHop, nlri: W.nlri), 3, 3, .treatAsWithdraw, data: [1]),
            .init("missing AS_PATH", W.update(attributes: W.origin + W.nextHop, nlri: W.nlri), 3, 3, .treatAsWithdraw, data: [2]),
            .init("missing NEXT_HOP", W.update(attributes: W.origin + W.asPath4, nlri: W.nlri), 3, 3, .treatAsWithdraw, data: [3]),
            .init("missing ORIGIN with MP_REACH", W.update(attributes: W.asPath4 + W.mpReach), 3, 3, .treatAsWithdraw, data: [1]),
            .init("invalid ORIGIN", W.update(attributes: [0x40, 1, 1, 3] + W.asPath4 + W.nextHop, nlri: W.nlri), 3, 6,
                  .treatAsWithdraw, data: [0x40, 1, 1, 3]),
            .init("ORIGIN of 2 bytes", W.update(attributes: [0x40, 1, 2, 0, 0] + W.asPath4 + W.nextHop, nlri: W.nlri), 3, 5,
                  .treatAsWithdraw, data: [0x40, 1, 2, 0, 0]),
            .init("ORIGIN flagged optional", W.update(attributes: [0xC0, 1, 1, 0] + W.asPath4 + W.nextHop, nlri: W.nlri), 3, 4,
                  .treatAsWithdraw, data: [0xC0, 1, 1, 0]),
            .init("AS_PATH segment type 5", W.update(attributes: W.origin + [0x40, 2, 6, 5, 1, 0, 0, 0xFD, 0xE8] + W.nextHop, nlri: W.nlri),
                  3, 11, .treatAsWithdraw),
            .init("AS_PATH empty segment", W.update(attributes: W.origin + [0x40, 2, 2, 2, 0] + W.nextHop, nlri: W.nlri),
                  3, 11, .treatAsWithdraw),
            .init("AS_PATH segment overrun", W.update(attributes: W.origin + [0x40, 2, 6, 2, 2, 0, 0, 0xFD, 0xE8] + W.nextHop, nlri: W.nlri),
                  3, 11, .treatAsWithdraw),
            .init("AS_PATH trailing byte", W.update(attributes: W.origin + [0x40, 2, 7, 2, 1, 0, 0, 0xFD, 0xE8, 2] + W.nextHop, nlri: W.nlri),
                  3, 11, .treatAsWithdraw),
            .init("4-octet AS_PATH on a 2-octet session", W.update(attributes: W.origin + [0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE8] + W.nextHop,
                  nlri: W.nlri), 3, 11, .treatAsWithdraw, fourOctetASN: false),
            .init("NEXT_HOP 0.0.0.0", W.update(attributes: W.origin + W.asPath4 + [0x40, 3, 4, 0, 0, 0, 0], nlri: W.nlri), 3, 8,
                  .treatAsWithdraw, data: [0x40, 3, 4, 0, 0, 0, 0]),
            .init("NEXT_HOP multicast", W.update(attributes: W.origin + W.asPath4 + [0x40, 3, 4, 224, 0, 0, 1], nlri: W.nlri), 3, 8,
                  .treatAsWithdraw),
            .init("NEXT_HOP of 5 bytes", W.update(attributes: W.origin + W.asPath4 + [0x40, 3, 5, 192, 0, 2, 1, 0], nlri: W.nlri), 3, 5,
                  .treatAsWithdraw),
            .init("MED of 3 bytes", W.update(attributes: W.mandatory + [0x80, 4, 3, 0, 0, 0], nlri: W.nlri), 3, 5, .treatAsWithdraw),
            .init("MED flagged transitive", W.update(attributes: W.mandatory + [0x40, 4, 4, 0, 0, 0, 0], nlri: W.nlri), 3, 4, .treatAsWithdraw),
            .init("LOCAL_PREF of 0 bytes", W.update(attributes: W.mandatory + [0x40, 5, 0], nlri: W.nlri), 3, 5, .treatAsWithdraw),
            .init("ATOMIC_AGGREGATE with a value", W.update(attributes: W.mandatory + [0x40, 6, 1, 0], nlri: W.nlri), 3, 5, .attributeDiscard),
            .init("AGGREGATOR of 6 bytes on a 4-octet session", W.update(attributes: W.mandatory + [0xC0, 7, 6, 0xFD, 0xE8, 192, 0, 2, 1],
                  nlri: W.nlri), 3, 5, .attributeDiscard),
            .init("COMMUNITIES of 5 bytes", W.update(attributes: W.mandatory + [0xC0, 8, 5, 0, 0, 0, 1, 0], nlri: W.nlri), 3, 5, .treatAsWithdraw),
            .init("COMMUNITIES empty", W.update(attributes: W.mandatory + [0xC0, 8, 0], nlri: W.nlri), 3, 5, .treatAsWithdraw),
            .init("LARGE_COMMUNITY of 8 bytes", W.update(attributes: W.mandatory + [0xC0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2], nlri: W.nlri),
                  3, 5, .treatAsWithdraw),
            .init("AS4_PATH with a confederation segment", W.update(attributes: W.mandatory + [0xC0, 17, 6, 3, 1, 0, 0, 0xFD, 0xE8],
                  nlri: W.nlri), 3, 9, .attributeDiscard),
            .init("AS4_PATH overrun", W.update(attributes: W.mandatory + [0xC0, 17, 6, 2, 2, 0, 0, 0xFD, 0xE8], nlri: W.nlri),
                  3, 9, .attributeDiscard),
            .init("AS4_AGGREGATOR of 6 bytes", W.update(attributes: W.mandatory + [0xC0, 18, 6, 0xFD, 0xE8, 192, 0, 2, 1], nlri: W.nlri),
                  3, 9, .attributeDiscard),

            // MP_REACH_NLRI / MP_UNREACH_NLRI, RFC 4760 §7 and RFC 7606 §5.3.
            .init("MP_REACH cut short by the attributes", W.update(attributes: W.origin + W.asPath4 + Array(W.mpReach.prefix(12))), 3, 9),
            .init("MP_REACH next hop past the attribute", W.update(attributes: W.origin + W.asPath4 + [0x80, 14, 6, 0, 2, 1, 16, 0x20, 0x01]),
                  3, 9),
            .init("MP_REACH without the reserved octet", W.update(attributes: W.origin + W.asPath4 + [0x80, 14, 8, 0, 1, 1, 4, 192, 0, 2, 1]),
                  3, 9),
            .init("MP_REACH IPv6 with a 4-byte next hop", W.update(attributes: W.origin + W.asPath4
                  + [0x80, 14, 10, 0, 2, 1, 4, 192, 0, 2, 1, 0, 0]), 3, 9),
            .init("MP_REACH prefix longer than 128", W.update(attributes: W.origin + W.asPath4 + [0x80, 14, 22, 0, 2, 1, 16]
                  + [UInt8](repeating: 0x20, count: 16) + [0, 129]), 3, 9),
            .init("MP_REACH flagged transitive", W.update(attributes: W.origin + W.asPath4 + [0x40] + W.mpReach.dropFirst()), 3, 4),
            .init("MP_UNREACH of 2 bytes", W.update(attributes: [0x80, 15, 2, 0, 2]), 3, 9),
            .init("MP_UNREACH prefix truncated", W.update(attributes: [0x80, 15, 6, 0, 2, 1, 48, 0x20, 0x01]), 3, 9),

            // ROUTE-REFRESH, RFC 7313 §5.
            .init("BoRR with trailing bytes", W.message(type: 5, body: [0, 1, 1, 1, 0]), 7, 1),
        ]
        // An OPEN longer than 4096 is refused even with extended messages (RFC 8654 §4).
        cases.append(.init("open over 4096", W.message(type: 1, body: [4], length: 4097), 1, 2, data: [0x10, 0x01]))
        return cases
    }()

    @Test(arguments: cases)
    func mapsToTheNotification(_ testCase: MalformedCase) throws {
        var buffer = ByteBuffer(bytes: testCase.bytes)
        let before = buffer
        let options = BGPCodecOptions(fourOctetASN: testCase.fourOctetASN, extendedMessages: testCase.name == "open over 4096")
        let error: BGPError
        do {
            let message = try buffer.readBGPMessage(options: options)
            guard case .update(let update) = message, let first = update.errors.first else {
                Issue.record("decoded without an error: \(String(describing: message))")
                return
            }
            #expect(update.errors.count == 1, "\(update.errors)")
            #expect(buffer.readableBytes == 0)
            error = first
        } catch let thrown {
            #expect(buffer == before, "a throwing read must leave the buffer untouched")
            error = thrown
        }
        #expect(error.code.rawValue == testCase.code)
        #expect(error.subcode == testCase.subcode)
        #expect(error.handling == testCase.handling)
        if let data = testCase.data { #expect(error.data == data) }
        #expect(!error.reason.isEmpty && !error.reason.contains(" "))
        #expect(error.notification.code == testCase.code)
    }

    @Test func wellFormedPiecesDecode() throws {
        // The control: the pieces the malformed cases are built from are valid.
        for bytes in [Wire.update(attributes: Wire.mandatory, nlri: Wire.nlri), Wire.update(attributes: Wire.origin + Wire.asPath4 + Wire.mpReach),
                      Wire.open(parameters: Wire.capabilities)] {
            var buffer = ByteBuffer(bytes: bytes)
            let message = try #require(try buffer.readBGPMessage(options: BGPCodecOptions()))
            if case .update(let update) = message { #expect(update.errors.isEmpty) }
            var out = ByteBuffer()
            out.writeBGPMessage(message)
            #expect(Array(out.readableBytesView) == bytes)
        }
        var twoOctet = ByteBuffer(bytes: Wire.update(attributes: Wire.origin + Wire.asPath2 + Wire.nextHop, nlri: Wire.nlri))
        guard case .update(let update) = try twoOctet.readBGPMessage(options: BGPCodecOptions(fourOctetASN: false)) else {
            Issue.record("not an update")
            return
        }
        #expect(update.asPath == .sequence([65000]) && update.errors.isEmpty)
    }

    @Test func extendedMessagesAllowLargeUpdates() throws {
        let prefixes = (0..<2000).flatMap { i -> [UInt8] in [32, 198, 51, UInt8(100 + i / 256 % 2), UInt8(i % 256)] }
        let bytes = Wire.update(attributes: Wire.mandatory, nlri: prefixes)
        #expect(bytes.count > 4096)
        var small = ByteBuffer(bytes: bytes)
        #expect(throws: BGPError.self) { try small.readBGPMessage(options: BGPCodecOptions()) }
        var large = ByteBuffer(bytes: bytes)
        guard case .update(let update) = try large.readBGPMessage(options: BGPCodecOptions(extendedMessages: true)) else {
            Issue.record("not an update")
            return
        }
        #expect(update.nlri.count == 2000)
    }

    @Test func unknownOptionalAttributesAreKept() throws {
        let extendedCommunity: [UInt8] = [0xC0, 16, 8, 0, 2, 0xFD, 0xE8, 0, 0, 0, 1]
        let bytes = Wire.update(attributes: Wire.mandatory + extendedCommunity, nlri: Wire.nlri)
        var buffer = ByteBuffer(bytes: bytes)
        guard case .update(let update) = try buffer.readBGPMessage(options: BGPCodecOptions()) else {
            Issue.record("not an update")
            return
        }
        #expect(update.errors.isEmpty)
        #expect(update.attribute(16) == .unknown(code: 16, value: Array(extendedCommunity.dropFirst(3))))
    }

    @Test func duplicateAttributeKeepsTheFirst() throws {
        var buffer = ByteBuffer(bytes: Wire.update(attributes: Wire.mandatory + [0x40, 1, 1, 2], nlri: Wire.nlri))
        guard case .update(let update) = try buffer.readBGPMessage(options: BGPCodecOptions()) else {
            Issue.record("not an update")
            return
        }
        #expect(update.origin == .igp)
        #expect(!update.treatAsWithdraw)
    }

    @Test func notificationsDecodeWhateverTheyCarry() throws {
        for body: [UInt8] in [[6, 2], [6, 2, 200, 1], [6, 2, 3, 0xFF, 0xFE, 0xFD], [99, 99] + [UInt8](repeating: 7, count: 100)] {
            var buffer = ByteBuffer(bytes: Wire.message(type: 3, body: body))
            guard case .notification(let notification) = try buffer.readBGPMessage(options: BGPCodecOptions()) else {
                Issue.record("not a notification")
                return
            }
            #expect(notification.code == body[0] && notification.data == Array(body.dropFirst(2)))
            if body.count > 2 { #expect(notification.shutdownCommunication == nil) }
        }
    }

    @Test func shutdownCommunicationIsCutAtACharacterBoundary() {
        let text = String(repeating: "é", count: 200)   // 400 bytes of UTF-8
        let notification = BGPNotification.cease(.administrativeShutdown, communication: text)
        #expect(notification.data.count == 255)
        #expect(notification.data.first == 254)
        #expect(notification.shutdownCommunication == String(repeating: "é", count: 127))
    }
}
