import Crypto

/// A speaker-to-speaker probe datagram (docs/design/layer2-leases.md, "Failure detector").
///
/// Wire format (network byte order), then a 16-byte HMAC-SHA256 tag over everything before it
/// with the cluster's probe key:
///
///     "ILBP" | version 1 | kind | incarnation u64 | counter u64 | nonce u64 |
///     from (u8 length + UTF-8) | to (u8 + UTF-8) | subject (u8 + UTF-8) | tag (16)
///
/// `incarnation` is the sender's start time (wall clock, ms) and `counter` grows with every
/// datagram it sends: a receiver accepts a sender's datagrams only in increasing
/// (incarnation, counter) order, so a recorded datagram cannot be played again. `nonce` ties an
/// answer to its question (an ack echoes the ping's nonce). `subject` is the node a ping
/// request or indirect ack is about, a claim's Lease version, or `fenced` in a ping or ack from
/// a node whose fence is closed.
public struct ProbeMessage: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
        /// Are you there? Answer with `ack` echoing the nonce.
        case ping = 1
        case ack = 2
        /// Ping `subject` for me; answer with `indirectAck` echoing my nonce if it acks.
        case pingRequest = 3
        case indirectAck = 4
        /// The sender holds its Lease and wants to answer: stop answering every VIP it outranks
        /// you for, count it as live, and answer with `yield` echoing the nonce. The subject is
        /// the resourceVersion of the sender's Lease that it saw back before claiming.
        case claim = 5
        case yield = 6
    }

    public var kind: Kind
    public var incarnation: UInt64
    public var counter: UInt64
    public var nonce: UInt64
    public var from: String
    public var to: String
    public var subject: String

    public init(kind: Kind, incarnation: UInt64, counter: UInt64, nonce: UInt64, from: String, to: String, subject: String = "") {
        self.kind = kind
        self.incarnation = incarnation
        self.counter = counter
        self.nonce = nonce
        self.from = from
        self.to = to
        self.subject = subject
    }

    public static let tagLength = 16
    static let magic: [UInt8] = Array("ILBP".utf8)

    /// Why a datagram was refused. Raw values are metric labels.
    public enum DecodeError: String, Error, Hashable, Sendable {
        case truncated
        case badMagic
        case badVersion
        case badKind
        case badName
        case badTag
    }

    public func encoded(key: ProbeKey) -> [UInt8] {
        var bytes = Self.magic + [1, kind.rawValue]
        for value in [incarnation, counter, nonce] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        for name in [from, to, subject] {
            let utf8 = Array(name.utf8.prefix(255))
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        return bytes + Self.tag(bytes, key: key)
    }

    static func tag(_ bytes: [UInt8], key: ProbeKey) -> [UInt8] {
        Array(Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key.key)).prefix(tagLength))
    }

    /// Parses and authenticates a datagram. Never traps on any input.
    public init(decoding bytes: [UInt8], key: ProbeKey) throws(DecodeError) {
        guard bytes.count >= 6 + 24 + 3 + Self.tagLength else { throw .truncated }
        guard Array(bytes[0..<4]) == Self.magic else { throw .badMagic }
        guard bytes[4] == 1 else { throw .badVersion }
        guard let kind = Kind(rawValue: bytes[5]) else { throw .badKind }
        let body = Array(bytes[..<(bytes.count - Self.tagLength)])
        // Constant-time comparison of the tag.
        let expected = Self.tag(body, key: key)
        var difference: UInt8 = 0
        for (a, b) in zip(expected, bytes[(bytes.count - Self.tagLength)...]) { difference |= a ^ b }
        guard difference == 0 else { throw .badTag }
        var offset = 6
        func integer() -> UInt64 {
            var value: UInt64 = 0
            for byte in body[offset..<(offset + 8)] { value = value << 8 | UInt64(byte) }
            offset += 8
            return value
        }
        let incarnation = integer(), counter = integer(), nonce = integer()
        var names: [String] = []
        for _ in 0..<3 {
            guard offset < body.count else { throw .truncated }
            let length = Int(body[offset])
            offset += 1
            guard offset + length <= body.count else { throw .truncated }
            guard let name = String(validating: body[offset..<(offset + length)], as: UTF8.self) else { throw .badName }
            names.append(name)
            offset += length
        }
        guard offset == body.count else { throw .truncated }
        self.init(kind: kind, incarnation: incarnation, counter: counter, nonce: nonce, from: names[0], to: names[1], subject: names[2])
    }
}

/// The cluster's shared probe key (the `ironlb-memberlist` Secret's `secretkey`).
public struct ProbeKey: Sendable {
    let bytes: [UInt8]

    /// At least 16 bytes; nil for a shorter key.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 16 else { return nil }
        self.bytes = bytes
    }

    var key: SymmetricKey { SymmetricKey(data: bytes) }
}
