import BFD
import Foundation
import NIOCore
import Testing

/// Hex fixtures under Tests/Fixtures/bfd, captured from FRR's bfdd and BIRD by
/// scripts/capture/bfd-fixtures.sh: `#` starts a comment, whitespace is ignored.
enum BFDFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bfd")

    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        try hexBytes(String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8))
    }

    static func packet(_ name: String) throws -> BFDControlPacket {
        try BFDControlPacket.decode(datagram: ByteBuffer(bytes: bytes(name)))
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for line in text.split(separator: "\n") {
        let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let digits = Array(content.filter { !$0.isWhitespace })
        var index = 0
        while index + 1 < digits.count {
            bytes.append(UInt8(String(digits[index...index + 1]), radix: 16)!)
            index += 2
        }
    }
    return bytes
}

@Suite struct BFDControlPacketTests {
    /// RFC 5880 §4.1, field by field: version 1, diag 3, state Up, P and C set, mult 5.
    static let handWritten: [UInt8] = [
        0x23, 0xE8, 0x05, 0x18,
        0x00, 0x00, 0x00, 0x2A, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x04, 0x93, 0xE0, 0x00, 0x0F, 0x42, 0x40, 0x00, 0x00, 0x00, 0x00,
    ]

    @Test func decodesEveryFieldOfAHandWrittenPacket() throws {
        let packet = try BFDControlPacket.decode(datagram: ByteBuffer(bytes: Self.handWritten))
        #expect(packet.diagnostic == .neighborSignaledSessionDown)
        #expect(packet.state == .up)
        #expect(packet.poll && !packet.final && packet.controlPlaneIndependent && !packet.demand)
        #expect(packet.detectMultiplier == 5)
        #expect(packet.myDiscriminator == 42 && packet.yourDiscriminator == 256)
        #expect(packet.desiredMinTxInterval == 300_000 && packet.requiredMinRxInterval == 1_000_000)
        #expect(packet.requiredMinEchoRxInterval == 0 && packet.authentication == nil)
        var out = ByteBuffer()
        #expect(out.writeBFDControlPacket(packet) == 24)
        #expect(Array(out.readableBytesView) == Self.handWritten)
    }

    @Test(arguments: BFDFixtures.names)
    func capturedPacketsDecodeAndReencodeByteForByte(_ name: String) throws {
        let bytes = try BFDFixtures.bytes(name)
        let packet = try BFDFixtures.packet(name)
        var out = ByteBuffer()
        out.writeBFDControlPacket(packet)
        #expect(Array(out.readableBytesView) == bytes)
        // The file name says what the router sent.
        #expect(name.contains("-\(packet.state.description.lowercased())-"))
        #expect(name.contains("-poll") == packet.poll && name.contains("-final") == packet.final)
        #expect(name.contains("-diag-\(packet.diagnostic.rawValue)") == (packet.diagnostic != .none))
    }

    @Test(arguments: BFDFixtures.names)
    func dripFeedingReturnsNothingUntilThePacketIsComplete(_ name: String) throws {
        let bytes = try BFDFixtures.bytes(name)
        var buffer = ByteBuffer()
        for (index, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            let before = buffer
            let packet = try buffer.readBFDControlPacket()
            if index < bytes.count - 1 {
                #expect(packet == nil)
                #expect(buffer == before)
            } else {
                #expect(packet == (try BFDFixtures.packet(name)))
                #expect(buffer.readableBytes == 0)
            }
        }
    }

    @Test func aTruncatedDatagramIsDroppedAsTruncated() throws {
        let bytes = try BFDFixtures.bytes("frr-up-v4")
        for count in 0..<bytes.count {
            #expect(throws: BFDDropReason.truncated) { try BFDControlPacket.decode(datagram: ByteBuffer(bytes: bytes.prefix(count))) }
        }
    }

