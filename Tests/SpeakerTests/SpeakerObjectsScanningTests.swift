import Foundation
import KubeModel
import NIOCore
import Testing
@testable import Speaker

/// The speaker's projections read from watch events by `JSONScanner` (docs/design/scale.md,
/// "Fourth pass") give what `JSONDecoder` gives: the same value for every text both accept,
/// and an error where it fails.
@Suite struct SpeakerObjectsScanningTests {
    static func scanned<T: KubeResource>(_ type: T.Type, _ bytes: [UInt8]) -> Result<T, JSONParseError> {
        Result { () throws(JSONParseError) in try JSONScanner.scan(bytes) { (scanner) throws(JSONParseError) in try T.scanning!(&scanner) } }
    }

    static func decoded<T: KubeResource>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        try? JSONDecoder().decode(T.self, from: Data(bytes))
    }

    /// Both accept with the same value, or both reject.
    static func expectAgreement<T: KubeResource & Equatable>(_ type: T.Type, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let bytes = Array(text.utf8)
        switch (scanned(T.self, bytes), decoded(T.self, bytes)) {
        case (.success(let scanned), let decoded?):
            #expect(scanned == decoded, "\(text)", sourceLocation: sourceLocation)
        case (.failure, nil):
            break
        case (.success(let scanned), nil):
            Issue.record("only the scanner accepted \(text): \(scanned)", sourceLocation: sourceLocation)
        case (.failure(let error), let decoded?):
            Issue.record("only JSONDecoder accepted \(text) (\(error)): \(decoded)", sourceLocation: sourceLocation)
        }
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("KubeModelTests/Fixtures")

    @Test func theFixturesAndTheProjectionTestsTextsReadTheSame() throws {
        for text in [SpeakerObjectsTests.service, String(decoding: try Data(contentsOf: Self.fixtures.appendingPathComponent("service-lb.json")), as: UTF8.self)] {
            Self.expectAgreement(SpeakerServiceObject.self, text)
            guard case .success(let service) = Self.scanned(SpeakerServiceObject.self, Array(text.utf8)) else { Issue.record("not read"); continue }
            #expect(service.type == "LoadBalancer" && !service.ingressIPs.isEmpty)
        }
        let slice = String(decoding: try Data(contentsOf: Self.fixtures.appendingPathComponent("endpointslice.json")), as: UTF8.self)
        Self.expectAgreement(SpeakerEndpointSlice.self, slice)
        guard case .success(let read) = Self.scanned(SpeakerEndpointSlice.self, Array(slice.utf8)) else { Issue.record("not read"); return }
        #expect(!read.endpoints.isEmpty && read.metadata.labels?[SpeakerEndpointSlice.serviceLabel] != nil)
    }

    @Test(arguments: [
        // Fields present, absent and null at every level.
        #"{}"#, #"{"metadata":null,"spec":null,"status":null}"#, #"{"metadata":{},"spec":{},"status":{}}"#,
        #"{"status":{"loadBalancer":null}}"#, #"{"status":{"loadBalancer":{}}}"#, #"{"status":{"loadBalancer":{"ingress":null}}}"#,
        #"{"status":{"loadBalancer":{"ingress":[]}}}"#, #"{"status":{"loadBalancer":{"ingress":[{},{"ip":null},{"ip":"2001:db8::1","ports":[{"port":80}]}]}}}"#,
        #"{"spec":{"type":null,"loadBalancerClass":null,"externalTrafficPolicy":null}}"#,
        #"{"metadata":{"name":"a","namespace":"b","uid":null,"resourceVersion":"1","deletionTimestamp":null,"labels":{"x":"y"}}}"#,
        #"{"metadata":{"deletionTimestamp":"2026-01-02T03:04:05.123456Z","labels":null}}"#,
        // Escapes and unicode in values and keys, numbers and unknown members of every kind.
        #"{"metadata":{"name":"w\u00e9b\ud83d\ude00","namespace":"\u0073hop\/x\n"},"spec":{"t\u0079pe":"LoadBalancer"}}"#,
        #"{"metadata":{"name":"wéb😀"},"spec":{"type":"LoadBalancer","ports":[{"port":80,"w":1.5e3,"n":-0.25,"z":0,"b":true,"f":false,"x":null}]}}"#,
        #"  {"kind":"Service","apiVersion":"v1","extra":{"a":[[[{}]]],"b":"\\\""},"spec":{"externalTrafficPolicy":"Local"}}  "#,
        // Wrong types where JSONDecoder fails.
        #"{"spec":"x"}"#, #"{"spec":{"type":5}}"#, #"{"spec":{"type":true}}"#, #"{"metadata":[]}"#, #"{"metadata":{"name":{}}}"#,
        #"{"status":{"loadBalancer":{"ingress":{}}}}"#, #"{"status":{"loadBalancer":{"ingress":[null]}}}"#, #"{"status":{"loadBalancer":{"ingress":["x"]}}}"#,
        #"{"status":{"loadBalancer":{"ingress":[{"ip":1}]}}}"#, #"{"status":{"loadBalancer":[]}}"#, #"{"status":7}"#, #"null"#, #"[]"#, #""x""#,
        #"{"metadata":{"deletionTimestamp":"soon"}}"#, #"{"metadata":{"deletionTimestamp":3}}"#,
        // Malformed anywhere, read or skipped.
        #"{"spec":{"type":"LoadBalancer"}"#, #"{"spec":{"type":"Load"#, #"{"spec" {}}"#, #"{"spec":{}} {}"#, #"{"a":tru}"#, "",
    ])
    func servicesReadAsJSONDecoderDecodesThem(_ text: String) {
        Self.expectAgreement(SpeakerServiceObject.self, text)
    }

    @Test(arguments: [
        #"{}"#, #"{"metadata":null,"endpoints":null}"#, #"{"endpoints":[]}"#, #"{"endpoints":[{}]}"#,
        #"{"metadata":{"labels":{"kubernetes.io/service-name":"web","other":"x"}},"endpoints":[{"conditions":null,"nodeName":null}]}"#,
        #"{"metadata":{"labels":{"other":"x"}},"endpoints":[{"conditions":{},"nodeName":"n1"},{"conditions":{"ready":null,"serving":false,"terminating":true,"x":1}}]}"#,
        #"{"endpoints":[{"addresses":["2001:db8::1"],"conditions":{"ready":true},"nodeName":"n\u00f6de","targetRef":{"kind":"Pod"}}],"ports":[{"port":8080}]}"#,
        // Wrong types and malformed text.
        #"{"metadata":{"labels":{"kubernetes.io/service-name":5}}}"#, #"{"metadata":{"labels":{"kubernetes.io/service-name":null}}}"#,
        #"{"metadata":{"labels":[]}}"#, #"{"endpoints":{}}"#, #"{"endpoints":[null]}"#, #"{"endpoints":[1]}"#, #"{"endpoints":[{"conditions":[]}]}"#,
        #"{"endpoints":[{"conditions":{"ready":"yes"}}]}"#, #"{"endpoints":[{"conditions":{"ready":1}}]}"#, #"{"endpoints":[{"nodeName":false}]}"#,
        #"{"endpoints":[{"nodeName":"a"}"#, #"null"#,
    ])
    func endpointSlicesReadAsJSONDecoderDecodesThem(_ text: String) {
        Self.expectAgreement(SpeakerEndpointSlice.self, text)
    }

    /// Malformed JSON (RFC 8259) that Foundation's `JSONDecoder` lets through (trailing commas
    /// anywhere, leading zeros, bad escapes and lone surrogates in strings it skips) is an error
    /// to the scanner, as to Go's encoding/json (MetalLB) and the API server, which never send it.
    @Test(arguments: [
        (#"{"spec":{"type":"LoadBalancer"},"ports":[1,]}"#, "bad_number"), (#"{"spec":{"type":"LoadBalancer",}}"#, "expected_key"),
        (#"{"a":01}"#, "bad_number"), (#"{"a":"\x"}"#, "bad_escape"), (#"{"a":"\ud800"}"#, "lone_surrogate"),
        (#"{"endpoints":[{"nodeName":"a"},]}"#, "type_mismatch"),
    ])
    func malformedTextsJSONDecoderToleratesAreErrors(_ text: String, _ code: String) {
        let service = Self.scanned(SpeakerServiceObject.self, Array(text.utf8))
        let slice = Self.scanned(SpeakerEndpointSlice.self, Array(text.utf8))
        #expect(Self.decoded(SpeakerServiceObject.self, Array(text.utf8)) != nil, "JSONDecoder tolerates it (else it belongs in the agreement tables)")
        guard case .failure(let serviceError) = service, case .failure(let sliceError) = slice else {
            Issue.record("the scanner accepted \(text)")
            return
        }
        #expect(serviceError.code == code || sliceError.code == code, "\(text): \(serviceError) \(sliceError)")
    }

    /// Every byte of a real Service changed in turn to bytes that break JSON in different ways:
    /// the scanner never traps, accepts only JSON, and reads what JSONDecoder reads where both accept.
    /// (Async and yielding: thousands of decodes must not hold a thread of the shared pool that
    /// the parallel tests' waits need; docs/design/test-waits.md.)
    @Test func mutatedServicesNeverCrashAndNeverReadDifferently() async {
        let original = Array(SpeakerObjectsTests.service.utf8)
        var bothAccepted = 0
        for index in original.indices {
            await Task.yield()
            for replacement: UInt8 in [UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: ","), UInt8(ascii: "0"), 0x00, 0xFF] where original[index] != replacement {
                var bytes = original
                bytes[index] = replacement
                guard case .success(let scanned) = Self.scanned(SpeakerServiceObject.self, bytes) else { continue }
                #expect((try? JSONValue.parse(bytes)) != nil, "accepted a text that is not JSON: \(index) \(replacement)")
                if let decoded = Self.decoded(SpeakerServiceObject.self, bytes) {
                    bothAccepted += 1
                    #expect(scanned == decoded, "byte \(index) = \(replacement)")
                }
            }
        }
        #expect(bothAccepted > 0)
    }

    /// A watch stream's events through the scanning path give what the decoder gives.
    @Test func watchEventsReadAsTheDecoderReadsThem() throws {
        let object = SpeakerObjectsTests.service
        for type in ["ADDED", "MODIFIED", "DELETED"] {
            for text in [#"{"type":"\#(type)","object":\#(object)}"#, #"{"object":\#(object),"type":"\#(type)"}"#] {
                let scanned = try WatchEvent<SpeakerServiceObject>.scan(ByteBuffer(string: text), object: SpeakerServiceObject.scanning!)
                let decoded = try JSONDecoder().decode(WatchEvent<SpeakerServiceObject>.self, from: Data(text.utf8))
                switch (scanned, decoded) {
                case (.added(let left)?, .added(let right)), (.modified(let left)?, .modified(let right)), (.deleted(let left)?, .deleted(let right)):
                    #expect(left == right)
                default:
                    Issue.record("different events for \(type)")
                }
            }
        }
    }
}
