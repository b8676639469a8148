import Foundation
import LBConfig
import Testing

/// charts/ironlb: values against the schema, lint, and the rendered objects against
/// manifests/ironlb.yaml.
@Suite(.serialized) struct ChartTests {
    /// Objects keyed by kind/namespace/name, a ConfigMap's `config` text parsed so that
    /// formatting does not count.
    static func normalized(_ objects: [KubeObject]) -> [KubeObject.Key: YAMLValue] {
        var result: [KubeObject.Key: YAMLValue] = [:]
        for object in objects {
            var value = object.value
            if object.kind == "ConfigMap", case .map(var map) = value, case .map(var data)? = map["data"],
               let text = data["config"]?.string, let parsed = try? YAMLValue.documents(text).first {
                data["config"] = parsed
                map["data"] = .map(data)
                value = .map(map)
            }
            result[object.key] = value
        }
        return result
    }

    /// Every difference between two sets of objects, readable.
    static func differences(_ rendered: [KubeObject], _ expected: [KubeObject]) -> [String] {
        let left = normalized(rendered), right = normalized(expected)
        var problems: [String] = []
        for key in Set(left.keys).union(right.keys).sorted() {
            switch (left[key], right[key]) {
            case (nil, _): problems.append("\(key): in the manifests, not rendered by the chart")
            case (_, nil): problems.append("\(key): rendered by the chart, not in the manifests")
            case (let a?, let b?): problems += YAMLValue.differences(a, b).map { "\(key) \($0) (chart != manifests)" }
            }
        }
        return problems
    }

    // MARK: values and schema

