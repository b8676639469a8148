import Foundation
import NIOCore
import Testing
@testable import KubeModel
@testable import KubeServerModel

func fixture(_ name: String) throws -> [UInt8] {
    let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
    return Array(try Data(contentsOf: url))
}

@Suite struct JSONValueTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":"x\"y\\z\n","d":-2.5,"e":{}}"#,
        #"[]"#, #""\u00e9\ud83d\ude00""#, #"9223372036854775807"#, #"2.5e-3"#,
    ])
    func roundTrip(_ text: String) throws {
        let v = try JSONValue.parse(text)
        let again = try JSONValue.parse(v.serialized())
        #expect(v == again)
    }

    @Test func unicodeEscapes() throws {
        #expect(try JSONValue.parse(#""\u00e9\ud83d\ude00""#) == .string("é😀"))
    }

    @Test(arguments: [#"{"a":}"#, #"[1,]"#, #"{"a":1"#, "tru", #""\ud800""#, "01x", #"{"a":1} x"#, "\"a\u{01}\""])
    func malformedIsAnError(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let text = String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }
}

@Suite struct KubeTimeTests {
    @Test(arguments: [
        ("2025-03-01T10:00:00Z", 1_740_823_200, 0),
        ("2025-03-01T10:00:00.123456Z", 1_740_823_200, 123_456_000),
        ("2025-03-01T12:00:00+02:00", 1_740_823_200, 0),
        ("2025-03-01t10:00:00.5z", 1_740_823_200, 500_000_000),
        ("1970-01-01T00:00:00Z", 0, 0),
        ("2024-02-29T23:59:59.999999999Z", 1_709_251_199, 999_999_999),
    ])
    func parses(_ s: String, _ secs: Int64, _ nanos: Int32) throws {
        let t = try KubeTime(rfc3339: s)
        #expect(t.seconds == secs)
        #expect(t.nanoseconds == nanos)
    }

    @Test(arguments: ["2025-03-01", "2025-13-01T00:00:00Z", "2025-03-01T10:00:00", "2025-03-01T10:00:00.Z", "garbage"])
    func rejects(_ s: String) {
        #expect(throws: KubeTime.ParseError.self) { try KubeTime(rfc3339: s) }
    }

    @Test func formats() throws {
        let t = try KubeTime(rfc3339: "2025-03-01T10:00:00.1234567Z")
        #expect(t.format() == "2025-03-01T10:00:00Z")
        #expect(MicroTime(t).description == "2025-03-01T10:00:00.123456Z")
        #expect(MicroTime(KubeTime(seconds: 0)).description == "1970-01-01T00:00:00.000000Z")
    }
}

@Suite struct TypedModelTests {
    @Test func serviceDecodesAllFieldsAndPreservesUnknown() throws {
        let bytes = try fixture("service-lb.json")
        let svc = try JSONDecoder().decode(V1Service.self, from: Data(bytes))
        #expect(svc.spec?.type == "LoadBalancer")
        #expect(svc.spec?.ports?[0].targetPort == .string("http-web"))
        #expect(svc.spec?.ports?[1].targetPort == .int(5353))
        #expect(svc.spec?.ipFamilies == ["IPv4", "IPv6"])
        #expect(svc.spec?.loadBalancerClass == "ironlb.io/ironlb")
        #expect(svc.spec?.healthCheckNodePort == 32001)
        #expect(svc.status?.loadBalancer?.ingress?[0].ipMode == "VIP")
        #expect(svc.status?.conditions?[0].reason == "Allocated")
        #expect(svc.metadata.finalizers == ["service.kubernetes.io/load-balancer-cleanup"])

        // Read-modify-write keeps the unknown field and only changes what we changed.
        let raw = try JSONValue.parse(bytes)
        let baseline = try JSONValue.parse(Array(JSONEncoder().encode(svc)))
        var obj = PreservedObject(value: svc, raw: raw, baseline: baseline)
        obj.value.metadata.labels?["team"] = "net"
        obj.value.spec?.loadBalancerSourceRanges = nil
        let out = obj.merged(current: try JSONValue.parse(Array(JSONEncoder().encode(obj.value))))
        #expect(out.value(atPath: "spec.futureField") == ["x": 1])
        #expect(out.value(atPath: "metadata.labels.team") == "net")
        #expect(out.value(atPath: "spec.loadBalancerSourceRanges") == nil)
        #expect(out.value(atPath: "metadata.managedFields") == raw.value(atPath: "metadata.managedFields"))
    }

    @Test func leaseMicroTimeRoundTrip() throws {
        let bytes = try fixture("lease.json")
        let lease = try JSONDecoder().decode(V1Lease.self, from: Data(bytes))
        #expect(lease.spec?.acquireTime?.description == "2025-03-01T10:00:00.123456Z")
        let back = try JSONValue.parse(Array(JSONEncoder().encode(lease)))
        #expect(back.value(atPath: "spec.renewTime") == "2025-03-01T10:05:02.000001Z")
        #expect(back.value(atPath: "metadata.creationTimestamp") == "2025-03-01T10:00:00Z")
    }

    @Test func endpointSliceConditionsDefault() throws {
        let es = try JSONDecoder().decode(V1EndpointSlice.self, from: Data(try fixture("endpointslice.json")))
        #expect(es.endpoints?.count == 2)
        let c = es.endpoints![1].conditions!
        #expect(c.isReady && c.isServing && !c.isTerminating)
        #expect(es.metadata.ownerReferences?.first?.controller == true)
    }

    @Test func listWithNullItemsAndMissingKinds() throws {
        let l = try JSONDecoder().decode(KubeList<V1Service>.self, from: Data(#"{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":null}"#.utf8))
        #expect(l.items.isEmpty)
        #expect(l.metadata.resourceVersion == "5")
    }

    @Test func watchStreamFixtureFramesAndDecodes() throws {
        let bytes = try fixture("watch-stream.txt")
        var framer = JSONStreamFramer()
        // Drip-feed one byte at a time.
        var events: [WatchEvent<V1Service>] = []
        for b in bytes {
            framer.append([b])
            while let obj = try framer.next() {
                events.append(try JSONDecoder().decode(WatchEvent<V1Service>.self, from: Data(obj.readableBytesView)))
            }
        }
        #expect(events.count == 5)
        guard case .modified(let m) = events[1] else { Issue.record("not modified"); return }
        #expect(m.metadata.labels?["x"] == "y \"quoted\" }{")
        guard case .bookmark(let b) = events[2] else { Issue.record("not bookmark"); return }
        #expect(b.metadata.resourceVersion == "15")
        guard case .error(let s) = events[4] else { Issue.record("not error"); return }
        #expect(s.code == 410 && s.reason == "Expired")
    }

    @Test func secretDataIsBase64() throws {
        let s = V1Secret(metadata: ObjectMeta(name: "s"), data: ["k": Array("hello".utf8)])
        #expect(s.data?["k"] == "aGVsbG8=")
        #expect(s.decoded("k") == Array("hello".utf8))
    }
}

@Suite struct FramerTests {
    @Test func severalObjectsPerReadAndLargeObjects() throws {
        let big = String(repeating: "x", count: 1 << 20)
        let text = #"{"a":1}{"b":"}{"}"# + "\n" + #"{"big":""# + big + #""}"# + "\n"
        var framer = JSONStreamFramer()
        var out: [ByteBuffer] = []
        // Feed in irregular chunks.
        let bytes = Array(text.utf8)
        var i = 0
        var size = 1
        while i < bytes.count {
            let n = min(size, bytes.count - i)
            framer.append(bytes[i..<(i + n)])
            while let o = try framer.next() { out.append(o) }
            i += n
            size = size * 3 % 65_537 + 1
        }
        #expect(out.count == 3)
        #expect(out[2].readableBytes == (1 << 20) + 10)
        #expect(framer.pendingBytes == 0)
    }

    @Test func garbageIsAnError() {
        var framer = JSONStreamFramer()
        framer.append(Array("xyz".utf8))
        #expect(throws: JSONStreamFramer.Error.self) { try framer.next() }
    }
}

@Suite struct PatchTests {
    let doc: JSONValue = ["metadata": ["name": "a", "resourceVersion": "5", "finalizers": ["f1"]],
                          "spec": ["ports": [["port": 80, "name": "http"], ["port": 443, "name": "https"]], "type": "ClusterIP"]]

    @Test func mergePatchRFC7386() {
        let p: JSONValue = ["spec": ["type": "LoadBalancer", "ports": .null], "metadata": ["labels": ["a": "b"]]]
        let out = JSONMergePatch.apply(p, to: doc)
        #expect(out.value(atPath: "spec.type") == "LoadBalancer")
        #expect(out.value(atPath: "spec.ports") == nil)
        #expect(out.value(atPath: "metadata.labels.a") == "b")
        #expect(JSONMergePatch.diff(from: doc, to: out).map { JSONMergePatch.apply($0, to: doc) } == out)
        #expect(JSONMergePatch.diff(from: doc, to: doc) == nil)
    }

    @Test func jsonPatchWithTestPrecondition() throws {
        let ok: JSONValue = [["op": "test", "path": "/metadata/resourceVersion", "value": "5"],
                             ["op": "add", "path": "/metadata/finalizers/-", "value": "f2"],
                             ["op": "replace", "path": "/spec/type", "value": "NodePort"],
                             ["op": "add", "path": "/metadata/annotations", "value": ["a~b/c": "1"]],
                             ["op": "remove", "path": "/metadata/annotations/a~0b~1c"]]
        let out = try JSONPatch.apply(ok, to: doc)
        #expect(out.value(atPath: "metadata.finalizers") == ["f1", "f2"])
        #expect(out.value(atPath: "spec.type") == "NodePort")
        #expect(out.value(atPath: "metadata.annotations") == [:])
        let stale: JSONValue = [["op": "test", "path": "/metadata/resourceVersion", "value": "4"]]
        #expect(throws: PatchError.self) { try JSONPatch.apply(stale, to: doc) }
        #expect(throws: PatchError.self) { try JSONPatch.apply([["op": "remove", "path": "/nope"]], to: doc) }
    }

    @Test func strategicMergeByKeyAndDirectives() throws {
        let p: JSONValue = ["metadata": ["finalizers": ["f2"]],
                            "spec": ["ports": [["port": 443, "name": "tls"], ["port": 8080, "name": "alt"]],
                                     "$setElementOrder/ports": [["port": 8080], ["port": 80], ["port": 443]]]]
        let out = try StrategicMergePatch.apply(p, to: doc)
        #expect(out.value(atPath: "metadata.finalizers") == ["f1", "f2"])
        let ports = out.value(atPath: "spec.ports")?.arrayValue ?? []
        #expect(ports.map { $0["port"] } == [8080, 80, 443])
        #expect(ports[2]["name"] == "tls")
        let del: JSONValue = ["spec": ["ports": [["port": 80, "$patch": "delete"]]], "$deleteFromPrimitiveList/metadata": [] as JSONValue]
        let out2 = try StrategicMergePatch.apply(del, to: doc)
        #expect(out2.value(atPath: "spec.ports")?.arrayValue?.count == 1)
        let ingressReplace: JSONValue = ["status": ["loadBalancer": ["ingress": [["ip": "203.0.113.1"]]]]]
        let withStatus = try StrategicMergePatch.apply(ingressReplace, to: ["status": ["loadBalancer": ["ingress": [["ip": "203.0.113.9"], ["ip": "203.0.113.8"]]]]])
        #expect(withStatus.value(atPath: "status.loadBalancer.ingress") == [["ip": "203.0.113.1"]])
    }
}

@Suite struct SelectorTests {
    @Test(arguments: [
        ("app=web", ["app": "web"], true),
        ("app==web,tier!=db", ["app": "web", "tier": "fe"], true),
        ("app in (web, api)", ["app": "api"], true),
        ("app notin (web)", ["app": "web"], false),
        ("app notin (web)", [:], true),
        ("kubernetes.io/service-name=web", ["kubernetes.io/service-name": "web"], true),
        ("!exclude,app", ["app": "x"], true),
        ("!exclude", ["exclude": ""], false),
        ("", ["any": "x"], true),
        ("tier!=db", [:], true),
        ("app in (web,api),!legacy", ["app": "web", "legacy": "1"], false),
    ] as [(String, [String: String], Bool)])
    func labelSelector(_ s: String, _ labels: [String: String], _ expected: Bool) throws {
        #expect(try LabelSelector(parsing: s).matches(labels) == expected)
    }

    @Test func badSelectorsAreErrors() throws {
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: "a b c") }
        // The one label key/value rule (LabelSelector.problem(withKey:/withValue:)), as kube-apiserver's.
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: "a/b/c=x") }
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: String(repeating: "k", count: 64) + "=x") }
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: "Example.COM/app=x") }
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: "app=-web") }
        #expect(try LabelSelector(parsing: "example.com/app=x") == LabelSelector(matchExpressions: [.init(key: "example.com/app", operator: .in, values: ["x"])]))
        #expect(throws: SelectorError.self) { try FieldSelector(parsing: "nonsense") }
    }

    @Test func fieldSelector() throws {
        let f = try FieldSelector(parsing: "metadata.name=a,spec.type!=ClusterIP")
        #expect(f.matches { ["metadata.name": "a", "spec.type": "LoadBalancer"][$0] })
        #expect(!f.matches { ["metadata.name": "a", "spec.type": "ClusterIP"][$0] })
    }
}

