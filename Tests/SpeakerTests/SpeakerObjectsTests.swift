import Foundation
import KubeModel
import Testing
@testable import Speaker

/// Issue 18: the speaker decodes only the fields it reads of each watched object.
@Suite struct SpeakerObjectsTests {
    static let service = """
    {"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"shop","uid":"u-1","resourceVersion":"42",
     "labels":{"app":"web"},"annotations":{"ironlb.io/announced-by":"node1","kubectl.kubernetes.io/last-applied-configuration":"{...}"},
     "managedFields":[{"manager":"kubectl","operation":"Update","fieldsV1":{"f:spec":{}}}]},
     "spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":31000}],"selector":{"app":"web"},
      "clusterIP":"10.96.0.10","type":"LoadBalancer","externalTrafficPolicy":"Local","loadBalancerClass":"ironlb.io/class",
      "ipFamilies":["IPv4"]},
     "status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.5","ipMode":"VIP"},{"hostname":"lb.example"},{"ip":"2001:db8::5"}]}}}
    """

    @Test func aServiceKeepsItsIdentityClassPolicyAndIngressIPsOnly() throws {
        let object = try JSONDecoder().decode(SpeakerServiceObject.self, from: Data(Self.service.utf8))
        #expect(object.key == "shop/web")
        #expect(object.metadata.uid == "u-1")
        #expect(object.metadata.resourceVersion == "42")
        #expect(object.metadata.annotations == nil && object.metadata.labels == nil && object.metadata.managedFields == nil)
        #expect(object.type == "LoadBalancer")
        #expect(object.loadBalancerClass == "ironlb.io/class")
        #expect(object.externalTrafficPolicy == "Local")
        #expect(object.ingressIPs == ["203.0.113.5", "2001:db8::5"])
        // What it writes back (tests, debugging) reads the same.
        #expect(try JSONDecoder().decode(SpeakerServiceObject.self, from: JSONEncoder().encode(object)) == object)
    }

    /// Where an array's elements or a (native, heap) string's bytes are: the same for two values
    /// exactly when they share storage.
    static func storage<T>(_ array: [T]) -> UnsafeRawPointer? { array.withUnsafeBufferPointer { $0.baseAddress.map(UnsafeRawPointer.init) } }
    static func storage(_ string: String) -> UnsafeRawPointer? { string.utf8.withContiguousStorageIfAvailable { $0.baseAddress.map(UnsafeRawPointer.init) } ?? nil }

    /// Issue 18: what the speaker's informers keep of an update shares the storage of the unchanged
    /// names and IPs with the object it replaces (which the plan's view was built from), and a
    /// slice's endpoints are not kept.
    @Test func whatTheInformersKeepSharesTheUnchangedPartsOfTheObjectItReplaces() throws {
        func service(_ annotation: String, ip: String) -> String {
            #"{"metadata":{"name":"a-service-name-longer-than-15","namespace":"a-namespace-longer-than-15","resourceVersion":"\#(annotation)","annotations":{"x":"\#(annotation)"}},"spec":{"type":"LoadBalancer"},"status":{"loadBalancer":{"ingress":[{"ip":"\#(ip)"}]}}}"#
        }
        let first = try JSONDecoder().decode(SpeakerServiceObject.self, from: Data(service("1", ip: "2001:db8::5").utf8))
        let second = try JSONDecoder().decode(SpeakerServiceObject.self, from: Data(service("2", ip: "2001:db8::5").utf8))
        #expect(Self.storage(second.ips) != Self.storage(first.ips))
        let kept = second.sharingStorage(with: first)
        #expect(kept == second && kept.metadata.resourceVersion == "2")
        #expect(Self.storage(kept.ips) == Self.storage(first.ips))
        #expect(Self.storage(kept.metadata.name!) == Self.storage(first.metadata.name!))
        #expect(Self.storage(kept.metadata.namespace!) == Self.storage(first.metadata.namespace!))
        // What changed is its own.
        let moved = try JSONDecoder().decode(SpeakerServiceObject.self, from: Data(service("3", ip: "2001:db8::6").utf8)).sharingStorage(with: first)
        #expect(moved.ingressIPs == ["2001:db8::6"] && Self.storage(moved.ips) != Self.storage(first.ips))
        #expect(second.sharingStorage(with: nil) == second)

        let slice = #"{"metadata":{"name":"a-slice-name-longer-than-15","namespace":"a-namespace-longer-than-15","resourceVersion":"RV","labels":{"kubernetes.io/service-name":"a-service-name-longer-than-15"}},"endpoints":[{"nodeName":"node1"}]}"#
        let older = try JSONDecoder().decode(SpeakerEndpointSlice.self, from: Data(slice.replacingOccurrences(of: "RV", with: "1").utf8)).withoutEndpoints(sharingWith: nil)
        let newer = try JSONDecoder().decode(SpeakerEndpointSlice.self, from: Data(slice.replacingOccurrences(of: "RV", with: "2").utf8))
        let cached = newer.withoutEndpoints(sharingWith: older)
        #expect(older.endpoints.isEmpty && cached.endpoints.isEmpty && !newer.endpoints.isEmpty)
        #expect(cached.metadata.resourceVersion == "2" && cached.serviceName == newer.serviceName)
        #expect(Self.storage(cached.metadata.name!) == Self.storage(older.metadata.name!))
        #expect(Self.storage(cached.serviceName!) == Self.storage(older.serviceName!))
    }

