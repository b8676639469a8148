import LBCore
import SpeakerCore
import Testing
@testable import Speaker

/// Issue 15, item 9: each EndpointSlice event scanned every slice of the cluster.
@Suite struct EndpointSliceIndexTests {
    func key(_ name: String) -> ServiceKey { ServiceKey(namespace: "default", name: name) }
    func on(_ nodes: Set<String>) -> ServiceEndpoints { ServiceEndpoints(nodes: nodes) }

    @Test func aSliceChangeCostsItsOwnServicesSlices() {
        var index = EndpointSliceIndex()
        for number in 0..<1000 {
            _ = index.set(slice: "default/web\(number)-a", service: key("web\(number)"), endpoints: on(["node\(number % 3)"]))
        }
        let changed = index.set(slice: "default/web7-b", service: key("web7"), endpoints: on(["node9"]))
        #expect(changed == [key("web7"): on(["node1", "node9"])])
        #expect(index.lastVisited == 2)
    }

    @Test func slicesMoveBetweenServicesAndGo() {
        var index = EndpointSliceIndex()
        _ = index.set(slice: "default/s1", service: key("a"), endpoints: on(["n1"]))
        _ = index.set(slice: "default/s2", service: key("a"), endpoints: on(["n2"]))
        // The label now names another Service: both are told.
        #expect(index.set(slice: "default/s2", service: key("b"), endpoints: on(["n2", "n3"])) == [key("a"): on(["n1"]), key("b"): on(["n2", "n3"])])
        #expect(index.set(slice: "default/s1", service: key("a"), endpoints: nil) == [key("a"): .none])
        #expect(index.set(slice: "default/s2", service: key("b"), endpoints: .none) == [key("b"): .none])
    }
}
