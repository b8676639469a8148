import LBCore
import Testing
@testable import Speaker

/// Issue 15, item 9: each EndpointSlice event scanned every slice of the cluster.
@Suite struct EndpointSliceIndexTests {
    func key(_ name: String) -> ServiceKey { ServiceKey(namespace: "default", name: name) }

    @Test func aSliceChangeCostsItsOwnServicesSlices() {
        var index = EndpointSliceIndex()
        for number in 0..<1000 {
            _ = index.set(slice: "default/web\(number)-a", service: key("web\(number)"), nodes: ["node\(number % 3)"])
        }
        let changed = index.set(slice: "default/web7-b", service: key("web7"), nodes: ["node9"])
        #expect(changed == [key("web7"): ["node1", "node9"]])
        #expect(index.lastVisited == 2)
    }

    @Test func slicesMoveBetweenServicesAndGo() {
        var index = EndpointSliceIndex()
        _ = index.set(slice: "default/s1", service: key("a"), nodes: ["n1"])
        _ = index.set(slice: "default/s2", service: key("a"), nodes: ["n2"])
        // The label now names another Service: both are told.
        #expect(index.set(slice: "default/s2", service: key("b"), nodes: ["n2", "n3"]) == [key("a"): ["n1"], key("b"): ["n2", "n3"]])
        #expect(index.set(slice: "default/s1", service: key("a"), nodes: nil) == [key("a"): []])
        #expect(index.set(slice: "default/s2", service: key("b"), nodes: []) == [key("b"): []])
    }
}
