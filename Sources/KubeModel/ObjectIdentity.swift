/// What a projection keeps of `metadata`: the identity `ObjectMeta(identityFrom:)` decodes.
/// `ObjectMeta` holds its 15 optional fields inline (about 200 bytes per cached object, and as
/// much again per hash table slot grown); this holds 96 bytes, and a UID in its canonical form
/// as 16 bytes in place of a 36-character string on the heap (80 bytes a cached object).
public struct ObjectIdentity: Hashable, Sendable {
    public var name: String?
    public var namespace: String?
    private var storedUID: CompactUID
    public var resourceVersion: String?
    public var deletionTimestamp: KubeTime?
    public var labels: [String: String]?

    public var uid: String? {
        get { storedUID.text }
        set { storedUID = CompactUID(newValue) }
    }

    public init(_ metadata: ObjectMeta) {
        name = metadata.name
        namespace = metadata.namespace
        storedUID = CompactUID(metadata.uid)
        resourceVersion = metadata.resourceVersion
        deletionTimestamp = metadata.deletionTimestamp
        labels = metadata.labels
    }

    /// Takes `other`'s name and namespace where they are equal: each decoded update of an object
    /// repeats them in new storage (a name longer than 15 bytes is a heap string), while what
    /// was built from the object before holds the old.
    public mutating func shareNames(with other: ObjectIdentity) {
        if name == other.name { name = other.name }
        if namespace == other.namespace { namespace = other.namespace }
    }

    /// As `ObjectMeta` (the fields not kept are nil).
    public var metadata: ObjectMeta {
        var metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
        metadata.uid = uid
        metadata.resourceVersion = resourceVersion
        metadata.deletionTimestamp = deletionTimestamp
        return metadata
    }
}

/// A UID as the API server writes it (a lower-case RFC 4122 UUID, `8-4-4-4-12` hex digits) held
/// as its 128 bits; any other text is kept as it is. `text` gives back exactly what was given.
enum CompactUID: Hashable, Sendable {
    case none
    case uuid(high: UInt64, low: UInt64)
    case other(String)

    init(_ text: String?) {
        guard let text else { self = .none; return }
        self = Self.parse(text) ?? .other(text)
    }

    var text: String? {
        switch self {
        case .none: return nil
        case .other(let text): return text
        case .uuid(let high, let low):
            // Written straight into the string's storage (no table or byte array per call).
            return String(unsafeUninitializedCapacity: 36) { bytes in
                var count = 0
                for index in 0..<32 {
                    if index == 8 || index == 12 || index == 16 || index == 20 { bytes[count] = UInt8(ascii: "-"); count += 1 }
                    let half = index < 16 ? high : low
                    let nibble = UInt8(truncatingIfNeeded: half >> (60 - 4 * UInt64(index % 16))) & 0xf
                    bytes[count] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                    count += 1
                }
                return count
            }
        }
    }

    /// The 128 bits of a canonical lower-case UUID; nil for any other text.
    private static func parse(_ text: String) -> CompactUID? {
        var high: UInt64 = 0, low: UInt64 = 0
        var count = 0
        for (offset, byte) in text.utf8.enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let value: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            guard count < 32 else { return nil }
            if count < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
            count += 1
        }
        guard count == 32, text.utf8.count == 36 else { return nil }
        return .uuid(high: high, low: low)
    }
}
