import Foundation
import Testing
import TestSupport
@testable import IronLBLab

/// The layer 2 lab's view, without root: parsing real `arping` output and deciding when every
/// Service is answered by exactly one node.
@Suite struct LabCommandLayer2ViewTests {
    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: BuiltProducts.repositoryRoot.appendingPathComponent("Tests/Fixtures/lab/\(name)"), encoding: .utf8)
    }

    @Test(arguments: [
        ("arping-habets-one-answer.txt", ["02:00:00:00:00:11"]),
        ("arping-habets-two-answers.txt", ["02:00:00:00:00:11", "02:00:00:00:00:12"]),
        ("arping-habets-no-answer.txt", []),
    ])
    func macsFromArpingOutput(_ name: String, _ expected: [String]) throws {
        #expect(Layer2LabView.macs(inArpingOutput: try Self.fixture(name)) == expected)
    }

    @Test func macsFromIputilsStyleOutput() {
        let text = "ARPING 192.0.2.240 from 192.0.2.50 eth0\nUnicast reply from 192.0.2.240 [02:00:00:00:00:1A]  0.611ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n"
        #expect(Layer2LabView.macs(inArpingOutput: text) == ["02:00:00:00:00:1a"])
    }

    @Test(arguments: [
        ("lab-node-2 (layer2 eth0)", ["lab-node-2"]),
        ("lab-node-1,lab-node-3 (bgp 2 peers)", ["lab-node-1", "lab-node-3"]),
        ("lab-node-1", ["lab-node-1"]),
    ])
    func announcersFromTheAnnotation(_ value: String, _ nodes: [String]) {
        #expect(Layer2LabView.announcers(value) == nodes)
    }

    static let network = LabNetwork(prefix: "lab2view", nodes: ["lab-node-1", "lab-node-2", "lab-node-3"], ip: "/usr/sbin/ip")

    @Test(arguments: [
        // One answer from the node the annotation names: complete.
        ([LabRow("192.0.2.240", "lab-node-2 (layer2)", ["02:00:00:00:00:12"])], true),
        // Two nodes answer.
        ([LabRow("192.0.2.240", "lab-node-2 (layer2)", ["02:00:00:00:00:11", "02:00:00:00:00:12"])], false),
        // Nobody answers, or no IP yet.
        ([LabRow("192.0.2.240", "lab-node-2 (layer2)", [])], false),
        ([LabRow(nil, nil, [])], false),
        // The answer is from a MAC that is no lab node's.
        ([LabRow("192.0.2.240", "lab-node-2 (layer2)", ["02:00:00:00:00:99"])], false),
        // The annotation names another node (not caught up yet).
        ([LabRow("192.0.2.240", "lab-node-1 (layer2)", ["02:00:00:00:00:12"])], false),
        // One of two Services incomplete.
        ([LabRow("192.0.2.240", "lab-node-2 (layer2)", ["02:00:00:00:00:12"]), LabRow("192.0.2.241", nil, ["02:00:00:00:00:13"])], false),
        // No Service at all.
        ([], false),
    ])
    func completeOnlyWhenExactlyOneNodeAnswersEach(_ rows: [LabRow], _ complete: Bool) {
        let shown = rows.enumerated().map { index, row in
            Layer2LabView.Row(name: "default/s\(index)", ip: row.ip, announcedBy: row.announcedBy, answers: row.answers)
        }
        let (text, result) = Layer2LabView.render(shown, network: Self.network, kubeconfig: "/k", metrics: ["controller": 1])
        #expect(result == complete, "\(text)")
    }

    @Test func viewNamesTheNodeOfEachAnsweringMAC() {
        let rows = [Layer2LabView.Row(name: "default/web", ip: "192.0.2.241", announcedBy: "lab-node-3 (layer2)", answers: ["02:00:00:00:00:13", "02:00:00:00:00:99"])]
        let (text, _) = Layer2LabView.render(rows, network: Self.network, kubeconfig: "/k", metrics: [:])
        #expect(text.contains("arping: 02:00:00:00:00:13 (lab-node-3), 02:00:00:00:00:99 (not a lab node)"), "\(text)")
        #expect(text.contains("lab-node-1   192.0.2.11   02:00:00:00:00:11  netns lab2view-\(getpid())-node1"), "\(text)")
    }

    @Test func prerequisitesSayWhatToRun() {
        #expect(LabError.layer2Missing(isRoot: true, ip: "/usr/sbin/ip", arping: "/usr/sbin/arping").isEmpty)
        let missing = LabError.layer2Missing(isRoot: false, ip: nil, arping: nil)
        #expect(missing.count == 3)
        #expect(missing[0].contains("sudo"))
        #expect(missing[1].contains("apt-get install iproute2"))
        #expect(missing[2].contains("apt-get install arping"))
    }
}

/// A row of the view, as a test argument.
struct LabRow: Sendable, CustomTestStringConvertible {
    let ip: String?
    let announcedBy: String?
    let answers: [String]
    init(_ ip: String?, _ announcedBy: String?, _ answers: [String]) {
        self.ip = ip
        self.announcedBy = announcedBy
        self.answers = answers
    }
    var testDescription: String { "\(ip ?? "-") \(announcedBy ?? "-") \(answers)" }
}
