import Foundation
import KubeModel
import Testing
@testable import KubeSim

/// CustomResourceDefinitions: a stored CRD serves its resource (discovery, CRUD, status where
/// declared) with structural-schema pruning, defaulting and validation. In-process (no HTTP).
@Suite struct SimCustomResourceTests {
    let sim: KubeSimServer
    init() throws { sim = try KubeSimServer() }

    static let crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    static let widgets = "/apis/example.com/v1/namespaces/default/widgets"

    /// `group`: tests that declare the same resource differently use their own group (KubeSim
    /// keeps custom resource behaviour per process, as installs of one manifest agree).
    static func definition(status: Bool = true, group: String = "example.com") -> JSONValue {
        let spec: JSONValue = [
            "type": "object",
            "required": ["size"],
            "properties": [
                "size": ["type": "integer", "minimum": 1, "maximum": 10],
                "color": ["type": "string", "default": "blue", "enum": ["blue", "red"]],
                "labels": ["type": "object", "additionalProperties": ["type": "string"]],
                "parts": ["type": "array", "items": ["type": "object", "properties": ["name": ["type": "string"]]]],
                "free": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
            ],
        ]
        var v1: [String: JSONValue] = [
            "name": "v1", "served": true, "storage": true,
            "schema": ["openAPIV3Schema": ["type": "object", "properties": [
                "apiVersion": ["type": "string"], "kind": ["type": "string"], "metadata": ["type": "object"], "spec": spec,
                "status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
            ]]],
        ]
        if status { v1["subresources"] = ["status": [:]] }
        return [
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": ["name": .string("widgets.\(group)")],
            "spec": ["group": .string(group), "scope": "Namespaced",
                     "names": ["kind": "Widget", "plural": "widgets", "singular": "widget", "shortNames": ["wd"]],
                     "versions": [.object(v1)]],
        ]
    }

