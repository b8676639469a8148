import Testing

/// The controller Deployment and the speaker DaemonSet: security settings, probes, flags.
@Suite struct WorkloadTests {
    struct Workload: Sendable, CustomStringConvertible {
        let kind: String, name: String, subcommand: String, metricsPort: Int
        /// The flags `ironlb <subcommand>` accepts (the lead's interface for both processes).
        let flags: Set<String>
        var description: String { "\(kind)/\(name)" }
    }

    static let controller = Workload(
        kind: "Deployment", name: "ironlb-controller", subcommand: "controller", metricsPort: 7472,
        flags: ["--kubeconfig", "--config-namespace", "--config-name", "--lb-class", "--leader-elect", "--no-leader-elect",
                "--lease-name", "--lease-duration", "--renew-deadline", "--retry-period", "--metrics-address", "--log-level",
                "--ml-secret-name"])
    static let speaker = Workload(
        kind: "DaemonSet", name: "ironlb-speaker", subcommand: "speaker", metricsPort: 7473,
        flags: ["--node-name", "--config-namespace", "--config-name", "--lb-class", "--metrics-address", "--log-level",
                "--lease-duration", "--renew-deadline", "--retry-period"])
    static let workloads = [controller, speaker]
    /// Read by the binary, or (IRONLB_HOST_IP) expanded in its arguments by the kubelet.
    static let knownEnvironment: Set<String> = ["IRONLB_NODE_NAME", "IRONLB_CONFIG_NAMESPACE", "IRONLB_CONFIG_NAME", "IRONLB_LB_CLASS", "IRONLB_LOG_LEVEL",
                                                "IRONLB_HOST_IP", "IRONLB_PROBE_KEY_FILE"]

    static func object(_ workload: Workload, in objects: [KubeObject]? = nil) throws -> KubeObject {
        try (objects ?? Artifacts.manifests()).one(workload.kind, workload.name)
    }

    static func container(_ object: KubeObject) throws -> YAMLValue {
        try #require(object.containers.first)
    }

    // MARK: security

    @Test func controllerIsNonRootReadOnlyWithoutCapabilities() throws {
        let deployment = try Self.object(Self.controller)
        let pod = try #require(deployment.podSpec)
        let container = try Self.container(deployment)
        #expect(deployment.value.at("spec.replicas")?.int == 2)
        #expect(pod.at("securityContext.runAsNonRoot")?.bool == true)
        let uid = try #require(pod.at("securityContext.runAsUser")?.int)
        #expect(uid != 0)
        #expect(pod.at("securityContext.seccompProfile.type")?.string == "RuntimeDefault")
        #expect(container.at("securityContext.allowPrivilegeEscalation")?.bool == false)
        #expect(container.at("securityContext.readOnlyRootFilesystem")?.bool == true)
        #expect(container.at("securityContext.capabilities.drop")?.strings == ["ALL"])
        #expect(container.at("securityContext.capabilities.add") == nil)
        #expect(container.at("securityContext.privileged")?.bool != true)
        #expect(container.at("securityContext.runAsUser") == nil, "the pod-level non-root user must not be overridden")
    }

