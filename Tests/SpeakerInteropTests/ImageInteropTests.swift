import Foundation
import Testing
import TestSupport

/// The image as shipped: the OCI archive `scripts/build-image` wrote, unpacked with umoci, its
/// own binary run as manifests/ironlb.yaml runs it (user, groups, capabilities, read-only root,
/// no_new_privs, in-cluster service account) in the BGP (FRR) and layer 2 (arping) setups of
/// the other interop suites. KubeSim runs from the build beside the tests.
@Suite(.serialized) struct ImageInteropTests {
    /// Unpacks the image into a fresh directory (nil, with a failure under CI, when missing).
    static func unpack() throws -> (image: ShippedImage, directory: String)? {
        guard let archive = ShippedImage.require() else { return nil }
        let directory = NSTemporaryDirectory() + "ironlb-image-\(getpid())-\(UUID().uuidString.prefix(6))"
        return (try ShippedImage(archive: archive, directory: directory), directory)
    }

    /// The `image:` lines of manifests/ironlb.yaml.
    static func manifestImages() throws -> [String] {
        let text = try String(contentsOf: BuiltProducts.repositoryRoot.appendingPathComponent("manifests/ironlb.yaml"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("image: ") ? String(trimmed.dropFirst("image: ".count)) : nil
        }
    }

    @Test func imageHoldsTheReviewedFilesAndItsBinaryRunsAsTheController() throws {
        guard Prerequisites.require(.root, .command("umoci"), .command("capsh"), .command("unshare")) else { return }
        guard let unpacked = try Self.unpack() else { return }
        let (image, directory) = unpacked
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // Exactly the reviewed file list, and the list build-image wrote beside the archive.
        let reviewed = try String(contentsOf: BuiltProducts.repositoryRoot.appendingPathComponent("scripts/image-files.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }.sorted()
        #expect(try image.files() == reviewed)
        let listFile = image.archive.replacingOccurrences(of: ".oci.tar", with: ".files")
        let written = try String(contentsOfFile: listFile, encoding: .utf8).split(separator: "\n").map(String.init)
        let found = try Shell.check(["find", image.rootfs, "-mindepth", "1", "-printf", "/%P\\t%y\\t%#m\\t%U:%G\\n"])
            .split(separator: "\n").map(String.init).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(found == written, "the unpacked image differs from \(listFile)")

        // The image config: the unprivileged user, the binary as entrypoint, the OCI labels.
        #expect(image.configuration["User"] as? String == "65532:65532")
        #expect(image.configuration["Entrypoint"] as? [String] == ["/usr/local/bin/ironlb"])
        let labels = image.configuration["Labels"] as? [String: String] ?? [:]
        for key in ["title", "description", "version", "revision", "source", "licenses", "created"] {
            #expect(!(labels["org.opencontainers.image.\(key)"] ?? "").isEmpty, "label org.opencontainers.image.\(key)")
        }
        let revision = labels["org.opencontainers.image.revision"] ?? ""
        #expect(revision.prefix(40).allSatisfy(\.isHexDigit) && revision.count >= 40, "revision \(revision)")
        #expect(ISO8601DateFormatter().date(from: labels["org.opencontainers.image.created"] ?? "") != nil)
        // The Debian packages the libraries came from: the label and the dpkg stanzas agree.
        let packages = try FileManager.default.contentsOfDirectory(atPath: image.rootfs + "/var/lib/dpkg/status.d").sorted()
        let labelled = (labels["io.ironlb.image.debian-packages"] ?? "").split(separator: " ").map { String($0.split(separator: "=").first ?? "") }
        #expect(labelled.sorted() == packages && packages.contains("libc6"), "label \(labels["io.ironlb.image.debian-packages"] ?? "-") vs \(packages)")
        let passwd = try String(contentsOfFile: image.rootfs + "/etc/passwd", encoding: .utf8)
        #expect(passwd.contains("nonroot:x:65532:65532:"))

        // Its binary runs with the image's files only, as the controller's pod runs it.
        let controller = try ManifestContainer.load("Deployment", "ironlb-controller")
        let security = try controller.security(imageUser: image.configuration["User"] as? String ?? "")
        #expect(security == PodSecurity(user: 65532, group: 65532, addedCapabilities: [], readOnlyRootFilesystem: true, noNewPrivileges: true))
        let serviceAccount = directory + "/serviceaccount"
        try FileManager.default.createDirectory(atPath: serviceAccount, withIntermediateDirectories: true)
        let version = try Shell.run(try image.podCommand(arguments: ["--version"], security: security, environment: [:], serviceAccount: serviceAccount), timeout: 60)
        #expect(version.status == 0, "\(version.stderr)")
        let printed = version.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(printed == labels["org.opencontainers.image.version"], "the binary says \(printed)")
        // The manifests name this image: repository ghcr.io/ironlb/ironlb, tag = the version.
        #expect(try Self.manifestImages() == ["ghcr.io/ironlb/ironlb:\(printed)", "ghcr.io/ironlb/ironlb:\(printed)"])
    }

    /// The credentials the kernel reports for a pod's process.
    static func expectCredentials(_ process: ManagedProcess?, user: Int, capabilities: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let process, let credentials = try? ProcessCredentials(pid: process.pid) else {
            Issue.record("no running process to inspect", sourceLocation: sourceLocation)
            return
        }
        #expect(credentials.userIDs == [user, user, user, user], sourceLocation: sourceLocation)
        #expect(credentials.groupIDs == [user, user, user, user], sourceLocation: sourceLocation)
        #expect(credentials.effective == capabilities && credentials.permitted == capabilities && credentials.bounding == capabilities,
                "CapEff \(String(credentials.effective, radix: 16)) CapBnd \(String(credentials.bounding, radix: 16))", sourceLocation: sourceLocation)
        #expect(credentials.inheritable == 0 && credentials.ambient == 0, sourceLocation: sourceLocation)
        #expect(credentials.noNewPrivileges, sourceLocation: sourceLocation)
        #expect(credentials.rootMountOptions.contains("ro"), "root mounted \(credentials.rootMountOptions)", sourceLocation: sourceLocation)
    }

    static let netRaw: UInt64 = 1 << 13

    /// A lab whose controller and two speakers (node1, node2) run from the image: `prepare`
    /// adds a router or a client first; the Service `web` (an endpoint on node1) is created and
    /// must get `address`; `check` runs next; then every pod's credentials are checked.
    static func withImagePods(config: String, address: String, prepare: (InteropLab) throws -> Void,
                              check: (InteropLab) async throws -> Bool) async throws {
        guard let ironlb = BuiltProducts.require("ironlb") else { return }
        guard let unpacked = try Self.unpack() else { return }
        defer { try? FileManager.default.removeItem(atPath: unpacked.directory) }
        let lab = try InteropLab(ironlb: ironlb, image: unpacked.image)
        defer { lab.tearDown() }
        try lab.addNode("node1", address: "192.0.2.11")
        try lab.addNode("node2", address: "192.0.2.12")
        try prepare(lab)
        try await lab.startControlPlane(config: config, nodes: ["node1", "node2"])
        try await lab.enableProbes(nodeAddresses: ["node1": "192.0.2.11", "node2": "192.0.2.12"])
        try lab.startSpeaker("node1", address: "192.0.2.11", arguments: ["--log-level=debug"])
        try lab.startSpeaker("node2", address: "192.0.2.12")
        #expect(try lab.api("POST", "/api/v1/namespaces/default/services",
                            InteropLab.json(["metadata": ["name": "web"], "spec": ["type": "LoadBalancer", "ports": [["port": 80]]]])).status == 201)
        #expect(try lab.addEndpoints("web", nodes: ["node1"]) == 201)
        let allocated = await poll(timeout: 60) { lab.ingressIP("web") == address }
        #expect(allocated, "the image's controller gave web \(lab.ingressIP("web") ?? "no IP")")
        let checked = try await check(lab)

        // As the manifests run them: the controller as 65532 with nothing, the speakers as 0
        // with NET_RAW only; every root read-only, no_new_privs.
        Self.expectCredentials(lab.processes["controller"], user: 65532, capabilities: 0)
        Self.expectCredentials(lab.processes["node1"], user: 0, capabilities: Self.netRaw)
        Self.expectCredentials(lab.processes["node2"], user: 0, capabilities: Self.netRaw)
        for name in ["controller", "node1", "node2"] { #expect(lab.processes[name]?.isRunning == true, "\(name) exited") }
        if !allocated || !checked { lab.dumpLogs() }
    }

    @Test func bgpServiceFromTheImagesControllerAndSpeakers() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("umoci"), .command("capsh"), .command("unshare"), .command("curl"),
                                    .command("/usr/lib/frr/bgpd"), .command("/usr/bin/vtysh")) else { return }
        try await Self.withImagePods(config: SpeakerBGPInteropTests.ironlbConfig, address: "203.0.113.0", prepare: { lab in
            lab.frr = try FRRRouter(namespace: lab.rtr, config: SpeakerBGPInteropTests.frrConfig)
        }, check: { lab in
            let frr = try #require(lab.frr)
            // FRR learns the Service's route from both of the image's speakers (ECMP).
            var hops: Set<String> = []
            let bothNodes = await poll(timeout: 60, interval: 0.5) {
                hops = frr.nextHops("203.0.113.0/32", family: "ipv4")
                return hops == ["192.0.2.11", "192.0.2.12"]
            }
            // Under the manifest's securityContext (UID 0, only NET_RAW, no_new_privs): every
            // socket option the BGP client sets must be allowed there (it once set SO_DEBUG).
            #expect(bothNodes, "next hops \(hops); sessions \(frr.neighborState("192.0.2.11") ?? "-"), \(frr.neighborState("192.0.2.12") ?? "-")")
            return bothNodes
        })
    }

    @Test func layer2ServiceFromTheImagesControllerAndSpeakers() async throws {
        guard Prerequisites.require(.root, .networkNamespaces, .command("umoci"), .command("capsh"), .command("unshare"), .command("curl"),
                                    .command("arping")) else { return }
        try await Self.withImagePods(config: SpeakerLayer2InteropTests.config, address: "192.0.2.200", prepare: { lab in
            try lab.addNode("client", address: "192.0.2.50")
        }, check: { lab in
            let client = try #require(lab.nodes["client"])
            let macs = [SpeakerLayer2InteropTests.mac(lab.nodes["node1"]!), SpeakerLayer2InteropTests.mac(lab.nodes["node2"]!)]
            // The client's ARP request gets exactly one answer, from one of the image's speakers.
            var answers: [String] = []
            let answered = await poll(timeout: 90, interval: 1) {
                answers = SpeakerLayer2InteropTests.arping(client, "192.0.2.200")
                return !answers.isEmpty
            }
            #expect(answered, "nobody answered ARP for the VIP")
            #expect(Set(answers).count == 1 && macs.contains(answers.first ?? ""), "answers \(answers), node MACs \(macs)")
            return answered
        })
    }
}
