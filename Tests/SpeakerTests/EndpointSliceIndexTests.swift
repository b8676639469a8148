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

    /// The address of a set's heap storage (a `Set` is one reference on Linux).
    func storage(_ set: Set<String>) -> UInt { unsafeBitCast(set, to: UInt.self) }

    /// Issue 18: equal endpoint sets share one node set (each slice event reduces to a new set,
    /// a heap object per Service, and most Services' endpoints sit on the same few nodes); what
    /// the index remembers for it is bounded.
    @Test func equalEndpointSetsShareOneNodeSetAndWhatIsRememberedIsBounded() {
        var index = EndpointSliceIndex()
        let first = index.set(slice: "default/a-1", service: key("a"), endpoints: on(["n1", "n2"]))[key("a")]!
        let second = index.set(slice: "default/b-1", service: key("b"), endpoints: on(["n2", "n1"]))[key("b")]!
        let other = index.set(slice: "default/c-1", service: key("c"), endpoints: on(["n3"]))[key("c")]!
        #expect(first == second && first != other)
        #expect(storage(first.nodes) == storage(second.nodes))
        #expect(storage(other.nodes) != storage(first.nodes))
        for number in 0..<3 * EndpointSliceIndex.sharedLimit {
            _ = index.set(slice: "default/s\(number)", service: key("s\(number)"), endpoints: on(["node\(number)"]))
            #expect(index.sharedCount <= EndpointSliceIndex.sharedLimit)
        }
        // Still shared after the remembered sets were let go.
        let again = index.set(slice: "default/d-1", service: key("d"), endpoints: on(["n1", "n2"]))[key("d")]!
        let twice = index.set(slice: "default/e-1", service: key("e"), endpoints: on(["n1", "n2"]))[key("e")]!
        #expect(storage(again.nodes) == storage(twice.nodes))
    }
}