    @Test func valuesFileMatchesItsSchema() async throws {
        guard await ChartTool.available() else { return }
        let output = try await ChartTool.run(["validate-values", ChartTool.schema, ChartTool.values])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("Draft7Validator"), "the schema declares draft-07, which every Helm 3 and 4 reads")
    }

    /// Bad values are refused by the independent validator and by Helm itself, naming the key.
    @Test(arguments: [
        ("controller:\n  replicas: two\n", "controller.replicas"),
        ("bogus: 1\n", "bogus"),
        ("logLevel: loud\n", "logLevel"),
        ("controller:\n  leaderElection:\n    leaseDuration: 15\n", "leaseDuration"),
        ("speaker:\n  lease:\n    retryPeriod: soon\n", "retryPeriod"),
        ("speaker:\n  metricsPort: 70000\n", "metricsPort"),
        ("lbClass: not a class\n", "lbClass"),
        ("image:\n  pullPolicy: Sometimes\n", "pullPolicy"),
        ("speaker:\n  tolerations:\n  - {key: a, operator: Maybe}\n", "operator"),
        ("config:\n  inline: [a, b]\n", "inline"),
        ("controller:\n  resources:\n    limits:\n      memory: lots\n", "memory"),
    ])
    func badValuesAreRefused(override: String, key: String) async throws {
        guard await ChartTool.available() else { return }
        let validation = try await ChartTool.validate([override])
        #expect(validation.status == 1, "jsonschema accepted \(override)")
        #expect(validation.stderr.contains(key), "jsonschema's complaint names \(key): \(validation.stderr)")
        guard case .failure(let failure) = try await ChartTool.render([override]) else {
            Issue.record("helm rendered the chart with \(override)")
            return
        }
        #expect(failure.output.stderr.contains("HelmValuesError"), "\(failure.output.stderr)")
    }

    @Test func lintIsClean() async throws {
        guard await ChartTool.available() else { return }
        let output = try await ChartTool.run(["lint", ChartTool.chart])
        #expect(output.status == 0, "\(output.stderr)")
    }

    // MARK: chart versus manifests

    @Test func defaultValuesRenderTheManifestsLessTheNamespace() async throws {
        guard await ChartTool.available() else { return }
        let rendered = try await ChartTool.render().get()
        let manifests = try Artifacts.manifests()
        let expected = manifests.filter { $0.kind != "Namespace" }
        #expect(manifests.count == expected.count + 1)
        let problems = Self.differences(rendered, expected)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test func namespaceCreateRendersExactlyTheManifests() async throws {
        guard await ChartTool.available() else { return }
        let rendered = try await ChartTool.render(["namespace:\n  create: true\n"]).get()
        let problems = Self.differences(rendered, try Artifacts.manifests())
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// The comparison itself notices a difference.
    @Test func aChangedValueShowsAsADifference() async throws {
        guard await ChartTool.available() else { return }
        let rendered = try await ChartTool.render(["namespace:\n  create: true\nspeaker:\n  metricsPort: 9473\n"]).get()
        let problems = Self.differences(rendered, try Artifacts.manifests())
        #expect(problems.contains { $0.contains("DaemonSet/ironlb-system/ironlb-speaker") && $0.contains("9473") })
    }

    // MARK: values reach the objects

    @Test(arguments: ["object", "text"])
    func inlineConfigBecomesTheConfigMap(form: String) async throws {
        guard await ChartTool.available() else { return }
        let example = try Artifacts.manifestsIn("examples/bgp.yaml").one("ConfigMap", "config")
        let text = try #require(example.value.at("data.config")?.string)
        let indented = text.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
        let override = form == "object" ? "config:\n  inline:\n\(indented)\n" : "config:\n  inline: |\n\(indented)\n"
        let rendered = try await ChartTool.render([override]).get()
        let configMap = try rendered.one("ConfigMap", "config")
        #expect(configMap.namespace == "ironlb-system")
        let renderedText = try #require(configMap.value.at("data.config")?.string)
        // The controller reads it exactly as it reads the example.
        let parsed = try ConfigParser.parseConfigValue(renderedText).get()
        #expect(parsed == (try ConfigParser.parseConfigValue(text).get()))
        #expect(try YAMLValue.documents(renderedText) == (try YAMLValue.documents(text)))
    }

    @Test func existingConfigMapIsReadByBothProcesses() async throws {
        guard await ChartTool.available() else { return }
        let rendered = try await ChartTool.render(["config:\n  existingConfigMap: lb-pools\n"]).get()
        #expect(!rendered.contains { $0.kind == "ConfigMap" })
        for (kind, name) in [("Deployment", "ironlb-controller"), ("DaemonSet", "ironlb-speaker")] {
            let args = try rendered.one(kind, name).containers.first?["args"]?.strings ?? []
            #expect(args.contains("--config-name=lb-pools"), "\(kind) \(args)")
        }
    }

    @Test func valuesReachTheWorkloads() async throws {
        guard await ChartTool.available() else { return }
        let override = """
        image: {repository: registry.example/ironlb, tag: "0.1.1", pullPolicy: Always}
        imagePullSecrets: [{name: pull}]
        logLevel: debug
        lbClass: example.com/ironlb
        controller:
          replicas: 3
          leaderElection: {leaseDuration: 20s, renewDeadline: 12s, retryPeriod: 3s}
          nodeSelector: {rack: a}
          tolerations: [{key: dedicated, operator: Equal, value: lb, effect: NoSchedule}]
          resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {cpu: null, memory: 64Mi}}
        speaker:
          lease: {leaseDuration: 12s, renewDeadline: 8s, retryPeriod: 1s}
          nodeSelector: {kubernetes.io/os: null, edge: "true"}
          tolerations: []
        """
        let rendered = try await ChartTool.render([override]).get()
        let controller = try rendered.one("Deployment", "ironlb-controller")
        let speaker = try rendered.one("DaemonSet", "ironlb-speaker")
        #expect(controller.value.at("spec.replicas")?.int == 3)
        for workload in [controller, speaker] {
            let container = try #require(workload.containers.first)
            #expect(container["image"]?.string == "registry.example/ironlb:0.1.1")
            #expect(container["imagePullPolicy"]?.string == "Always")
            #expect(workload.podSpec?["imagePullSecrets"] == .list([.map(["name": .string("pull")])]))
            let args = container["args"]?.strings ?? []
            #expect(args.contains("--log-level=debug") && args.contains("--lb-class=example.com/ironlb"), "\(args)")
        }
        let controllerArgs = controller.containers.first?["args"]?.strings ?? []
        #expect(controllerArgs.contains("--lease-duration=20s") && controllerArgs.contains("--renew-deadline=12s") && controllerArgs.contains("--retry-period=3s"))
        let speakerArgs = speaker.containers.first?["args"]?.strings ?? []
        #expect(speakerArgs.contains("--lease-duration=12s") && speakerArgs.contains("--renew-deadline=8s") && speakerArgs.contains("--retry-period=1s"))
        // Helm merges maps with the defaults; null removes a default key.
        #expect(controller.podSpec?["nodeSelector"] == .map(["kubernetes.io/os": .string("linux"), "rack": .string("a")]))
        #expect(speaker.podSpec?["nodeSelector"] == .map(["edge": .string("true")]))
        #expect(controller.podSpec?["tolerations"]?.list?.first?["key"]?.string == "dedicated")
        #expect(speaker.podSpec?["tolerations"] == nil)
        #expect(controller.containers.first?.at("resources") == .map([
            "requests": .map(["cpu": .string("10m"), "memory": .string("32Mi")]),
            "limits": .map(["memory": .string("64Mi")]),
        ]))
    }

    @Test func leaderElectionOffNeedsASingleReplica() async throws {
        guard await ChartTool.available() else { return }
        let off = "controller:\n  leaderElection:\n    enabled: false\n"
        guard case .failure(let failure) = try await ChartTool.render([off]) else {
            Issue.record("two replicas without leader election rendered")
            return
        }
        #expect(failure.output.stderr.contains("controller.replicas=1"))
        let rendered = try await ChartTool.render([off + "  replicas: 1\n"]).get()
        let args = try rendered.one("Deployment", "ironlb-controller").containers.first?["args"]?.strings ?? []
        #expect(args.contains("--no-leader-elect") && !args.contains("--leader-elect"))
        #expect(!args.contains { $0.hasPrefix("--lease-") })
    }

    @Test func inlineAndExistingConfigAreExclusive() async throws {
        guard await ChartTool.available() else { return }
        let both = "config:\n  existingConfigMap: mine\n  inline: {address-pools: []}\n"
        guard case .failure(let failure) = try await ChartTool.render([both]) else {
            Issue.record("both config forms rendered")
            return
        }
        #expect(failure.output.stderr.contains("exclusive"))
    }

    /// Another release name renames every object consistently: bindings, accounts, Lease.
    @Test func releaseNameAndNamespaceNameTheObjects() async throws {
        guard await ChartTool.available() else { return }
        let rendered = try await ChartTool.render(name: "edge-lb", namespace: "edge").get()
        for object in rendered {
            #expect(object.name?.hasPrefix("edge-lb-") == true, "\(object)")
            if object.kind != "ClusterRole" && object.kind != "ClusterRoleBinding" { #expect(object.namespace == "edge", "\(object)") }
        }
        for binding in rendered where binding.kind?.hasSuffix("Binding") == true {
            #expect(binding.value.at("roleRef.name")?.string == binding.name)
            #expect(binding.value["subjects"]?.list?.first?["namespace"]?.string == "edge")
            #expect(rendered.contains { $0.kind == "ServiceAccount" && $0.name == binding.value["subjects"]?.list?.first?["name"]?.string })
        }
        let args = try rendered.one("Deployment", "edge-lb-controller").containers.first?["args"]?.strings ?? []
        #expect(args.contains("--lease-name=edge-lb-controller"))
    }
}

/// The chart's README documents every value of values.yaml.
@Suite struct ChartReadmeTests {
    /// Paths of the values an operator sets; user-supplied maps and lists count as one value.
    static func valuePaths(_ value: YAMLValue, prefix: String = "") -> [String] {
        let opaque: Set<String> = ["resources", "nodeSelector", "tolerations", "inline"]
        guard case .map(let map) = value else { return [prefix] }
        return map.keys.sorted().flatMap { key -> [String] in
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            return opaque.contains(key) ? [path] : valuePaths(map[key]!, prefix: path)
        }
    }

    @Test func everyValueIsInTheReadme() async throws {
        let values = try #require(YAMLValue.documents(Artifacts.text("charts/ironlb/values.yaml")).first)
        let paths = Self.valuePaths(values)
        #expect(paths.contains("controller.leaderElection.leaseDuration") && paths.count > 20, "\(paths)")
        let readme = try Artifacts.text("charts/ironlb/README.md")
        for path in paths { #expect(readme.contains("| `\(path)` |"), "charts/ironlb/README.md has no row for \(path)") }
    }
}