    /// The controller alone would be admitted by the `restricted` Pod Security level.
    @Test func controllerMeetsRestrictedPodSecurity() throws {
        let deployment = try Self.object(Self.controller)
        let pod = try #require(deployment.podSpec)
        for host in ["hostNetwork", "hostPID", "hostIPC"] { #expect(pod[host]?.bool != true, "\(host)") }
        #expect(pod["volumes"] == nil, "no volumes (restricted allows only a few types; none is needed)")
        for container in deployment.containers {
            for port in container["ports"]?.list ?? [] { #expect(port["hostPort"] == nil) }
            #expect(container.at("securityContext.capabilities.add") == nil)
        }
    }

    @Test func speakerHasHostNetworkAndExactlyNetRaw() throws {
        let daemonSet = try Self.object(Self.speaker)
        let pod = try #require(daemonSet.podSpec)
        let container = try Self.container(daemonSet)
        #expect(pod["hostNetwork"]?.bool == true)
        #expect(pod["dnsPolicy"]?.string == "ClusterFirstWithHostNet")
        #expect(pod["hostPID"]?.bool != true && pod["hostIPC"]?.bool != true)
        #expect(container.at("securityContext.capabilities.add")?.strings == ["NET_RAW"])
        #expect(container.at("securityContext.capabilities.drop")?.strings == ["ALL"])
        #expect(container.at("securityContext.privileged")?.bool != true)
        #expect(container.at("securityContext.allowPrivilegeEscalation")?.bool == false)
        #expect(container.at("securityContext.readOnlyRootFilesystem")?.bool == true)
        #expect(pod.at("securityContext.seccompProfile.type")?.string == "RuntimeDefault")
        // Nothing from the host: the only volume is the probe key Secret.
        #expect(pod.at("volumes")?.description.contains("hostPath") != true, "the speaker mounts nothing from the host")
        #expect(pod.at("volumes")?.description.contains("ironlb-memberlist") == true, "the speaker mounts the probe key Secret")
    }

    /// The controller creates the very Secret the speakers mount (as MetalLB's controller makes
    /// its memberlist Secret), and the speakers wait for it rather than start without a key.
    @Test func controllerCreatesTheProbeKeyTheSpeakersMount() throws {
        let args = try #require(Self.container(Self.object(Self.controller))["args"]?.strings)
        #expect(args.contains("--ml-secret-name=ironlb-memberlist"), "\(args)")
        let volumes = try #require(Self.object(Self.speaker).podSpec?["volumes"]?.list)
        let secret = try #require(volumes.first { $0["name"]?.string == "memberlist" }?["secret"])
        #expect(secret["secretName"]?.string == "ironlb-memberlist")
        #expect(secret["optional"]?.bool != true, "a speaker pod must not start without the key (it reads it once)")
    }

    @Test func speakerTakesItsNodeNameFromTheDownwardAPI() throws {
        let container = try Self.container(Self.object(Self.speaker))
        let env = try #require(container["env"]?.list)
        let nodeName = env.first { $0["name"]?.string == "IRONLB_NODE_NAME" }
        #expect(nodeName?.at("valueFrom.fieldRef.fieldPath")?.string == "spec.nodeName")
    }

    @Test func speakerRunsOnControlPlaneNodes() throws {
        let tolerations = try #require(Self.object(Self.speaker).podSpec?["tolerations"]?.list)
        for key in ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"] {
            #expect(tolerations.contains { $0["key"]?.string == key && $0["operator"]?.string == "Exists" && $0["effect"]?.string == "NoSchedule" }, "\(key)")
        }
    }

    @Test(arguments: workloads)
    func requestsAndLimitsAreSet(_ workload: Workload) throws {
        let container = try Self.container(Self.object(workload))
        for part in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                #expect(container.at("resources.\(part).\(resource)") != nil, "\(workload): resources.\(part).\(resource)")
            }
        }
    }

    // MARK: probes and ports

    @Test(arguments: workloads)
    func probesPointAtTheMetricsServer(_ workload: Workload) throws {
        let object = try Self.object(workload)
        let container = try Self.container(object)
        let ports = container["ports"]?.list ?? []
        func resolve(_ port: YAMLValue?) -> Int? {
            if let number = port?.int { return number }
            return ports.first { $0["name"]?.string == port?.string }?["containerPort"]?.int
        }
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = try #require(container.at("\(probe).httpGet"), "\(workload) has no \(probe).httpGet")
            #expect(get["path"]?.string == path, "\(workload) \(probe)")
            #expect(resolve(get["port"]) == workload.metricsPort, "\(workload) \(probe) port")
            #expect(get["scheme"] == nil || get["scheme"]?.string == "HTTP")
        }
        let args = container["args"]?.strings ?? []
        // The controller on every address of its pod; the speaker (host network) on the node's
        // own IP, which is the pod IP the kubelet probes, not on every interface of the node.
        let host = workload.kind == "DaemonSet" ? "$(IRONLB_HOST_IP)" : "0.0.0.0"
        #expect(args.contains("--metrics-address=\(host):\(workload.metricsPort)"), "\(workload) serves metrics on the probed port")
        if workload.kind == "DaemonSet" {
            let hostIP = (container["env"]?.list ?? []).first { $0["name"]?.string == "IRONLB_HOST_IP" }
            #expect(hostIP?.at("valueFrom.fieldRef.fieldPath")?.string == "status.hostIP")
        }
        #expect(object.value.at("spec.template.metadata.annotations")?["prometheus.io/port"]?.string == "\(workload.metricsPort)")
    }

    // MARK: command line

    @Test(arguments: workloads)
    func argumentsAreFlagsTheProcessAccepts(_ workload: Workload) throws {
        let container = try Self.container(Self.object(workload))
        #expect(container["command"] == nil, "the image's entrypoint is the ironlb binary")
        let args = try #require(container["args"]?.strings)
        #expect(args.first == workload.subcommand)
        for argument in args.dropFirst() {
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            #expect(workload.flags.contains(flag), "\(workload): unknown flag \(argument)")
        }
        for variable in container["env"]?.list ?? [] {
            #expect(Self.knownEnvironment.contains(variable["name"]?.string ?? ""), "\(workload): unknown variable \(variable)")
        }
        let namespace = (container["env"]?.list ?? []).first { $0["name"]?.string == "IRONLB_CONFIG_NAMESPACE" }
        #expect(namespace?.at("valueFrom.fieldRef.fieldPath")?.string == "metadata.namespace", "config and Leases live in the pod's own namespace")
    }

    @Test func controllerElectsALeaderWithItsLease() throws {
        let args = try #require(Self.container(Self.object(Self.controller))["args"]?.strings)
        #expect(args.contains("--leader-elect"))
        #expect(args.contains("--lease-name=ironlb-controller"))
    }

    /// client-go's rule, which the processes enforce too: LeaseDuration > RenewDeadline > 1.2 x RetryPeriod.
    @Test(arguments: workloads)
    func leaseTimingsAreConsistent(_ workload: Workload) throws {
        let args = try #require(Self.container(Self.object(workload))["args"]?.strings)
        func value(_ flag: String) throws -> Double {
            let text = try #require(args.first { $0.hasPrefix(flag + "=") }?.dropFirst(flag.count + 1), "\(workload) sets \(flag)")
            return try #require(GoDuration.seconds(String(text)), "\(flag)=\(text) is a duration")
        }
        let lease = try value("--lease-duration"), renew = try value("--renew-deadline"), retry = try value("--retry-period")
        #expect(lease > renew && renew > 1.2 * retry, "\(workload): \(lease) > \(renew) > 1.2 x \(retry)")
    }
}

/// Go's duration syntax, as far as the manifests use it (`15s`, `1m30s`, `500ms`, `1h`).
enum GoDuration {
    static func seconds(_ text: String) -> Double? {
        var total = 0.0, number = "", rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while let character = rest.first {
            if character.isNumber || character == "." {
                number.append(character); rest = rest.dropFirst(); continue
            }
            guard let value = Double(number) else { return nil }
            number = ""
            if rest.hasPrefix("ms") { total += value / 1000; rest = rest.dropFirst(2) }
            else if rest.hasPrefix("h") { total += value * 3600; rest = rest.dropFirst() }
            else if rest.hasPrefix("m") { total += value * 60; rest = rest.dropFirst() }
            else if rest.hasPrefix("s") { total += value; rest = rest.dropFirst() }
            else { return nil }
        }
        return number.isEmpty ? total : nil
    }
}
