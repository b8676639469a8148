import Foundation
import KubeModel
import Testing
@testable import KubeSim
@testable import KubeServerModel

/// Protobuf request bodies (kubectl ≥ 1.32 `create <generator>`), in process: real kubectl bodies
/// from Tests/Fixtures/kube-protobuf are decoded for every kind KubeSim serves (tables generated
/// from k8s.io/api); a kind without a table is answered 415 naming it.
@Suite struct SimProtobufTests {
    let sim: KubeSimServer
    init() throws { sim = try KubeSimServer() }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kube-protobuf")

    /// The fixture's body and the path kubectl posted it to (from its `# POST …` header line).
    static func fixture(_ name: String) throws -> (path: String, body: [UInt8]) {
        let text = try String(contentsOf: fixtures.appendingPathComponent(name + ".hex"), encoding: .utf8)
        var path = "", body: [UInt8] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# POST ") {
                path = String(line.split(separator: " ")[2])
            } else if !line.hasPrefix("#") {
                let digits = Array(line.filter { !$0.isWhitespace })
                for i in stride(from: 0, to: digits.count - 1, by: 2) { body.append(UInt8(String(digits[i...i + 1]), radix: 16)!) }
            }
        }
        return (path, body)
    }

    func send(_ method: String, _ uri: String, _ body: [UInt8], contentType: String = KubeProtobuf.mediaType) -> (Int, JSONValue) {
        let req = SimRequest(method: method, uri: uri, headers: ["content-type": contentType], body: body, user: "kubesim-admin")
        guard case .json(let code, let v, _) = sim.api.handle(req) else {
            Issue.record("no JSON answer")
            return (0, .null)
        }
        return (code, v)
    }

    @Test(arguments: ["service-loadbalancer-web", "service-clusterip-x", "service-nodeport-y", "service-externalname-z",
                      "service-clusterip-headless", "service-nodeport-named-target"])
    func kubectlServiceBodiesCreateServices(_ name: String) throws {
        let (uri, body) = try Self.fixture(name)
        #expect(uri.hasPrefix("/api/v1/namespaces/") && uri.contains("/services?fieldManager=kubectl-create"))
        let expected = try JSONValue.parse(try Data(contentsOf: Self.fixtures.appendingPathComponent(name + ".json")))
        let (code, created) = send("POST", uri, body)
        #expect(code == 201, "\(created)")
        let svcName = expected.value(atPath: "metadata.name")?.stringValue ?? ""
        let path = String(uri.split(separator: "?")[0]) + "/" + svcName
        let stored = sim.request("GET", path).body
        #expect(stored == created)
        #expect(stored.value(atPath: "metadata.labels") == expected.value(atPath: "metadata.labels"))
        #expect(stored.value(atPath: "metadata.uid") != nil && stored.value(atPath: "metadata.creationTimestamp")?.stringValue != nil)
        for key in ["type", "selector", "externalName"] {
            #expect(stored.value(atPath: "spec.\(key)") == expected.value(atPath: "spec.\(key)"), "spec.\(key)")
        }
        // Ports as sent; the server may add nodePorts (LoadBalancer, NodePort).
        let sent = expected.value(atPath: "spec.ports")?.arrayValue ?? []
        let got = stored.value(atPath: "spec.ports")?.arrayValue ?? []
        #expect(got.count == sent.count)
        for (g, s) in zip(got, sent) {
            for key in ["name", "protocol", "port", "targetPort"] { #expect(g[key] == s[key], "\(key)") }
            if let np = s["nodePort"] { #expect(g["nodePort"] == np) }
        }
        if expected.value(atPath: "spec.clusterIP") == "None" { #expect(stored.value(atPath: "spec.clusterIP") == "None") }
    }

    @Test func protobufUpdateReplacesTheSpec() throws {
        let (uri, body) = try Self.fixture("service-loadbalancer-web")
        let path = String(uri.split(separator: "?")[0])
        #expect(send("POST", uri, body).0 == 201)
        _ = sim.request("PATCH", path + "/web", body: ["spec": ["type": "ClusterIP"]], contentType: "application/merge-patch+json")
        // PUT with kubectl's body (no resourceVersion: an unconditional update, allowed for Services).
        let (code, updated) = send("PUT", path + "/web", body)
        #expect(code == 200, "\(updated)")
        #expect(sim.request("GET", path + "/web").body.value(atPath: "spec.type") == "LoadBalancer")
    }

    /// Every other generator's body creates its object, stored as the same object sent as JSON
    /// would be (kubectl's `--dry-run=client -o json` rendering, posted as JSON to a second KubeSim).
    @Test(arguments: ["namespace-foo", "configmap-cm", "configmap-config-from-file", "secret-generic-memberlist", "secret-basic-auth",
                      "deployment-web", "deployment-multi", "serviceaccount-speaker", "role-reader", "rolebinding-reader",
                      "clusterrole-reader", "clusterrolebinding-reader"])
    func kubectlBodiesOfEveryKindCreateTheirObjects(_ name: String) throws {
        let (uri, body) = try Self.fixture(name)
        #expect(uri.contains("fieldManager=kubectl-create"))
        let (code, created) = send("POST", uri, body)
        #expect(code == 201, "\(created)")
        let objectName = created.value(atPath: "metadata.name")?.stringValue ?? ""
        #expect(!objectName.isEmpty)
        let path = String(uri.split(separator: "?")[0]) + "/" + objectName
        #expect(sim.request("GET", path).body == created)

        let twin = try KubeSimServer()
        let json = try Data(contentsOf: Self.fixtures.appendingPathComponent(name + ".json"))
        let viaJSON = twin.api.handle(SimRequest(method: "POST", uri: uri, headers: ["content-type": "application/json"], body: Array(json), user: "kubesim-admin"))
        guard case .json(201, let expected, _) = viaJSON else {
            Issue.record("the JSON twin was not created: \(viaJSON)")
            return
        }
        // Server-set metadata differs; the JSON twin also carries the pod template's
        // `creationTimestamp: null`, which the protobuf decoder omits (docs/design/kubectl-protobuf.md).
        func comparable(_ v: JSONValue) -> JSONValue {
            var v = v
            for key in ["uid", "creationTimestamp", "resourceVersion"] { v.set(["metadata", key], nil) }
            if v.value(atPath: "spec.template.metadata.creationTimestamp") == .null { v.set(["spec", "template", "metadata", "creationTimestamp"], nil) }
            return v
        }
        #expect(comparable(created) == comparable(expected), "\(created.serialized())\n!=\n\(expected.serialized())")
    }

    @Test func aKindWithoutATableGets415NamingIt() throws {
        let raw: [UInt8] = [0x0a, 0x04, 0x0a, 0x02] + Array("pv".utf8)  // PersistentVolume{metadata{name "pv"}}
        let typeMeta: [UInt8] = [0x0a, 0x02] + Array("v1".utf8) + [0x12, 0x10] + Array("PersistentVolume".utf8)
        let body = KubeProtobuf.magic + [0x0a, UInt8(typeMeta.count)] + typeMeta + [0x12, UInt8(raw.count)] + raw
        let (code, status) = send("POST", "/api/v1/persistentvolumes", body)
        // KubeSim serves no PersistentVolumes: the path is unknown before the body matters.
        #expect(code == 404, "\(status)")
        let (onServices, why) = send("POST", "/api/v1/namespaces/default/services", body)
        #expect(onServices == 415 && why["reason"] == "UnsupportedMediaType")
        #expect(why["message"]?.stringValue?.contains("this one holds v1 PersistentVolume: send it as JSON") == true, "\(why)")
    }

    @Test func badProtobufIs400AndStoresNothing() throws {
        let (uri, body) = try Self.fixture("service-loadbalancer-web")
        let (code, status) = send("POST", uri, Array(body.dropLast(10)))
        #expect(code == 400 && status["reason"] == "BadRequest")
        #expect(status["message"]?.stringValue?.hasPrefix("error decoding protobuf request body: protobuf: truncated") == true, "\(status)")
        let noMagic = send("POST", uri, Array(body.dropFirst(4)))
        #expect(noMagic.0 == 400 && noMagic.1["message"]?.stringValue?.contains("badMagic") == true)
        // A Service body posted to another resource.
        let (wrong, wrongStatus) = send("POST", "/api/v1/namespaces/default/configmaps", body)
        #expect(wrong == 400 && wrongStatus["message"] == "the body holds v1 Service, not v1 ConfigMap as the request path says")
        #expect(sim.request("GET", "/api/v1/namespaces/default/services/web").status == 404)
        #expect(sim.request("GET", "/api/v1/namespaces/default/configmaps/web").status == 404)
    }

    @Test func yamlAndCBORStill415() throws {
        for ct in ["application/yaml", "application/cbor"] {
            let (code, status) = send("POST", "/api/v1/namespaces/default/services", Array("metadata: {name: a}".utf8), contentType: ct)
            #expect(code == 415)
            #expect(status["message"] == "the body of the request was in an unknown format - accepted media types include: application/json, application/vnd.kubernetes.protobuf")
        }
    }
}
