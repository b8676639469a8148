import Foundation
import Testing
import TestSupport

/// `ironlb lab` headless: the embedded API server, the controller, three simulated nodes and the
/// route collector come up; both example Services get IPs and every node's route reaches the
/// collector. No root needed.
@Suite struct LabCommandTests {
    @Test func labAllocatesAndAnnouncesHeadless() throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let directory = NSTemporaryDirectory() + "ironlb-lab-test-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = try Shell.run([ironlb, "lab", "--once", "--timeout", "90", "--directory", directory], timeout: 150)
        #expect(output.status == 0, "lab exited \(output.status)\n\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains("IronLB lab: every Service has an IP and every node announces it."))
        #expect(output.stdout.contains("kubeconfig      \(directory)/kubesim/kubeconfig"))
        // Both Services have an address from the lab pool, announced by all three nodes.
        for service in ["default/api", "default/web"] {
            let line = output.stdout.split(separator: "\n").first { $0.contains(service) }.map(String.init) ?? ""
            #expect(line.contains("198.51.100."), "\(service): \(line)")
            #expect(line.contains("announced by: lab-node-1, lab-node-2, lab-node-3"), "\(service): \(line)")
        }
        // The collector holds each /32 once per node.
        let routes = output.stdout.split(separator: "\n").filter { $0.contains("/32") && $0.contains(" via 127.0.0.1") }
        #expect(routes.count == 6, "collector routes: \(routes)")
        #expect(FileManager.default.fileExists(atPath: directory + "/lab.log"))
    }

    @Test func layer2IsRefusedWithAnExplanation() throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let output = try Shell.run([ironlb, "lab", "--layer2"], timeout: 30)
        #expect(output.status != 0)
        #expect(output.stderr.contains("--layer2 is not available yet"))
    }
}
