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
