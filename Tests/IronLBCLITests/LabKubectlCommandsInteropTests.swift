import Foundation
import Testing
import TestSupport

/// The real kubectl against a running `ironlb lab` (issue #13, part 3): the generators (protobuf
/// bodies), `expose deployment --type=LoadBalancer`, `wait --for=jsonpath`, `describe svc` and
/// `get events` showing IronLB's Events (written as events.k8s.io/v1, read as core/v1), and the
/// README's and docs/install.md's kubectl commands played verbatim. Serial phase: each test
/// blocks a thread on the lab and on kubectl.
@Suite(.serialized) struct LabKubectlCommandsInteropTests {
    /// A running lab and a kubectl environment for it (fresh HOME; KUBECONFIG = the lab's).
    struct Lab {
        let process: ManagedProcess
        let directory: String
        let kubeconfig: String
        let home: String

        static func start() throws -> Lab? {
            guard Prerequisites.require(.command("kubectl")) else { return nil }
            guard let ironlb = BuiltProducts.require("ironlb") else { return nil }
            let directory = NSTemporaryDirectory() + "ironlb-lab-kubectl-commands-\(getpid())-\(UUID().uuidString.prefix(6))"
            let process = try ManagedProcess([ironlb, "lab", "--directory", directory])
            let lab = Lab(process: process, directory: directory, kubeconfig: directory + "/kubesim/kubeconfig", home: directory + "/home")
            try FileManager.default.createDirectory(atPath: lab.home, withIntermediateDirectories: true)
            // Up when both demo Services have an address from the lab pool.
            let up = pollBlocking(timeout: 120, interval: 0.5) {
                let ips = (try? lab.kubectl("get svc web api -o jsonpath='{.items[*].status.loadBalancer.ingress[0].ip}'").stdout) ?? ""
                return ips.split(separator: " ").filter { $0.hasPrefix("198.51.100.") }.count == 2
            }
            #expect(up, "the lab's demo Services never got addresses:\n\(process.stdout.suffix(3000))")
            if !up {
                lab.stop()
                return nil
            }
            return lab
        }

        /// Runs a shell command line from the repository root with KUBECONFIG set to `kubeconfig`.
        @discardableResult
        func shell(_ line: String, kubeconfig: String? = nil, timeout: Double = 60) throws -> Shell.Output {
            try Shell.run(["env", "HOME=\(home)", "KUBECONFIG=\(kubeconfig ?? self.kubeconfig)", "sh", "-c",
                           "cd '\(BuiltProducts.repositoryRoot.path)' && \(line)"], timeout: timeout)
        }

        func kubectl(_ arguments: String, timeout: Double = 60) throws -> Shell.Output { try shell("kubectl " + arguments, timeout: timeout) }

