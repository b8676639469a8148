import LBCore
import Testing
import Announcements

@Suite struct AnnouncedByIndexTests {
    static let web = ServiceKey(namespace: "default", name: "web")
    static let api = ServiceKey(namespace: "shop", name: "api")

    @Test func groupsLiveNodesByWayInAStableOrder() {
        var index = AnnouncedByIndex()
        #expect(index.reportChanged(node: "node-b", [Self.web: "bgp 2 peers"]) == [Self.web])
        #expect(index.reportChanged(node: "node-a", [Self.web: "bgp 2 peers", Self.api: "layer2"]) == [Self.web, Self.api])
        #expect(index.reportChanged(node: "node-c", [Self.web: "bgp 1 peer"]) == [Self.web])
        // No speaker Lease is held yet: nothing counts.
        #expect(index.value(for: Self.web) == nil)
        #expect(index.livenessChanged(node: "node-a", live: true) == [Self.web, Self.api])
        #expect(index.livenessChanged(node: "node-a", live: true) == [])
        _ = index.livenessChanged(node: "node-b", live: true)
        _ = index.livenessChanged(node: "node-c", live: true)
        #expect(index.value(for: Self.web) == "node-c (bgp 1 peer); node-a,node-b (bgp 2 peers)")
        #expect(index.value(for: Self.api) == "node-a (layer2)")
        #expect(index.reportedServices == [Self.web, Self.api])

        // A node's Lease goes: its reports stop counting but are kept for when it returns.
        #expect(index.livenessChanged(node: "node-a", live: false) == [Self.web, Self.api])
        #expect(index.value(for: Self.api) == nil)
        #expect(index.value(for: Self.web) == "node-c (bgp 1 peer); node-b (bgp 2 peers)")
        _ = index.livenessChanged(node: "node-a", live: true)
        #expect(index.value(for: Self.api) == "node-a (layer2)")

        // A changed report touches only what changed; a removed report removes the node.
        #expect(index.reportChanged(node: "node-a", [Self.web: "bgp 2 peers", Self.api: "layer2 eth1"]) == [Self.api])
        #expect(index.value(for: Self.api) == "node-a (layer2 eth1)")
        #expect(index.reportChanged(node: "node-a", nil) == [Self.web, Self.api])
        #expect(index.value(for: Self.api) == nil)
        #expect(index.reportedServices == [Self.web])
    }

    /// A Service no node announces for want of endpoints: the value says why, until a node
    /// announces it again.
    @Test func withheldServicesSayWhy() {
        var index = AnnouncedByIndex()
        let withheld = AnnouncementReport.withheldWay("no ready endpoints")
        #expect(withheld == "withheld no ready endpoints")
        #expect(AnnouncementReport.decode(AnnouncementReport.encode([Self.web: withheld])) == [Self.web: withheld])
        _ = index.reportChanged(node: "node-a", [Self.web: withheld])
        _ = index.reportChanged(node: "node-b", [Self.web: withheld])
        #expect(index.value(for: Self.web) == nil)                 // no live node yet
        _ = index.livenessChanged(node: "node-a", live: true)
        _ = index.livenessChanged(node: "node-b", live: true)
        let value = index.value(for: Self.web)
        #expect(value == "none (no ready endpoints)")
        #expect(value.flatMap { AnnouncedByIndex.withheldReason(annotation: $0) } == "no ready endpoints")
        #expect(AnnouncedByIndex.withheldReason(annotation: "node-a (layer2)") == nil)
        // Scaled up: one node announces (layer 2), the other reports nothing for it.
        _ = index.reportChanged(node: "node-a", [Self.web: "layer2"])
        _ = index.reportChanged(node: "node-b", [:])
        #expect(index.value(for: Self.web) == "node-a (layer2)")
    }

    @Test func reportTextRoundTrips() {
        let report = [Self.web: "bgp 2 peers", Self.api: "bgp 2 peers", ServiceKey(namespace: "kube-system", name: "dns"): "layer2 eth1,eth2"]
        let text = AnnouncementReport.encode(report)
        #expect(text == "bgp 2 peers: default/web shop/api\nlayer2 eth1,eth2: kube-system/dns")
        #expect(AnnouncementReport.decode(text) == report)
        #expect(AnnouncementReport.encode([:]) == "")
        #expect(AnnouncementReport.decode("") == [:])
    }

    /// A report too large for one annotation keeps whole entries, in name order, under the limit.
    @Test func oversizedReportsAreCutUnderTheLimit() {
        let report = Dictionary(uniqueKeysWithValues: (0..<1000).map { (ServiceKey(namespace: "ns", name: "svc-\($0)"), $0 % 2 == 0 ? "bgp 2 peers" : "layer2") })
        let whole = AnnouncementReport.encode(report)
        let cut = AnnouncementReport.encode(report, byteLimit: whole.utf8.count / 2)
        #expect(cut.text.utf8.count <= whole.utf8.count / 2)
        #expect(cut.omitted > 400 && cut.omitted < 600)
        let decoded = AnnouncementReport.decode(cut.text)
        #expect(decoded?.count == 1000 - cut.omitted)
        #expect(decoded?.allSatisfy { report[$0.key] == $0.value } == true)
        #expect(AnnouncementReport.encode(report, byteLimit: .max).omitted == 0)
    }

    @Test(arguments: ["no colon here", ": default/web", "bgp: default", "bgp: /web", "bgp: default/", "bgp: a/b/c", " bgp: a/b"])
    func malformedReportsAreRefusedWhole(_ text: String) {
        #expect(AnnouncementReport.decode("layer2: default/ok\n" + text) == nil)
    }
}
