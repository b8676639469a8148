import Foundation
import Testing
import TestSupport

/// `ironlb lab --layer2`, as root: three speaker processes in node namespaces on a bridge, a
/// client namespace `arping`ing each Service IP. Headless with `--once`, each Service's IP is
/// answered by exactly one MAC, a lab node's, the node `ironlb.io/announced-by` names; SIGINT
/// or SIGTERM, during start-up or later, leaves no namespace and no speaker behind.
@Suite(.serialized) struct LabCommandLayer2InteropTests {
    /// A namespace prefix of this test's own (the lab appends its PID).
    static func prefix() -> String { "lab2t" + UUID().uuidString.prefix(6).lowercased() }

    /// The lab's namespaces that still exist.
    static func namespaces(_ prefix: String) -> [String] {
        let list = (try? Shell.run(["ip", "netns", "list"]))?.stdout ?? ""
        return list.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }.filter { $0.hasPrefix(prefix + "-") }
    }

    /// The speakers' PIDs, from the lab's progress lines.
    static func speakerPIDs(_ output: String) -> [Int32] {
        matches(#"speaker\s+lab-node-\d pid (\d+) in "#, output).compactMap { Int32($0[0]) }
    }

    static func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno != ESRCH }

    /// Every match of `pattern` (anchored per line), as its capture groups.
    static func matches(_ pattern: String, _ text: String) -> [[String]] {
        let regex = try! NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { match in
            (1..<match.numberOfRanges).map { Range(match.range(at: $0), in: text).map { String(text[$0]) } ?? "" }
        }
    }

    /// With `metallbResources`, the same lab configured by metallb.io objects (issue #14).
    @Test(arguments: [false, true]) func onceShowsOneAnsweringNodePerService(metallbResources: Bool) throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("ip"), .command("arping")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let prefix = Self.prefix()
        let directory = NSTemporaryDirectory() + "ironlb-lab2-test-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = try Shell.run([ironlb, "lab", "--layer2", "--once", "--timeout", "90", "--directory", directory, "--namespace-prefix", prefix]
                                   + (metallbResources ? ["--metallb-resources"] : []), timeout: 150)
        let text = output.stdout
        #expect(output.status == 0, "lab --layer2 exited \(output.status)\n\(text)\n\(output.stderr)")
        let configuration = metallbResources ? "IPAddressPool/lab, L2Advertisement/lab" : "ConfigMap/config"
        #expect(text.contains("  configuration   \(configuration)\n"), "\(text)")
        #expect(text.contains("IronLB lab: every Service has an IP and exactly one node answers ARP for it."))

        // The nodes and their MACs, as the view lists them.
        let nodes = Self.matches(#"^  (lab-node-\d)\s+192\.0\.2\.1[1-3]\s+([0-9a-f:]{17})\s+netns "#, text)
        let macs = Dictionary(uniqueKeysWithValues: nodes.map { ($0[1], $0[0]) })
        #expect(macs.count == 3, "node lines: \(nodes)")

        let rows = Self.matches(#"^  (default/\w+)\s+(\S+)\s+endpoints on: (\S+)\s+announced by: (.*?)\s+arping: (.*)$"#, text)
        #expect(Set(rows.map { $0[0] }) == ["default/api", "default/local", "default/web"], "service lines: \(rows)")
        var ips: Set<String> = []
        for row in rows {
            let (service, ip, endpointNodes, announcedBy, arping) = (row[0], row[1], row[2].split(separator: ",").map(String.init), row[3], row[4])
            // Every demo Service has running pods (KubeSim runs their Deployments).
            #expect(!endpointNodes.isEmpty && endpointNodes.allSatisfy { $0.hasPrefix("lab-node-") }, "\(service): endpoints on \(endpointNodes)")
            // An address from the layer 2 pool 192.0.2.240-192.0.2.250.
            let last = ip.hasPrefix("192.0.2.") ? Int(ip.dropFirst("192.0.2.".count)) : nil
            #expect(last.map { (240...250).contains($0) } == true, "\(service): \(ip)")
            ips.insert(ip)
            // Exactly one MAC answered, and it is the interface of the node named beside it.
            let answered = Self.matches(#"([0-9a-f]{2}(?::[0-9a-f]{2}){5}) \(([^)]*)\)"#, arping)
            #expect(answered.count == 1, "\(service): arping answers \(arping)")
            if let answer = answered.first {
                let owner = macs[answer[0]]
                #expect(owner != nil, "\(service): \(answer[0]) is no lab node's MAC (\(macs))")
                #expect(owner == answer[1], "\(service): \(answer[0]) shown as \(answer[1]), belongs to \(owner ?? "nobody")")
                // The controller's announced-by annotation names the same node.
                #expect(owner.map { announcedBy.hasPrefix($0 + " ") } == true, "\(service): announced by \(announcedBy), answered by \(owner ?? "-")")
                // externalTrafficPolicy: Local: the node with the pod answers.
                if service == "default/local" { #expect(owner.map(endpointNodes.contains) == true, "\(service): answered by \(owner ?? "-"), pods on \(endpointNodes)") }
            }
        }
        #expect(ips.count == 3, "three Services, three IPs: \(ips)")
        #expect(Self.namespaces(prefix).isEmpty, "namespaces left behind: \(Self.namespaces(prefix))")
        for pid in Self.speakerPIDs(text) { #expect(!Self.isAlive(pid), "speaker \(pid) still running") }
        #expect(Self.speakerPIDs(text).count == 3)
    }

    /// A signal while the namespaces are being created: everything created so far is removed.
    @Test func interruptDuringStartupRemovesEverything() throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("ip"), .command("arping")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let prefix = Self.prefix()
        let directory = NSTemporaryDirectory() + "ironlb-lab2-int-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lab = try ManagedProcess([ironlb, "lab", "--layer2", "--directory", directory, "--namespace-prefix", prefix])
        defer { lab.stop(signal: SIGKILL, timeout: 5) }
        let started = pollBlocking(timeout: 30, interval: 0.01) { !Self.namespaces(prefix).isEmpty }
        #expect(started, "the lab created no namespace:\n\(lab.stdout)\n\(lab.stderr)")
        lab.signal(SIGINT)
        let status = lab.waitForExit(timeout: 60)
        #expect(status == 0, "after SIGINT the lab \(status.map { "exited \($0)" } ?? "was still running after 60 s")\n\(lab.stdout)\n\(lab.stderr)")
        #expect(lab.stdout.contains("IronLB lab: removed the namespaces \(prefix)-"), "\(lab.stdout)")
        #expect(Self.namespaces(prefix).isEmpty, "namespaces left behind: \(Self.namespaces(prefix))")
        for pid in Self.speakerPIDs(lab.stdout) { #expect(!Self.isAlive(pid), "speaker \(pid) still running") }
    }

    /// SIGINT (Ctrl-C) or SIGTERM once every Service is answered: the speakers stop and every
    /// namespace is removed; the lab exits 0.
    @Test(arguments: [SIGINT, SIGTERM])
    func signalInSteadyStateRemovesEverything(_ signal: Int32) throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("ip"), .command("arping")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let prefix = Self.prefix()
        let directory = NSTemporaryDirectory() + "ironlb-lab2-sig-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lab = try ManagedProcess([ironlb, "lab", "--layer2", "--directory", directory, "--namespace-prefix", prefix])
        defer { lab.stop(signal: SIGKILL, timeout: 5) }
        let answered = pollBlocking(timeout: 90, interval: 0.25) {
            Self.matches(#"^  default/(api|web)\s.*arping: [0-9a-f:]{17} \(lab-node-\d\)$"#, lab.stdout).count >= 2
        }
        #expect(answered, "the lab never showed both Services answered:\n\(lab.stdout)\n\(lab.stderr)")
        let pids = Self.speakerPIDs(lab.stdout)
        #expect(pids.count == 3, "\(lab.stdout)")
        #expect(pids.allSatisfy(Self.isAlive))
        #expect(Self.namespaces(prefix).count == 5, "\(Self.namespaces(prefix))")
        lab.signal(signal)
        let status = lab.waitForExit(timeout: 60)
        #expect(status == 0, "after signal \(signal) the lab \(status.map { "exited \($0)" } ?? "was still running after 60 s")\n\(lab.stdout)\n\(lab.stderr)")
        #expect(lab.stdout.contains("IronLB lab: stopping"))
        #expect(Self.namespaces(prefix).isEmpty, "namespaces left behind: \(Self.namespaces(prefix))")
        for pid in pids { #expect(!Self.isAlive(pid), "speaker \(pid) still running") }
    }

    /// README.md's layer 2 walkthrough, played verbatim against `ironlb lab --layer2`: the
    /// `externalTrafficPolicy: Local` Service is answered from its pod's node (lab-node-2), the
    /// README's `cordon` + `delete pod` moves the pod and the answer follows it, and its `scale
    /// --replicas=0` leaves the IP unanswered.
    @Test func readmeCommandsMoveTheLocalServiceAndLeaveItUnanswered() throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("ip"), .command("arping"), .command("kubectl")) else { return }
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        let readme = try String(contentsOf: BuiltProducts.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "With root, `--layer2`").dropFirst().first?.components(separatedBy: "\n## ").first)
        let commands = DocumentedCommands.inlineKubectl(section)
        #expect(commands.count == 2, "README's layer 2 commands: \(commands)")
        guard commands.count == 2 else { return }

        let prefix = Self.prefix()
        let directory = NSTemporaryDirectory() + "ironlb-lab2-readme-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lab = try ManagedProcess([ironlb, "lab", "--layer2", "--directory", directory, "--namespace-prefix", prefix])
        defer { lab.stop(signal: SIGKILL, timeout: 5) }
        /// The newest view's row for default/local.
        func localRow() -> String { Self.matches(#"^(  default/local\s.*)$"#, lab.stdout).last?.first ?? "" }
        func answeredBy() -> String? { Self.matches(#"arping: [0-9a-f:]{17} \((lab-node-\d)\)$"#, localRow()).first?[0] }

        let answered = pollBlocking(timeout: 120, interval: 0.25) { answeredBy() != nil }
        #expect(answered, "default/local never answered:\n\(lab.stdout)\n\(lab.stderr)")
        #expect(answeredBy() == "lab-node-2", "README says the local pod runs on lab-node-2: \(localRow())")
        let kubeconfig = try #require(Self.matches(#"kubectl --kubeconfig (\S+) get svc"#, lab.stdout).first?[0])
        func run(_ line: String) throws -> Shell.Output {
            try Shell.run(["env", "HOME=\(directory)", "KUBECONFIG=\(kubeconfig)", "sh", "-c", line], timeout: 120)
        }

        let moved = try run(commands[0])
        #expect(moved.status == 0, "\(commands[0]):\n\(moved.stdout)\n\(moved.stderr)")
        let followed = pollBlocking(timeout: 120, interval: 0.25) { answeredBy().map { $0 != "lab-node-2" } ?? false }
        #expect(followed, "after `\(commands[0])` the answer did not leave lab-node-2: \(localRow())")

        let scaled = try run(commands[1])
        #expect(scaled.status == 0, "\(commands[1]):\n\(scaled.stdout)\n\(scaled.stderr)")
        let unanswered = pollBlocking(timeout: 120, interval: 0.25) { localRow().hasSuffix("arping: no answer") }
        #expect(unanswered, "after `\(commands[1])` default/local is still answered: \(localRow())")

        lab.signal(SIGINT)
        #expect(lab.waitForExit(timeout: 60) == 0)
        #expect(Self.namespaces(prefix).isEmpty, "namespaces left behind: \(Self.namespaces(prefix))")
    }
}