@Suite struct BackoffTests {
    @Test func doublesToCapWithJitterAndResets() {
        var b = Backoff()
        let waits = (0..<8).map { i in b.next(random: 0, now: .seconds(i)) }
        #expect(waits == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400), .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30)])
        #expect(b.next(random: 0.5, now: .seconds(9)) == .seconds(45))
        #expect(b.next(random: 0, now: .seconds(200)) == .milliseconds(800))
    }
}

@Suite struct MalformedCorpusTests {
    /// Random and mutated inputs never crash the parser or the framer (errors are values).
    @Test(arguments: [1 as UInt64, 2, 3])
    func randomBytesAreErrorsNotCrashes(_ seed: UInt64) throws {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            return z ^ (z >> 27)
        }
        let base = Array(try fixture("service-lb.json"))
        var parsedOK = 0
        for _ in 0..<300 {
            var b = base
            for _ in 0..<Int(next() % 8 + 1) {
                let i = Int(next() % UInt64(b.count))
                switch next() % 3 {
                case 0: b[i] = UInt8(truncatingIfNeeded: next())
                case 1: b.remove(at: i)
                default: b.insert(UInt8(ascii: "{"), at: i)
                }
            }
            if (try? JSONValue.parse(b)) != nil { parsedOK += 1 }
            var framer = JSONStreamFramer(maxObjectSize: 1 << 16)
            framer.append(b)
            while let _ = try? framer.next() {}
            _ = try? JSONDecoder().decode(V1Service.self, from: Data(b))
        }
        #expect(parsedOK < 300)  // mutations do break the document
    }
}