    /// RFC 5880 only sets a minimum Length; FRR accepts a longer one, and so do we: the bytes
    /// between the mandatory section and Length are skipped (there is no section to carry).
    @Test func aLengthAboveTheMandatorySectionIsAcceptedAndItsBytesSkipped() throws {
        var bytes = try BFDFixtures.bytes("frr-up-v4")
        bytes[3] = 30
        var buffer = ByteBuffer(bytes: bytes + [1, 2, 3, 4, 5, 6, 7])
        let packet = try #require(try buffer.readBFDControlPacket())
        #expect(buffer.readableBytes == 1)
        #expect(packet.length == 24 && packet.authentication == nil && packet.state == .up)
    }

    @Test func bytesAfterTheLengthFieldAreIgnored() throws {
        let bytes = try BFDFixtures.bytes("bird-up-v4")
        let packet = try BFDControlPacket.decode(datagram: ByteBuffer(bytes: bytes + [0xDE, 0xAD]))
        #expect(packet == (try BFDFixtures.packet("bird-up-v4")))
    }

    @Test func capturedRoutersDifferAsExpected() throws {
        // FRR advertises its echo receive interval (50 ms default); BIRD runs no echo.
        #expect(try BFDFixtures.packet("frr-up-v4").requiredMinEchoRxInterval == 50_000)
        #expect(try BFDFixtures.packet("bird-up-v4").requiredMinEchoRxInterval == 0)
        // While not Up, BIRD advertises the one-second floor of §6.8.3.
        #expect(try BFDFixtures.packet("bird-init-poll-v4").desiredMinTxInterval == 1_000_000)
        // FRR's detection expiry: Down, diagnostic 1, Your Discriminator forgotten.
        let expired = try BFDFixtures.packet("frr-down-diag-1-v4")
        #expect(expired.diagnostic == .controlDetectionTimeExpired && expired.yourDiscriminator == 0)
        #expect(try BFDFixtures.packet("frr-admindown-v4").state == .adminDown)
    }

    /// One row per §6.8.6 check the codec makes, each on otherwise valid bytes.
    static let malformed: [(name: String, edit: @Sendable (inout [UInt8]) -> Void, reason: BFDDropReason)] = [
        ("version 0", { $0[0] = 0x00 }, .badVersion),
        ("version 2", { $0[0] = 0x40 }, .badVersion),
        ("version 7", { $0[0] = 0xE0 }, .badVersion),
        ("length 23", { $0[3] = 23 }, .badLength),
        ("length 0", { $0[3] = 0 }, .badLength),
        ("length beyond the datagram", { $0[3] = 25 }, .truncated),
        ("detect multiplier 0", { $0[2] = 0 }, .zeroDetectMultiplier),
        ("multipoint", { $0[1] |= 0x01 }, .multipointSet),
        ("my discriminator 0", { $0[4] = 0; $0[5] = 0; $0[6] = 0; $0[7] = 0 }, .zeroMyDiscriminator),
        ("your discriminator 0 while Up", { $0[8] = 0; $0[9] = 0; $0[10] = 0; $0[11] = 0 }, .zeroYourDiscriminator),
        ("your discriminator 0 while Init", { $0[1] = 0x80; $0[8] = 0; $0[9] = 0; $0[10] = 0; $0[11] = 0 }, .zeroYourDiscriminator),
        ("poll and final", { $0[1] |= 0x30 }, .pollAndFinal),
        ("A bit, length 24", { $0[1] |= 0x04 }, .badLength),
        ("A bit, length 26, no section", { $0[1] |= 0x04; $0[3] = 26 }, .truncated),
        ("A bit, auth len disagrees", { $0[1] |= 0x04; $0[3] = 28; $0 += [2, 3, 0, 0] }, .badLength),
        ("A bit, MD5 too short", { $0[1] |= 0x04; $0[3] = 28; $0 += [2, 4, 1, 0] }, .badLength),
        ("A bit, simple password too short", { $0[1] |= 0x04; $0[3] = 27; $0 += [1, 3, 1] }, .badLength),
    ]