    @Test func aDefinitionMakesItsResourceAppearInDiscoveryAndGoWhenDeleted() {
        #expect(sim.request("GET", "/apis/example.com/v1").status == 404)
        #expect(sim.request("GET", Self.widgets).status == 404)
        let created = sim.request("POST", Self.crdPath, body: Self.definition())
        #expect(created.status == 201, "\(created.body)")
        let conditions = created.body.value(atPath: "status.conditions")?.arrayValue?.compactMap { $0["type"]?.stringValue }
        #expect(conditions == ["NamesAccepted", "Established"])

        let list = sim.request("GET", "/apis/example.com/v1").body
        let names = list["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["widgets", "widgets/status"])
        #expect(list["resources"]?.arrayValue?.first?["shortNames"] == ["wd"])
        let groups = sim.request("GET", "/apis").body["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(groups.contains("example.com") && groups.contains("apiextensions.k8s.io"))
        #expect(sim.request("GET", Self.widgets).status == 200)

        #expect(sim.request("DELETE", Self.crdPath + "/widgets.example.com").status == 200)
        #expect(sim.request("GET", "/apis/example.com/v1").status == 404)
        let groupsAfter = sim.request("GET", "/apis").body["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(!groupsAfter.contains("example.com"), "\(groupsAfter)")
    }

    @Test func objectsArePrunedDefaultedAndValidated() {
        #expect(sim.request("POST", Self.crdPath, body: Self.definition()).status == 201)
        let body: JSONValue = [
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": "w"],
            "spec": ["size": 3, "unknown": "x", "labels": ["a": "b"], "parts": [["name": "p", "extra": 1]], "free": ["any": ["thing": 1]]],
            "extraTop": true,
        ]
        let created = sim.request("POST", Self.widgets, body: body)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.body["spec"] == ["size": 3, "color": "blue", "labels": ["a": "b"], "parts": [["name": "p"]], "free": ["any": ["thing": 1]]])
        #expect(created.body["extraTop"] == nil)
        #expect(created.body.value(atPath: "metadata.generation") == 1)

        let bad: JSONValue = ["metadata": ["name": "bad"], "spec": ["size": "big", "color": "green"]]
        let refused = sim.request("POST", Self.widgets, body: bad)
        #expect(refused.status == 422)
        let causes = refused.body.value(atPath: "details.causes")?.arrayValue?.compactMap { $0["field"]?.stringValue }
        #expect(causes == ["spec.color", "spec.size"], "\(refused.body)")
        let missing = sim.request("POST", Self.widgets, body: ["metadata": ["name": "m"], "spec": ["size": 11]])
        #expect(missing.status == 422, "\(missing.body)")
        let noSize = sim.request("POST", Self.widgets, body: ["metadata": ["name": "n"], "spec": ["color": "red"]])
        #expect(noSize.body.value(atPath: "details.causes")?.arrayValue?.first?["field"] == "spec.size", "\(noSize.body)")
    }

    @Test func getListPatchUpdateDeleteAndTheStatusSubresource() {
        #expect(sim.request("POST", Self.crdPath, body: Self.definition()).status == 201)
        let created = sim.request("POST", Self.widgets, body: ["metadata": ["name": "w"], "spec": ["size": 1], "status": ["ready": true]])
        #expect(created.status == 201)
        #expect(created.body["status"] == nil, "create wipes status")
        let items = sim.request("GET", "/apis/example.com/v1/widgets").body["items"]?.arrayValue ?? []
        #expect(items.count == 1)
        // Unlike built-in kinds, custom resources' list items carry kind and apiVersion.
        #expect(items.first?["kind"] == "Widget" && items.first?["apiVersion"] == "example.com/v1")
        let patched = sim.request("PATCH", Self.widgets + "/w", body: ["spec": ["size": 2], "status": ["ready": true]], contentType: "application/merge-patch+json")
        #expect(patched.body.value(atPath: "spec.size") == 2 && patched.body["status"] == nil && patched.body.value(atPath: "metadata.generation") == 2)
        let status = sim.request("PATCH", Self.widgets + "/w/status", body: ["status": ["ready": true], "spec": ["size": 5]], contentType: "application/merge-patch+json")
        #expect(status.body.value(atPath: "status.ready") == true && status.body.value(atPath: "spec.size") == 2)
        var replaced = status.body
        replaced.set(["spec", "size"], 4)
        let put = sim.request("PUT", Self.widgets + "/w", body: replaced)
        #expect(put.status == 200 && put.body.value(atPath: "spec.size") == 4 && put.body.value(atPath: "status.ready") == true)
        #expect(sim.request("DELETE", Self.widgets + "/w").status == 200)
        #expect(sim.request("GET", Self.widgets + "/w").status == 404)
    }

    @Test func withoutAStatusSubresourceStatusIsPartOfTheObject() {
        #expect(sim.request("POST", Self.crdPath, body: Self.definition(status: false, group: "example.org")).status == 201)
        let widgets = "/apis/example.org/v1/namespaces/default/widgets"
        let created = sim.request("POST", widgets, body: ["metadata": ["name": "w"], "spec": ["size": 1], "status": ["ready": true]])
        #expect(created.body.value(atPath: "status.ready") == true, "\(created.body)")
        #expect(sim.request("GET", widgets + "/w/status").status == 404)
    }

    @Test func aDefinitionWithoutAStructuralSchemaIsRefused() {
        var definition = Self.definition()
        definition.set(["spec", "versions"], [["name": "v1", "served": true, "storage": true,
                                                 "schema": ["openAPIV3Schema": ["type": "object", "properties": ["spec": ["properties": [:]]]]]]])
        let refused = sim.request("POST", Self.crdPath, body: definition)
        #expect(refused.status == 422, "\(refused.body)")
        var misnamed = Self.definition()
        misnamed.set(["metadata", "name"], "gadgets.example.com")
        #expect(sim.request("POST", Self.crdPath, body: misnamed).status == 422)
    }
}
