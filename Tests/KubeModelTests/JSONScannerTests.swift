import Foundation
import NIOCore
import Testing
@testable import KubeModel

/// `JSONScanner`: reads chosen members, skips the rest checking their syntax, and never accepts
/// a text the grammar rejects (docs/design/scale.md, "Fourth pass").
@Suite struct JSONScannerTests {
    /// Skips the whole text; the error code, or nil when it is accepted.
    static func skipOutcome(_ bytes: [UInt8]) -> String? {
        do throws(JSONParseError) {
            try JSONScanner.scan(bytes) { (scanner) throws(JSONParseError) in try scanner.skip() }
            return nil
        } catch {
            return error.code
        }
    }

    @Test(arguments: [
        "0", "-0", "12", "-3.25", "1e5", "1E+2", "2.5e-3", "0.0", "true", "false", "null", "\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\u20AC\\ud83d\\ude00\"", "\"é€😀\"", "[]", "{}", " [ 1 , [ ] , { } , \"x\" ] ", "{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":-1.5e3}",
        "\t\r\n{\"k\" : [true,false,null]}\n", "{\"\\u006b\":1}", "[[[[[[[[[[]]]]]]]]]]",
    ])
    func validTextsAreSkipped(_ text: String) {
        #expect(Self.skipOutcome(Array(text.utf8)) == nil, "\(text)")
        // The grammar is JSONValue.parse's.
        #expect((try? JSONValue.parse(text)) != nil, "\(text)")
    }

    @Test(arguments: [
        ("", "unexpected_end"), ("{", "unexpected_end"), ("[1,", "unexpected_end"), ("{\"a\"", "expected_colon"), ("{\"a\":}", "bad_number"),
        ("{a:1}", "expected_key"), ("[1 2]", "expected_comma_or_bracket"), ("{\"a\":1 \"b\":2}", "expected_comma_or_brace"), ("[1,]", "bad_number"),
        ("{\"a\":1,}", "expected_key"), ("01", "bad_number"), ("-", "bad_number"), ("1.", "bad_number"), ("1e", "bad_number"), (".5", "bad_number"),
        ("tru", "unexpected_end"), ("nul!", "bad_literal"), ("\"abc", "unexpected_end"), ("\"a\u{1}b\"", "control_in_string"),
        ("\"\\x\"", "bad_escape"), ("\"\\u12G4\"", "bad_escape"), ("\"\\ud83d\"", "lone_surrogate"), ("\"\\ude00\"", "lone_surrogate"),
        ("\"\\ud83d\\u0041\"", "lone_surrogate"), ("[1]]", "trailing_data"), ("{} {}", "trailing_data"), ("[}", "bad_number"), ("{]", "expected_key"),
        ("[1}", "expected_comma_or_bracket"), ("{\"a\":1]", "expected_comma_or_brace"),
    ])
    func malformedTextsAreErrors(_ text: String, _ code: String) {
        #expect(Self.skipOutcome(Array(text.utf8)) == code, "\(text)")
    }

    @Test func invalidUTF8IsAnErrorWhereverItIs() {
        for text: [UInt8] in [[34, 0xFF, 34], [34, 0xC3, 34], [91, 34, 0xED, 0xA0, 0x80, 34, 93], [123, 34, 0xFE, 34, 58, 49, 125]] {
            #expect(Self.skipOutcome(text) == "invalid_utf8", "\(text)")
        }
    }

    @Test func nestingIsBoundedAsTheParsersIs() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(Self.skipOutcome(Array(deep.utf8)) == "too_deep")
        let fits = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(Self.skipOutcome(Array(fits.utf8)) == nil)
    }

    /// Every kept input of the Kubernetes JSON fuzzer and every prefix of the fixtures: the
    /// scanner accepts only what `JSONValue.parse` accepts, and rejects what it accepts only for
    /// what the parser is lenient about (leading zeros, invalid UTF-8).
    /// (Async and yielding, as SpeakerObjectsScanningTests' mutations: docs/design/test-waits.md.)
    @Test func theScannerAgreesWithTheParserOnTheCorpusAndOnPrefixes() async throws {
        var inputs: [[UInt8]] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: JSONFuzzCorpusTests.directory.path).sorted() {
            inputs.append(Array(try Data(contentsOf: JSONFuzzCorpusTests.directory.appendingPathComponent(file))))
        }
        for name in ["endpointslice.json", "lease.json", "service-lb.json"] {
            let bytes = try fixture(name)
            inputs.append(bytes)
            for end in stride(from: 0, to: bytes.count, by: 7) { inputs.append(Array(bytes[..<end])) }
        }
        var accepted = 0
        for bytes in inputs {
            await Task.yield()
            let parsed = (try? JSONValue.parse(bytes)) != nil
            switch Self.skipOutcome(bytes) {
            case nil:
                accepted += 1
                #expect(parsed, "the scanner accepted \(bytes)")
            case let code?:
                #expect(!parsed || code == "bad_number" || code == "invalid_utf8", "\(code): \(bytes)")
            }
        }
        #expect(accepted > 3 && accepted < inputs.count)
    }

    /// A projection for the tests: the identity and one string member.
    struct Named: Equatable {
        var identity: ObjectIdentity
        var note: String?

        static func read(_ scanner: inout JSONScanner) throws(JSONParseError) -> Named {
            var named = Named(identity: ObjectIdentity(ObjectMeta()), note: nil)
            let present = try scanner.members { (scanner, key) throws(JSONParseError) in
                if key == "metadata" {
                    named.identity = try ObjectIdentity(scanning: &scanner, labels: ["keep"])
                } else if key == "note" {
                    named.note = try scanner.string()
                } else {
                    try scanner.skip()
                }
            }
            guard present else { throw scanner.error("type_mismatch") }
            return named
        }
    }

    static func event(_ text: String) throws(JSONParseError) -> WatchEvent<String>? {
        try WatchEvent<String>.scan(ByteBuffer(string: text)) { (scanner) throws(JSONParseError) in
            let named = try Named.read(&scanner)
            return "\(named.identity.namespace ?? "-")/\(named.identity.name ?? "-")/\(named.identity.resourceVersion ?? "-")/\(named.note ?? "-")/\(named.identity.labels ?? [:])"
        }
    }

    @Test func watchEventsAreReadInEitherMemberOrder() throws {
        let object = #"{"metadata":{"name":"a","namespace":"n","resourceVersion":"7","labels":{"keep":"yes","drop":"no"},"annotations":{"x":"y"}},"note":"\u00e9","spec":{"deep":[1,2,{"x":null}]}}"#
        let expected = "n/a/7/é/[\"keep\": \"yes\"]"
        guard case .added(let first)? = try Self.event(#"{"type":"ADDED","object":"# + object + "}") else { Issue.record("not added"); return }
        #expect(first == expected)
        guard case .modified(let second)? = try Self.event(#"{"object":"# + object + #","type":"MODIFIED"}"#) else { Issue.record("not modified"); return }
        #expect(second == expected)
        guard case .deleted(let third)? = try Self.event(#" { "type" : "DELETED" , "extra" : [ ] , "object" : "# + object + " } ") else { Issue.record("not deleted"); return }
        #expect(third == expected)
    }

    @Test func otherEventTypesAreLeftToTheDecoder() throws {
        #expect(try Self.event(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}"#) == nil)
        #expect(try Self.event(#"{"type":"ERROR","object":{"kind":"Status","code":410}}"#) == nil)
        #expect(try Self.event(#"{"object":{"kind":"Status","code":410},"type":"ERROR"}"#) == nil)
        #expect(try Self.event(#"{"type":"SOMETHING","object":{}}"#) == nil)
    }

    @Test(arguments: [
        (#"{"object":{}}"#, "missing_type"), (#"{"type":null,"object":{}}"#, "missing_type"), (#"{"type":"ADDED"}"#, "missing_object"),
        (#"{"type":"ADDED","object":null}"#, "missing_object"), (#"{"type":7,"object":{}}"#, "type_mismatch"), (#"{"type":"ADDED","object":[]}"#, "type_mismatch"),
        (#"{"type":"ADDED","object":{"note":5}}"#, "type_mismatch"), (#"{"type":"ADDED","object":{"metadata":{"name":1}}}"#, "type_mismatch"),
        (#"{"type":"ADDED","object":{"metadata":{"labels":{"keep":1}}}}"#, "type_mismatch"),
        (#"{"type":"ADDED","object":{"metadata":{"deletionTimestamp":"yesterday"}}}"#, "bad_time"), (#"[]"#, "type_mismatch"),
        (#"{"type":"ADDED","object":{}} x"#, "trailing_data"), (#"{"type":"ADDED","object":{"spec":[1,}}"#, "bad_number"),
        (#"{"object":{"spec":{"#, "unexpected_end"),
    ])
    func malformedWatchEventsAreErrors(_ text: String, _ code: String) {
        do throws(JSONParseError) {
            _ = try Self.event(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == code, "\(text)")
        }
    }

    @Test func theIdentityIsWhatObjectMetaIdentityFromDecodes() throws {
        let text = #"{"name":"a\"b","namespace":"n","uid":"u","resourceVersion":"12","deletionTimestamp":"2026-01-02T03:04:05Z","generation":3,"labels":{"keep":"1","other":"2"},"managedFields":[{"a":{}}]}"#
        let scanned = try JSONScanner.scan(Array(text.utf8)) { (scanner) throws(JSONParseError) in try ObjectIdentity(scanning: &scanner, labels: ["keep"]) }
        #expect(scanned.name == "a\"b" && scanned.namespace == "n" && scanned.uid == "u" && scanned.resourceVersion == "12")
        #expect(scanned.deletionTimestamp == (try KubeTime(rfc3339: "2026-01-02T03:04:05Z")))
        #expect(scanned.labels == ["keep": "1"])
        let unlabeled = try JSONScanner.scan(Array(#"{"labels":{"other":"2"}}"#.utf8)) { (scanner) throws(JSONParseError) in try ObjectIdentity(scanning: &scanner, labels: ["keep"]) }
        #expect(unlabeled.labels == nil)
        let null = try JSONScanner.scan(Array("null".utf8)) { (scanner) throws(JSONParseError) in try ObjectIdentity(scanning: &scanner) }
        #expect(null == ObjectIdentity(ObjectMeta()))
    }
}
