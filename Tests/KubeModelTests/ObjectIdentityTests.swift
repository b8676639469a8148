import Testing
@testable import KubeModel

/// Issue 18: a cached object's UID is held as 16 bytes when it is a canonical UUID; every other
/// text is kept as it came, and the text read back is always the text given.
@Suite struct ObjectIdentityTests {
    /// (UID text, held as 128 bits)
    @Test(arguments: [
        ("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", true),
        ("00000000-0000-0000-0000-000000000000", true),
        ("ffffffff-ffff-ffff-ffff-ffffffffffff", true),
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c8", true),
        ("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", false),  // upper case: not what the API server writes
        ("6ba7b8109dad11d180b400c04fd430c8", false),      // no dashes
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c", false),   // 35 characters
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c81", false), // 37 characters
        ("6ba7b810-9dad-11d1-80b4-00c04fd430cg", false),  // not hex
        ("6ba7b810a9dad-11d1-80b4-00c04fd430c8", false),  // a digit where a dash goes
        ("6ba7b810-9dad-11d1-80b4-00c04fd430é", false),  // 36 bytes, one character of two bytes
        ("", false),
        ("uid-1", false),
    ])
    func aUIDReadsBackAsWritten(text: String, compact: Bool) {
        var metadata = ObjectMeta(name: "web", namespace: "default")
        metadata.uid = text
        let identity = ObjectIdentity(metadata)
        #expect(identity.uid == text)
        #expect(identity.metadata.uid == text)
        if case .uuid = CompactUID(text) { #expect(compact) } else { #expect(!compact) }
        var changed = identity
        changed.uid = "other"
        #expect(changed.uid == "other" && changed != identity)
        changed.uid = text
        #expect(changed == identity)
    }

    @Test func noUIDIsNil() {
        let identity = ObjectIdentity(ObjectMeta(name: "web", namespace: "default"))
        #expect(identity.uid == nil)
        #expect(identity.metadata.uid == nil)
    }

    @Test func distinctUUIDsStayDistinct() {
        let texts = (0..<256).map { index in
            let hex = String(index, radix: 16)
            let byte = String(repeating: "0", count: 2 - hex.count) + hex
            return "\(byte)000000-0000-0000-0000-0000000000\(byte)"
        }
        let identities = texts.map { text -> ObjectIdentity in
            var metadata = ObjectMeta(name: "web")
            metadata.uid = text
            return ObjectIdentity(metadata)
        }
        #expect(Set(identities).count == 256)
        #expect(identities.map(\.uid) == texts)
    }
}