    @Test(arguments: 0..<malformed.count)
    func malformedPacketsAreDroppedWithTheirReason(_ row: Int) throws {
        var bytes = try BFDFixtures.bytes("frr-up-v4")
        Self.malformed[row].edit(&bytes)
        #expect(throws: Self.malformed[row].reason, "\(Self.malformed[row].name)") {
            try BFDControlPacket.decode(datagram: ByteBuffer(bytes: bytes))
        }
    }

    @Test func yourDiscriminatorZeroIsFineWhileDownOrAdminDown() throws {
        for stateByte: UInt8 in [0x40, 0x00] {
            var bytes = try BFDFixtures.bytes("frr-up-v4")
            bytes[1] = stateByte
            bytes.replaceSubrange(8..<12, with: [0, 0, 0, 0])
            #expect(try BFDControlPacket.decode(datagram: ByteBuffer(bytes: bytes)).yourDiscriminator == 0)
        }
    }

    @Test func authenticationSectionsAreDecodedSoThatTheyCanBeRefused() throws {
        // Keyed SHA1 (type 4): key ID, reserved, sequence number, 20-byte hash (§4.4).
        var bytes = try BFDFixtures.bytes("frr-up-v4")
        bytes[1] |= 0x04
        bytes[3] = 24 + 28
        let section: [UInt8] = [4, 28, 7, 0, 0, 0, 0, 9] + Array(repeating: 0xAB, count: 20)
        let packet = try BFDControlPacket.decode(datagram: ByteBuffer(bytes: bytes + section))
        #expect(packet.authentication == BFDAuthentication(type: 4, data: Array(section.dropFirst(2))))
        var out = ByteBuffer()
        out.writeBFDControlPacket(packet)
        #expect(Array(out.readableBytesView) == bytes + section)
        // Simple password "secret" (type 1).
        var simple = try BFDFixtures.bytes("bird-up-v4")
        simple[1] |= 0x04
        simple[3] = 24 + 9
        let password: [UInt8] = [1, 9, 1] + Array("secret".utf8)
        #expect(try BFDControlPacket.decode(datagram: ByteBuffer(bytes: simple + password)).authentication?.type == 1)
    }

    @Test func everyDropReasonHasADistinctMetricLabel() {
        let labels = BFDDropReason.allCases.map(\.rawValue)
        #expect(Set(labels).count == labels.count)
        #expect(labels.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } })
    }
}

/// The fuzzer's kept corpus (fuzz/corpus/bfd), replayed through the fuzz target's checks.
@Suite struct BFDFuzzCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus/bfd")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test func theCorpusHoldsTheCapturedPacketsAndMore() {
        #expect(Self.names.count >= BFDFixtures.names.count)
    }

    @Test func everyCorpusEntryDecodesOrIsDroppedAndDecodedOnesRoundTrip() throws {
        var decoded = 0
        for name in Self.names {
            let bytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent(name)))
            var stream = ByteBuffer(bytes: bytes)
            do {
                if let packet = try stream.readBFDControlPacket() {
                    decoded += 1
                    #expect(stream.readableBytes == bytes.count - Int(bytes[3]), "\(name)")
                    var encoded = ByteBuffer()
                    encoded.writeBFDControlPacket(packet)
                    if Int(bytes[3]) == packet.length {
                        #expect(Array(encoded.readableBytesView) == Array(bytes.prefix(Int(bytes[3]))), "\(name)")
                    }
                    #expect(try BFDControlPacket.decode(datagram: encoded) == packet, "\(name)")
                } else {
                    #expect(stream.readableBytes == bytes.count, "\(name)")
                }
            } catch {
                #expect(stream.readableBytes == bytes.count, "\(name)")
            }
        }
        #expect(decoded >= BFDFixtures.names.count)
    }
}
