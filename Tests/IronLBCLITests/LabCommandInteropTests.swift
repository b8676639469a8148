import Foundation
import Testing
import TestSupport

/// `ironlb lab` headless: the embedded API server, the controller, three simulated nodes and the
/// route collector come up; both example Services get IPs and every node's route reaches the
/// collector. No root needed; run in the serial phase with the other suites that block threads
/// on child processes (scripts/test-all).
@Suite(.serialized) struct LabCommandInteropTests {
    @Test func labAllocatesAndAnnouncesHeadless() throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let directory = NSTemporaryDirectory() + "ironlb-lab-test-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = try Shell.run([ironlb, "lab", "--once", "--timeout", "90", "--directory", directory], timeout: 150)
        #expect(output.status == 0, "lab exited \(output.status)\n\(output.stdout)\n\(output.stderr)")
        #expect(output.stdout.contains("IronLB lab: every Service has an IP and ready pods, and every node announces it."))
        #expect(output.stdout.contains("kubeconfig      \(directory)/kubesim/kubeconfig"))
        // Both Services have an address from the lab pool, announced by all three nodes.
        for service in ["default/api", "default/web"] {
            let line = output.stdout.split(separator: "\n").first { $0.contains(service) }.map(String.init) ?? ""
            #expect(line.contains("198.51.100."), "\(service): \(line)")
            #expect(line.contains("announced by: lab-node-1, lab-node-2, lab-node-3"), "\(service): \(line)")
        }
        // The Services' pods (KubeSim runs their Deployments): web's two spread over two nodes.
        let web = output.stdout.split(separator: "\n").first { $0.contains("default/web") }.map(String.init) ?? ""
        #expect(web.range(of: #"endpoints on: lab-node-\d,lab-node-\d "#, options: .regularExpression) != nil, "default/web: \(web)")
        let api = output.stdout.split(separator: "\n").first { $0.contains("default/api") }.map(String.init) ?? ""
        #expect(api.range(of: #"endpoints on: lab-node-\d "#, options: .regularExpression) != nil, "default/api: \(api)")
        // The collector holds each /32 once per node.
        let routes = output.stdout.split(separator: "\n").filter { $0.contains("/32") && $0.contains(" via 127.0.0.1") }
        #expect(routes.count == 6, "collector routes: \(routes)")
        #expect(FileManager.default.fileExists(atPath: directory + "/lab.log"))
    }

    /// Issue #14: `--metallb-resources` configures the lab with MetalLB's objects and no
    /// ConfigMap; the controller and the speakers read them, with the same outcome.
    @Test func labRunsOnMetalLBResources() throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let directory = NSTemporaryDirectory() + "ironlb-lab-crd-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = try Shell.run([ironlb, "lab", "--once", "--metallb-resources", "--timeout", "90", "--directory", directory], timeout: 150)
        #expect(output.status == 0, "lab exited \(output.status)\n\(output.stdout)\n\(output.stderr)")
        let configuration = output.stdout.split(separator: "\n").first { $0.contains("configuration   ") }.map(String.init) ?? ""
        #expect(configuration.hasSuffix("configuration   BGPPeer/peer-1, BGPPeer/peer-2, BGPPeer/peer-3, IPAddressPool/lab, BGPAdvertisement/lab"),
                "\(configuration)")
        #expect(!configuration.contains("ConfigMap"))
        #expect(output.stdout.contains("IronLB lab: every Service has an IP and ready pods, and every node announces it."))
        for service in ["default/api", "default/web"] {
            let line = output.stdout.split(separator: "\n").first { $0.contains(service) }.map(String.init) ?? ""
            #expect(line.contains("198.51.100."), "\(service): \(line)")
            #expect(line.contains("announced by: lab-node-1, lab-node-2, lab-node-3"), "\(service): \(line)")
        }
        let routes = output.stdout.split(separator: "\n").filter { $0.contains("/32") && $0.contains(" via 127.0.0.1") }
        #expect(routes.count == 6, "collector routes: \(routes)")
    }

    /// Ctrl-C stops every part of the lab and the process exits 0.
    @Test func labStopsCleanlyOnInterrupt() throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let directory = NSTemporaryDirectory() + "ironlb-lab-int-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lab = try ManagedProcess([ironlb, "lab", "--directory", directory])
        defer { lab.stop(signal: SIGKILL, timeout: 5) }
        let announced = pollBlocking(timeout: 90, interval: 0.25) {
            lab.stdout.components(separatedBy: "announced by: lab-node-1, lab-node-2, lab-node-3").count - 1 >= 2
        }
        #expect(announced, "the lab never showed both Services announced:\n\(lab.stdout)")
        lab.signal(SIGINT)
        let status = lab.waitForExit(timeout: 60)
        #expect(status == 0, "after SIGINT the lab \(status.map { "exited \($0)" } ?? "was still running after 60 s")")
        #expect(lab.stdout.contains("IronLB lab: stopping"))
    }
}