    @Test func aServiceBeingDeletedOrWithoutSpecOrStatusDecodes() throws {
        let deleting = #"{"metadata":{"name":"a","namespace":"n","deletionTimestamp":"2026-01-02T03:04:05Z"},"spec":null}"#
        let object = try JSONDecoder().decode(SpeakerServiceObject.self, from: Data(deleting.utf8))
        #expect(object.metadata.deletionTimestamp != nil)
        #expect(object.type == nil && object.ingressIPs.isEmpty)
        let bookmark = try JSONDecoder().decode(SpeakerServiceObject.self, from: Data(#"{"metadata":{"resourceVersion":"7"}}"#.utf8))
        #expect(bookmark.metadata.resourceVersion == "7")
    }

    @Test func anEndpointSliceKeepsItsServiceLabelAndEachEndpointsConditionsAndNode() throws {
        let text = """
        {"metadata":{"name":"web-x1","namespace":"shop","resourceVersion":"9","labels":{"kubernetes.io/service-name":"web",
         "endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io"}},"addressType":"IPv4",
         "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":false,"serving":true,"terminating":true},"nodeName":"node1",
          "targetRef":{"kind":"Pod","name":"web-1","namespace":"shop"}},{"addresses":["10.0.0.2"],"nodeName":"node2"}],
         "ports":[{"port":8080,"protocol":"TCP"}]}
        """
        let slice = try JSONDecoder().decode(SpeakerEndpointSlice.self, from: Data(text.utf8))
        #expect(slice.metadata.labels == [SpeakerEndpointSlice.serviceLabel: "web"])
        #expect(slice.endpoints == [
            .init(conditions: EndpointConditions(ready: false, serving: true, terminating: true), nodeName: "node1"),
            .init(conditions: nil, nodeName: "node2"),
        ])
    }

    @Test func aLeaseKeepsItsSpecNotItsAnnotations() throws {
        let report = String(repeating: "bgp 1 peer: default/web", count: 1_000)
        let text = """
        {"metadata":{"name":"ironlb-announcements-node1","namespace":"ironlb-system","resourceVersion":"5","annotations":{"ironlb.io/announcements":"\(report)"}},
         "spec":{"holderIdentity":"node1","leaseDurationSeconds":15,"leaseTransitions":2}}
        """
        let lease = try JSONDecoder().decode(SpeakerLease.self, from: Data(text.utf8))
        #expect(lease.metadata.annotations == nil)
        #expect(lease.spec?.holderIdentity == "node1" && lease.spec?.leaseDurationSeconds == 15 && lease.spec?.leaseTransitions == 2)
    }
}