        func stop() {
            process.stop(signal: SIGKILL, timeout: 5)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func generatorsExposeWaitDescribeAndEventsInTheLab() throws {
        guard let lab = try Lab.start() else { return }
        defer { lab.stop() }
        func ok(_ arguments: String, _ expected: String) throws -> Shell.Output {
            let result = try lab.kubectl(arguments, timeout: 120)
            #expect(result.status == 0 && (expected.isEmpty || result.stdout.contains(expected)), "kubectl \(arguments):\n\(result.stdout)\n\(result.stderr)")
            return result
        }
        _ = try ok("create namespace shop", "namespace/shop created")
        let configPath = lab.directory + "/config"
        try "address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.10-192.0.2.20\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        _ = try ok("-n shop create configmap config --from-file=config=\(configPath)", "configmap/config created")
        _ = try ok("-n shop get configmap config -o jsonpath='{.data.config}'", "192.0.2.10-192.0.2.20")
        _ = try ok("-n shop create secret generic creds --from-literal=password=p4ss", "secret/creds created")
        _ = try ok("-n shop create deployment shop --image=registry.example/shop:1.0 --port=8080", "deployment.apps/shop created")
        _ = try ok("-n shop expose deployment shop --type=LoadBalancer --port=80 --target-port=8080", "service/shop exposed")

        // IronLB allocates an address from the lab pool: wait for it with kubectl itself.
        var ip = ""
        let allocated = pollBlocking(timeout: 90, interval: 0.5) {
            ip = (try? lab.kubectl("-n shop get svc shop -o jsonpath='{.status.loadBalancer.ingress[0].ip}'").stdout) ?? ""
            return ip.hasPrefix("198.51.100.")
        }
        #expect(allocated, "shop/shop got no address: \(ip)")
        _ = try ok("-n shop wait --for=jsonpath='{.status.loadBalancer.ingress[0].ip}'=\(ip) service/shop --timeout=60s", "service/shop condition met")

        // IronLB's Events (events.k8s.io/v1) where operators look (core/v1).
        var describe = ""
        let described = pollBlocking(timeout: 90, interval: 1) {
            describe = (try? lab.kubectl("-n shop describe svc shop").stdout) ?? ""
            let events = describe.components(separatedBy: "Events:").last ?? ""
            return events.contains("IPAllocated") && events.contains("nodeAssigned")
        }
        #expect(described, "kubectl describe svc shows no IronLB Events:\n\(describe)")
        #expect(describe.contains("assigned IP \(ip) from pool"), "\(describe)")
        let events = try ok("-n shop get events", "IPAllocated")
        #expect(events.stdout.contains("service/shop") && events.stdout.contains("nodeAssigned"), "\(events.stdout)")
        _ = try ok("get events -A --field-selector reason=IPAllocated -o name", "event/")

        _ = try ok("-n shop get endpointslices", "")
        _ = try ok("-n shop rollout restart deployment shop", "deployment.apps/shop restarted")
        _ = try ok("-n shop get deployment shop -o jsonpath='{.metadata.generation}'", "2")

        // The workload, as a cluster runs it: scale, rollout status, readiness, pods, slices.
        _ = try ok("-n shop scale deployment shop --replicas=3", "deployment.apps/shop scaled")
        _ = try ok("-n shop rollout status deployment/shop --timeout=120s", "successfully rolled out")
        _ = try ok("-n shop wait --for=jsonpath='{.status.readyReplicas}'=3 deployment/shop --timeout=120s", "condition met")
        let pods = try ok("-n shop get pods -o wide", "Running")
        #expect(pods.stdout.contains("lab-node-") && pods.stdout.contains("10.244."), "no NODE or IP column:\n\(pods.stdout)")
        _ = try ok("-n shop get endpointslices -l kubernetes.io/service-name=shop", "shop-")
        let names = { (try? lab.kubectl("-n shop get pods -o jsonpath='{.items[*].metadata.name}'").stdout) ?? "" }
        // The restart's old pods are listed until their termination ends (as in a cluster): a
        // victim picked among them may be gone before kubectl deletes it. Wait for the three.
        let settled = pollBlocking(timeout: 90, interval: 0.5) { names().split(separator: " ").count == 3 }
        #expect(settled, "the old pods never went: \(names())")
        let before = Set(names().split(separator: " "))
        let victim = try #require(before.sorted().first)
        _ = try ok("-n shop delete pod \(victim)", "pod \"\(victim)\" deleted")
        // The Deployment replaces it.
        let replaced = pollBlocking(timeout: 90, interval: 0.5) {
            let now = Set(names().split(separator: " "))
            return now.count == 3 && !now.contains(victim)
        }
        #expect(replaced, "pod \(victim) was not replaced: \(names())")
        lab.process.signal(SIGINT)
        #expect(lab.process.waitForExit(timeout: 60) == 0)
    }

    /// The kubectl commands of README.md (its lab section) and docs/install.md ("See it work"),
    /// extracted from the markdown and run verbatim (`<path>` is the lab's kubeconfig). The
    /// install guide's commands run in a namespace of their own (the kubeconfig's current
    /// namespace), since the lab's default namespace already has a `web` Service.
    @Test func readmeAndInstallGuideCommandsWorkInTheLab() throws {
        let root = BuiltProducts.repositoryRoot
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let install = try String(contentsOf: root.appendingPathComponent("docs/install.md"), encoding: .utf8)
        // Placeholders other than `<path>` (`kubectl create <generator>`) name no command.
        // The walkthrough's code blocks first (they create what the prose's commands act on).
        let readmeWalkthrough = DocumentedCommands.kubectlLines(inCodeBlocksAfter: "Run your own workload", count: 2, readme)
        // The prose of the loopback lab (the `--layer2` lab's commands need root and its namespaces).
        let loopbackLab = readme.components(separatedBy: "With root, `--layer2`").first ?? readme
        let readmeCommands = DocumentedCommands.inlineKubectl(loopbackLab).filter { !$0.replacingOccurrences(of: "<path>", with: "").contains("<") }
        #expect(readmeWalkthrough.contains { $0.hasPrefix("kubectl create deployment") }, "\(readmeWalkthrough)")
        #expect(readmeWalkthrough.contains { $0.hasPrefix("kubectl expose deployment") }, "\(readmeWalkthrough)")
        let installCommands = DocumentedCommands.kubectlLines(inCodeBlocksAfter: "## 3. See it work", count: 1, install)
            + DocumentedCommands.inlineKubectl(install).filter { $0.contains("get events") }
        #expect(readmeCommands.count >= 3, "\(readmeCommands)")
        #expect(installCommands.count >= 5, "\(installCommands)")
        guard let lab = try Lab.start() else { return }
        defer { lab.stop() }

        for command in readmeWalkthrough + readmeCommands {
            let line = command.replacingOccurrences(of: "<path>", with: lab.kubeconfig)
            let result = try lab.shell(line, timeout: 120)
            #expect(result.status == 0, "\(line):\n\(result.stdout)\n\(result.stderr)")
        }
        // What the walkthrough shows: demo got an IP from the lab pool, and once scaled to zero
        // it is not announced, and says why.
        let demoIP = pollBlocking(timeout: 90, interval: 0.5) {
            ((try? lab.kubectl("get svc demo -o jsonpath='{.status.loadBalancer.ingress[0].ip}'").stdout) ?? "").hasPrefix("198.51.100.")
        }
        #expect(demoIP, "README's demo Service got no address")
        var announcedBy = ""
        let withheld = pollBlocking(timeout: 90, interval: 0.5) {
            announcedBy = (try? lab.kubectl(#"get svc demo -o jsonpath='{.metadata.annotations.ironlb\.io/announced-by}'"#).stdout) ?? ""
            return announcedBy == "none (no ready endpoints)"
        }
        #expect(withheld, "demo scaled to zero: announced-by is \(announcedBy)")

        // A kubeconfig whose current namespace is "docs".
        let docsConfig = lab.directory + "/docs-kubeconfig"
        try FileManager.default.copyItem(atPath: lab.kubeconfig, toPath: docsConfig)
        #expect(try lab.kubectl("create namespace docs").status == 0)
        #expect(try lab.shell("kubectl config set-context --current --namespace=docs", kubeconfig: docsConfig).status == 0)
        var outputs: [String: String] = [:]
        for command in installCommands {
            let result = try lab.shell(command, kubeconfig: docsConfig, timeout: 120)
            #expect(result.status == 0, "\(command):\n\(result.stdout)\n\(result.stderr)")
            outputs[command] = result.stdout
        }
        // What the guide's comments promise: an EXTERNAL-IP from the pool, then IronLB's Events.
        let external = pollBlocking(timeout: 90, interval: 0.5) {
            ((try? lab.shell("kubectl get service web", kubeconfig: docsConfig).stdout) ?? "").contains("198.51.100.")
        }
        #expect(external, "docs/web has no EXTERNAL-IP from the lab pool")
        var describe = ""
        let events = pollBlocking(timeout: 90, interval: 1) {
            describe = (try? lab.shell("kubectl describe service web", kubeconfig: docsConfig).stdout) ?? ""
            return describe.contains("IPAllocated") && describe.contains("nodeAssigned")
        }
        #expect(events, "kubectl describe service web:\n\(describe)")
    }
}

/// kubectl commands written in markdown.
enum DocumentedCommands {
    /// Inline code spans (possibly wrapped over lines) that start with `kubectl `.
    static func inlineKubectl(_ markdown: String) -> [String] {
        var commands: [String] = []
        var inFence = false
        var prose = ""
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inFence.toggle(); continue }
            if !inFence { prose += line + "\n" }
        }
        let parts = prose.components(separatedBy: "`")
        for index in stride(from: 1, to: parts.count, by: 2) {
            let span = parts[index].split(whereSeparator: \.isWhitespace).joined(separator: " ")
            if span.hasPrefix("kubectl ") { commands.append(span) }
        }
        return commands
    }

    /// The `kubectl` lines (also `$ kubectl` prompts of console blocks) of the first `count`
    /// fenced code blocks after `heading`, without trailing comments.
    static func kubectlLines(inCodeBlocksAfter heading: String, count: Int, _ markdown: String) -> [String] {
        guard let start = markdown.range(of: heading) else { return [] }
        var commands: [String] = []
        var inFence = false
        var blocks = 0
        for line in markdown[start.upperBound...].split(separator: "\n") {
            if line.hasPrefix("```") {
                if inFence { blocks += 1; if blocks == count { break } }
                inFence.toggle()
                continue
            }
            let text = line.hasPrefix("$ ") ? line.dropFirst(2) : line[...]
            guard inFence, text.hasPrefix("kubectl ") else { continue }
            let command = text.components(separatedBy: " #").first ?? String(text)
            commands.append(command.trimmingCharacters(in: .whitespaces))
        }
        return commands
    }
}
