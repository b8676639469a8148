import KubeModel

/// Per-resource defaults and validation (the registry strategies). Callers hold the store lock.
enum SimStrategies {
    static func isDNS1123Subdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(Substring($0), maxLen: 63) }
    }

    static func isLabel(_ s: Substring, maxLen: Int) -> Bool {
        guard !s.isEmpty, s.utf8.count <= maxLen else { return false }
        let ok = s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        return ok && s.first != "-" && s.last != "-"
    }

    static func validateMeta(_ obj: JSONValue, _ r: ResourceDescriptor, name: String) throws(V1Status) {
        if name.isEmpty {
            throw SimErrors.invalid(r, name, [SimErrors.required("metadata.name", "name or generateName is required")])
        }
        switch SimResources.type(r).nameRule {
        case .dns1035Label:
            let first = name.utf8.first ?? 0
            if !isLabel(Substring(name), maxLen: 63) || !(first >= 97 && first <= 122) {
                throw SimErrors.invalid(r, name, [SimErrors.invalidValue("metadata.name", "\"\(name)\"", "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")])
            }
        case .dns1123Label:
            if !isLabel(Substring(name), maxLen: 63) {
                throw SimErrors.invalid(r, name, [SimErrors.invalidValue("metadata.name", "\"\(name)\"", "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")])
            }
        case .dns1123Subdomain:
            if !isDNS1123Subdomain(name) {
                throw SimErrors.invalid(r, name, [SimErrors.invalidValue("metadata.name", "\"\(name)\"", "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")])
            }
        case .pathSegment:
            if name == "." || name == ".." {
                throw SimErrors.invalid(r, name, [SimErrors.invalidValue("metadata.name", "\"\(name)\"", "may not be '\(name)'")])
            }
            for bad in ["/", "%"] where name.contains(bad) {
                throw SimErrors.invalid(r, name, [SimErrors.invalidValue("metadata.name", "\"\(name)\"", "may not contain '\(bad)'")])
            }
        }
        for field in ["labels", "annotations"] {
            if let v = obj.value(atPath: "metadata.\(field)"), !v.isNull {
                guard let o = v.objectValue, o.values.allSatisfy({ $0.stringValue != nil }) else {
                    throw SimErrors.badRequest("metadata.\(field) must be a map of strings")
                }
            }
        }
    }

    static func prepare(_ obj: JSONValue, old: JSONValue?, _ r: ResourceDescriptor, store: SimStore, name: String) throws(V1Status) -> JSONValue {
        switch r {
        case .services: return try service(obj, old: old, store: store, name: name)
        case .leases: return try lease(obj, name: name)
        case .events: return try eventsV1(obj, old: old, name: name)
        case .namespaces:
            var o = obj
            if o.value(atPath: "status.phase") == nil { o.set(["status", "phase"], "Active") }
            if o.value(atPath: "spec.finalizers") == nil { o.set(["spec", "finalizers"], ["kubernetes"]) }
            var labels = o.value(atPath: "metadata.labels")?.objectValue ?? [:]
            labels["kubernetes.io/metadata.name"] = .string(name)
            o.set(["metadata", "labels"], .object(labels))
            return o
        case .secrets:
            var o = obj
            if o["type"] == nil { o["type"] = "Opaque" }
            if let sd = o["stringData"]?.objectValue {
                var data = o["data"]?.objectValue ?? [:]
                for (k, v) in sd { data[k] = .string(Base64.encode(Array((v.stringValue ?? "").utf8))) }
                o["data"] = .object(data)
                o["stringData"] = nil
            }
            return o
        case .endpointSlices:
            guard let at = obj["addressType"]?.stringValue else {
                throw SimErrors.invalid(r, name, [SimErrors.required("addressType")])
            }
            guard ["IPv4", "IPv6", "FQDN"].contains(at) else {
                throw SimErrors.invalid(r, name, [SimErrors.notSupported("addressType", "\"\(at)\"", ["FQDN", "IPv4", "IPv6"])])
            }
            return obj
        case .deployments, .daemonSets:
            return try workload(obj, old: old, r, name: name)
        case .roles, .clusterRoles:
            try policyRules(obj, namespaced: r.namespaced, r, name: name)
            return obj
        case .roleBindings, .clusterRoleBindings:
            try binding(obj, old: old, r, name: name)
            return obj
        case .customResourceDefinitions:
            return try SimCustomResources.prepareDefinition(obj, name: name)
        default:
            return try SimCustomResources.prepare(obj, r, store: store, name: name)
        }
    }

    /// apps/v1 Deployment and DaemonSet validation (k8s `pkg/apis/apps/validation`): a selector
    /// that matches the template's labels and never changes, at least one container; Deployments
    /// default `replicas` to 1.
    static func workload(_ input: JSONValue, old: JSONValue?, _ r: ResourceDescriptor, name: String) throws(V1Status) -> JSONValue {
        var obj = input
        var causes: [StatusCause] = []
        let selector = obj.value(atPath: "spec.selector")
        let matchLabels = selector?["matchLabels"]?.objectValue ?? [:]
        let hasExpressions = !(selector?["matchExpressions"]?.arrayValue ?? []).isEmpty
        if selector == nil || selector!.isNull || (matchLabels.isEmpty && !hasExpressions) {
            causes.append(SimErrors.required("spec.selector"))
        } else {
            let labels = obj.value(atPath: "spec.template.metadata.labels")?.objectValue ?? [:]
            if matchLabels.contains(where: { labels[$0.key] != $0.value }) {
                let shown = "map[string]string{" + labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value.stringValue ?? "")\"" }.joined(separator: ", ") + "}"
                causes.append(SimErrors.invalidValue("spec.template.metadata.labels", shown, "`selector` does not match template `labels`"))
            }
        }
        if let old, let oldSelector = old.value(atPath: "spec.selector"), oldSelector != selector {
            causes.append(SimErrors.invalidValue("spec.selector", "v1.LabelSelector{...}", "field is immutable"))
        }
        if (obj.value(atPath: "spec.template.spec.containers")?.arrayValue ?? []).isEmpty {
            causes.append(SimErrors.required("spec.template.spec.containers"))
        }
        if r == .deployments {
            if let n = obj.value(atPath: "spec.replicas")?.intValue, n < 0 {
                causes.append(SimErrors.invalidValue("spec.replicas", String(n), "must be greater than or equal to 0"))
            } else if obj.value(atPath: "spec.replicas") == nil {
                obj.set(["spec", "replicas"], .int(1))
            }
        }
        if !causes.isEmpty { throw SimErrors.invalid(r, name, causes) }
        return obj
    }

    /// rbac/v1 PolicyRule validation (k8s `pkg/apis/rbac/validation`).
    static func policyRules(_ obj: JSONValue, namespaced: Bool, _ r: ResourceDescriptor, name: String) throws(V1Status) {
        var causes: [StatusCause] = []
        for (i, rule) in (obj["rules"]?.arrayValue ?? []).enumerated() {
            let f = "rules[\(i)]"
            func count(_ k: String) -> Int { rule[k]?.arrayValue?.count ?? 0 }
            if count("verbs") == 0 { causes.append(SimErrors.required(f + ".verbs", "verbs must contain at least one value")) }
            if count("nonResourceURLs") > 0 {
                if namespaced { causes.append(SimErrors.invalidValue(f + ".nonResourceURLs", "[]", "namespaced rules cannot apply to non-resource URLs")) }
                if count("apiGroups") > 0 || count("resources") > 0 || count("resourceNames") > 0 {
                    causes.append(SimErrors.invalidValue(f + ".nonResourceURLs", "[]", "rules cannot apply to both regular resources and non-resource URLs"))
                }
                continue
            }
            if count("apiGroups") == 0 { causes.append(SimErrors.required(f + ".apiGroups", "resource rules must supply at least one api group")) }
            if count("resources") == 0 { causes.append(SimErrors.required(f + ".resources", "resource rules must supply at least one resource")) }
        }
        if !causes.isEmpty { throw SimErrors.invalid(r, name, causes) }
    }

    /// rbac/v1 RoleBinding and ClusterRoleBinding validation: a role reference of the right kind
    /// that never changes, well-formed subjects.
    static func binding(_ obj: JSONValue, old: JSONValue?, _ r: ResourceDescriptor, name: String) throws(V1Status) {
        let rbac = "rbac.authorization.k8s.io"
        var causes: [StatusCause] = []
        let ref = obj["roleRef"] ?? .object([:])
        let group = ref["apiGroup"]?.stringValue ?? ""
        let kind = ref["kind"]?.stringValue ?? ""
        if group != rbac { causes.append(SimErrors.notSupported("roleRef.apiGroup", "\"\(group)\"", [rbac])) }
        let kinds = r == .roleBindings ? ["Role", "ClusterRole"] : ["ClusterRole"]
        if !kinds.contains(kind) { causes.append(SimErrors.notSupported("roleRef.kind", "\"\(kind)\"", kinds)) }
        if (ref["name"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required("roleRef.name")) }
        if let old, let oldRef = old["roleRef"], oldRef != ref {
            causes.append(SimErrors.invalidValue("roleRef", "rbac.RoleRef{...}", "cannot change roleRef"))
        }
        for (i, subject) in (obj["subjects"]?.arrayValue ?? []).enumerated() {
            let f = "subjects[\(i)]"
            let sk = subject["kind"]?.stringValue ?? ""
            if (subject["name"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required(f + ".name")) }
            switch sk {
            case "ServiceAccount":
                let g = subject["apiGroup"]?.stringValue ?? ""
                if !g.isEmpty { causes.append(SimErrors.notSupported(f + ".apiGroup", "\"\(g)\"", [""])) }
                if r == .clusterRoleBindings && (subject["namespace"]?.stringValue ?? "").isEmpty {
                    causes.append(SimErrors.required(f + ".namespace"))
                }
            case "User", "Group":
                let g = subject["apiGroup"]?.stringValue ?? ""
                if g != rbac { causes.append(SimErrors.notSupported(f + ".apiGroup", "\"\(g)\"", [rbac])) }
            default:
                causes.append(SimErrors.notSupported(f + ".kind", "\"\(sk)\"", ["Group", "ServiceAccount", "User"]))
            }
        }
        if !causes.isEmpty { throw SimErrors.invalid(r, name, causes) }
    }

    static func lease(_ obj: JSONValue, name: String) throws(V1Status) -> JSONValue {
        if let d = obj.value(atPath: "spec.leaseDurationSeconds")?.intValue, d <= 0 {
            throw SimErrors.invalid(.leases, name, [SimErrors.invalidValue("spec.leaseDurationSeconds", String(d), "must be greater than 0")])
        }
        if let t = obj.value(atPath: "spec.leaseTransitions")?.intValue, t < 0 {
            throw SimErrors.invalid(.leases, name, [SimErrors.invalidValue("spec.leaseTransitions", String(t), "must be greater than or equal to 0")])
        }
        return obj
    }

    static func eventsV1(_ obj: JSONValue, old: JSONValue?, name: String) throws(V1Status) -> JSONValue {
        var causes: [StatusCause] = []
        if obj["eventTime"] == nil || obj["eventTime"]!.isNull { causes.append(SimErrors.required("eventTime")) }
        if (obj["reportingController"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required("reportingController")) }
        let inst = obj["reportingInstance"]?.stringValue ?? ""
        if inst.isEmpty { causes.append(SimErrors.required("reportingInstance")) }
        if inst.utf8.count > 128 { causes.append(SimErrors.cause("reportingInstance", "FieldValueTooLong", "Too long: may not be more than 128 bytes")) }
        if (obj["action"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required("action")) }
        if (obj["reason"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required("reason")) }
        let type = obj["type"]?.stringValue ?? ""
        if type != "Normal" && type != "Warning" { causes.append(SimErrors.notSupported("type", "\"\(type)\"", ["Normal", "Warning"])) }
        if !causes.isEmpty { throw SimErrors.invalid(.events, name, causes) }
        return obj
    }

    static func family(of ip: String) -> String { ip.contains(":") ? "IPv6" : "IPv4" }

    static func isIP(_ s: String) -> Bool {
        if s.contains(":") {
            return s.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && s.filter { $0 == ":" }.count >= 2
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            guard let v = Int(p), String(v) == p else { return false }
            return v >= 0 && v <= 255
        }
    }

    static func service(_ input: JSONValue, old: JSONValue?, store: SimStore, name: String) throws(V1Status) -> JSONValue {
        var obj = input
        var spec = obj["spec"]?.objectValue ?? [:]
        let oldSpec = old?["spec"]?.objectValue ?? [:]
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        spec["type"] = .string(type)
        var causes: [StatusCause] = []
        let validTypes = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
        if !validTypes.contains(type) { causes.append(SimErrors.notSupported("spec.type", "\"\(type)\"", validTypes)) }
        let oldType = oldSpec["type"]?.stringValue
        let isLB = type == "LoadBalancer"
        let needsNodePorts = type == "NodePort" || isLB

        // loadBalancerClass: LoadBalancer only; immutable; wiped when the type changes away.
        if let cls = spec["loadBalancerClass"], !cls.isNull {
            if !isLB {
                if oldType == "LoadBalancer" {
                    spec["loadBalancerClass"] = nil
                } else {
                    causes.append(SimErrors.forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
                }
            } else if oldType == "LoadBalancer", let oc = oldSpec["loadBalancerClass"], oc != cls {
                causes.append(SimErrors.invalidValue("spec.loadBalancerClass", cls.stringValue.map { "\"\($0)\"" } ?? "null", "may not change once set"))
            }
        } else if isLB, oldType == "LoadBalancer", let oc = oldSpec["loadBalancerClass"], !oc.isNull {
            causes.append(SimErrors.invalidValue("spec.loadBalancerClass", "null", "may not change once set"))
        }

        // Ports.
        var ports = spec["ports"]?.arrayValue ?? []
        let clusterIPIn = spec["clusterIP"]?.stringValue ?? ""
        let headless = clusterIPIn == "None" || (oldSpec["clusterIP"]?.stringValue == "None" && clusterIPIn.isEmpty)
        if ports.isEmpty && type != "ExternalName" && !headless { causes.append(SimErrors.required("spec.ports")) }
        let oldPorts = oldSpec["ports"]?.arrayValue ?? []
        var seen = Set<String>()
        for i in ports.indices {
            var p = ports[i].objectValue ?? [:]
            let proto = p["protocol"]?.stringValue ?? "TCP"
            p["protocol"] = .string(proto)
            if !["TCP", "UDP", "SCTP"].contains(proto) { causes.append(SimErrors.notSupported("spec.ports[\(i)].protocol", "\"\(proto)\"", ["SCTP", "TCP", "UDP"])) }
            let port = p["port"]?.intValue ?? 0
            if port < 1 || port > 65535 { causes.append(SimErrors.invalidValue("spec.ports[\(i)].port", String(port), "must be between 1 and 65535, inclusive")) }
            if !seen.insert("\(port)/\(proto)").inserted { causes.append(SimErrors.cause("spec.ports[\(i)]", "FieldValueDuplicate", "Duplicate value: core.ServicePort{Name:\"\", Protocol:\"\(proto)\", Port:\(port)}")) }
            if ports.count > 1 && (p["name"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required("spec.ports[\(i)].name")) }
            if p["targetPort"] == nil || p["targetPort"]!.isNull || p["targetPort"] == .int(0) || p["targetPort"] == .string("") {
                p["targetPort"] = .int(port)
            }
            if needsNodePorts {
                let allocate = type == "NodePort" || (spec["allocateLoadBalancerNodePorts"]?.boolValue ?? true)
                let np = p["nodePort"]?.intValue ?? 0
                if np == 0 {
                    if let op = oldPorts.first(where: { $0["port"]?.intValue == port && ($0["protocol"]?.stringValue ?? "TCP") == proto }),
                       let onp = op["nodePort"]?.intValue, onp != 0 {
                        p["nodePort"] = .int(onp)
                    } else if allocate {
                        p["nodePort"] = .int(store.allocateNodePort())
                    } else {
                        p["nodePort"] = nil
                    }
                } else {
                    let wasOurs = oldPorts.contains { $0["nodePort"]?.intValue == np }
                    if np < 30000 || np > 32767 {
                        causes.append(SimErrors.invalidValue("spec.ports[\(i)].nodePort", String(np), "provided port is not in the valid range. The range of valid ports is 30000-32767"))
                    } else if !wasOurs && !store.claimNodePort(np) {
                        causes.append(SimErrors.invalidValue("spec.ports[\(i)].nodePort", String(np), "provided port is already allocated"))
                    }
                }
            } else {
                p["nodePort"] = nil
            }
            ports[i] = .object(p)
        }
        if !ports.isEmpty || spec["ports"] != nil { spec["ports"] = ports.isEmpty ? nil : .array(ports) }

        // Cluster IPs and families.
        if type == "ExternalName" {
            spec["clusterIP"] = nil
            spec["clusterIPs"] = nil
            spec["ipFamilies"] = nil
            spec["ipFamilyPolicy"] = nil
            if (spec["externalName"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required("spec.externalName")) }
        } else {
            spec["sessionAffinity"] = spec["sessionAffinity"] ?? "None"
            spec["internalTrafficPolicy"] = spec["internalTrafficPolicy"] ?? "Cluster"
            if clusterIPIn.isEmpty, let oc = oldSpec["clusterIP"], !oc.isNull, oldType != "ExternalName" {
                spec["clusterIP"] = oc
                spec["clusterIPs"] = oldSpec["clusterIPs"]
                if spec["ipFamilies"] == nil { spec["ipFamilies"] = oldSpec["ipFamilies"] }
                if spec["ipFamilyPolicy"] == nil { spec["ipFamilyPolicy"] = oldSpec["ipFamilyPolicy"] }
            } else if let oc = oldSpec["clusterIP"]?.stringValue, !clusterIPIn.isEmpty, oc != clusterIPIn, oldType != "ExternalName" {
                causes.append(SimErrors.invalidValue("spec.clusterIPs[0]", "\"\(clusterIPIn)\"", "may not change once set"))
            }
            if spec["clusterIPs"] == nil || spec["ipFamilies"] == nil || old == nil {
                var policy = spec["ipFamilyPolicy"]?.stringValue
                var families = spec["ipFamilies"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let cip = spec["clusterIP"]?.stringValue ?? ""
                if families.isEmpty, !cip.isEmpty, cip != "None" { families = [family(of: cip)] }
                if policy == nil { policy = families.count > 1 ? nil : "SingleStack" }
                if policy == nil {
                    causes.append(SimErrors.invalidValue("spec.ipFamilyPolicy", "null", "must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified"))
                    policy = "SingleStack"
                }
                if !["SingleStack", "PreferDualStack", "RequireDualStack"].contains(policy!) {
                    causes.append(SimErrors.notSupported("spec.ipFamilyPolicy", "\"\(policy!)\"", ["PreferDualStack", "RequireDualStack", "SingleStack"]))
                }
                if families.isEmpty { families = ["IPv4"] }
                if policy != "SingleStack" && families.count == 1 {
                    if store.dualStack { families.append(families[0] == "IPv4" ? "IPv6" : "IPv4") } else if policy == "RequireDualStack" {
                        causes.append(SimErrors.invalidValue("spec.ipFamilyPolicy", "\"RequireDualStack\"", "this cluster is not configured for dual-stack services"))
                    }
                }
                if policy == "SingleStack" && families.count > 1 {
                    causes.append(SimErrors.invalidValue("spec.ipFamilies", "[]string{\"IPv4\", \"IPv6\"}", "when spec.ipFamilyPolicy is SingleStack only one family may be specified"))
                }
                spec["ipFamilyPolicy"] = .string(policy!)
                spec["ipFamilies"] = .array(families.map { .string($0) })
                if causes.isEmpty {
                    if cip == "None" {
                        spec["clusterIPs"] = ["None"]
                    } else {
                        var ips = spec["clusterIPs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                        if ips.isEmpty, !cip.isEmpty { ips = [cip] }
                        for f in families.dropFirst(ips.count) { ips.append(store.allocateClusterIP(family: f)) }
                        if ips.isEmpty { ips = [store.allocateClusterIP(family: families[0])] }
                        spec["clusterIP"] = .string(ips[0])
                        spec["clusterIPs"] = .array(ips.map { .string($0) })
                    }
                }
            }
        }
        if needsNodePorts {
            let etp = spec["externalTrafficPolicy"]?.stringValue ?? "Cluster"
            spec["externalTrafficPolicy"] = .string(etp)
            if !["Cluster", "Local"].contains(etp) { causes.append(SimErrors.notSupported("spec.externalTrafficPolicy", "\"\(etp)\"", ["Cluster", "Local"])) }
            if isLB {
                if spec["allocateLoadBalancerNodePorts"] == nil { spec["allocateLoadBalancerNodePorts"] = true }
                if etp == "Local" {
                    if (spec["healthCheckNodePort"]?.intValue ?? 0) == 0 {
                        spec["healthCheckNodePort"] = oldSpec["healthCheckNodePort"].flatMap { $0.intValue != 0 ? $0 : nil } ?? .int(store.allocateNodePort())
                    }
                } else {
                    spec["healthCheckNodePort"] = nil
                }
            } else {
                spec["allocateLoadBalancerNodePorts"] = nil
                spec["healthCheckNodePort"] = nil
            }
        } else {
            spec["externalTrafficPolicy"] = nil
            spec["healthCheckNodePort"] = nil
            spec["allocateLoadBalancerNodePorts"] = nil
        }
        for (i, src) in (spec["loadBalancerSourceRanges"]?.arrayValue ?? []).enumerated() {
            let s = src.stringValue ?? ""
            let parts = s.split(separator: "/")
            if parts.count != 2 || !isIP(String(parts[0])) || Int(parts[1]) == nil {
                causes.append(SimErrors.invalidValue("spec.loadBalancerSourceRanges[\(i)]", "\"\(s)\"", "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 "))
            }
        }
        obj["spec"] = .object(spec)

        // Status: ingress ipMode defaults to VIP; validate; cleared when no longer a LoadBalancer.
        var status = obj["status"]?.objectValue ?? [:]
        var lb = status["loadBalancer"]?.objectValue ?? [:]
        if !isLB { lb = [:] }
        if var ingress = lb["ingress"]?.arrayValue {
            for i in ingress.indices {
                var ing = ingress[i].objectValue ?? [:]
                let ip = ing["ip"]?.stringValue ?? ""
                if !ip.isEmpty && !isIP(ip) {
                    causes.append(SimErrors.invalidValue("status.loadBalancer.ingress[\(i)].ip", "\"\(ip)\"", "must be a valid IP address"))
                }
                if let mode = ing["ipMode"]?.stringValue {
                    if ip.isEmpty { causes.append(SimErrors.forbidden("status.loadBalancer.ingress[\(i)].ipMode", "may not be specified when `ip` is not set")) }
                    if !["VIP", "Proxy"].contains(mode) { causes.append(SimErrors.notSupported("status.loadBalancer.ingress[\(i)].ipMode", "\"\(mode)\"", ["Proxy", "VIP"])) }
                } else if !ip.isEmpty {
                    ing["ipMode"] = "VIP"
                }
                ingress[i] = .object(ing)
            }
            lb["ingress"] = .array(ingress)
        }
        status["loadBalancer"] = .object(lb)
        for (i, c) in (status["conditions"]?.arrayValue ?? []).enumerated() {
            let f = "status.conditions[\(i)]"
            if (c["type"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required(f + ".type")) }
            let st = c["status"]?.stringValue ?? ""
            if !["True", "False", "Unknown"].contains(st) { causes.append(SimErrors.notSupported(f + ".status", "\"\(st)\"", ["False", "True", "Unknown"])) }
            if (c["reason"]?.stringValue ?? "").isEmpty { causes.append(SimErrors.required(f + ".reason")) }
            if c["lastTransitionTime"] == nil || c["lastTransitionTime"]!.isNull { causes.append(SimErrors.required(f + ".lastTransitionTime")) }
        }
        obj["status"] = .object(status)
        if !causes.isEmpty { throw SimErrors.invalid(.services, name, causes) }
        return obj
    }
}
