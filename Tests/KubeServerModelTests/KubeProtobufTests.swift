import Foundation
import NIOCore
import Testing
@testable import KubeModel
@testable import KubeServerModel

/// Real kubectl request bodies under Tests/Fixtures/kube-protobuf (see its README).
enum ProtobufFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kube-protobuf")

    static let services = [
        "service-loadbalancer-web", "service-clusterip-x", "service-nodeport-y", "service-externalname-z",
        "service-clusterip-headless", "service-nodeport-named-target",
    ]
    /// Every other kind kubectl's generators create (the tables generated from k8s.io/api).
    static let otherKinds = [
        "namespace-foo", "configmap-cm", "configmap-config-from-file", "secret-generic-memberlist", "secret-basic-auth",
        "deployment-web", "deployment-multi", "serviceaccount-speaker", "role-reader", "rolebinding-reader",
        "clusterrole-reader", "clusterrolebinding-reader",
    ]
    static var all: [String] { services + otherKinds }

    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        var out: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let digits = Array(line.filter { !$0.isWhitespace })
            var offset = 0
            while offset + 1 < digits.count {
                out.append(UInt8(String(digits[offset...offset + 1]), radix: 16)!)
                offset += 2
            }
        }
        return out
    }

    /// kubectl's own JSON for the object, without the `creationTimestamp: null`s (the object's
    /// and a pod template's) the decoder omits.
    static func expectedJSON(_ name: String) throws -> JSONValue {
        let json = try JSONValue.parse(try Data(contentsOf: directory.appendingPathComponent(name + ".json")))
        #expect(json.value(atPath: "metadata.creationTimestamp") == .null)
        return withoutNullCreationTimestamps(json)
    }

    static func withoutNullCreationTimestamps(_ json: JSONValue) -> JSONValue {
        switch json {
        case .object(let fields):
            var out: [String: JSONValue] = [:]
            for (key, value) in fields where !(key == "creationTimestamp" && value == .null) {
                out[key] = withoutNullCreationTimestamps(value)
            }
            return .object(out)
        case .array(let items): return .array(items.map(withoutNullCreationTimestamps))
        default: return json
        }
    }
}

/// A protobuf writer for building test bodies field by field (field numbers from generated.proto).
struct PB {
    var bytes: [UInt8] = []

    static func varintBytes(_ value: UInt64) -> [UInt8] {
        var value = value, out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    func key(_ number: Int, _ wire: UInt64) -> [UInt8] { PB.varintBytes(UInt64(number) << 3 | wire) }
    func varint(_ number: Int, _ value: UInt64) -> PB { PB(bytes: bytes + key(number, 0) + PB.varintBytes(value)) }
    func int(_ number: Int, _ value: Int64) -> PB { varint(number, UInt64(bitPattern: value)) }
    func bool(_ number: Int, _ value: Bool) -> PB { varint(number, value ? 1 : 0) }
    func raw(_ number: Int, _ payload: [UInt8]) -> PB { PB(bytes: bytes + key(number, 2) + PB.varintBytes(UInt64(payload.count)) + payload) }
    func string(_ number: Int, _ text: String) -> PB { raw(number, Array(text.utf8)) }
    func message(_ number: Int, _ nested: PB) -> PB { raw(number, nested.bytes) }
    func fixed32(_ number: Int, _ value: UInt32) -> PB { PB(bytes: bytes + key(number, 5) + withUnsafeBytes(of: value.littleEndian) { Array($0) }) }
    func fixed64(_ number: Int, _ value: UInt64) -> PB { PB(bytes: bytes + key(number, 1) + withUnsafeBytes(of: value.littleEndian) { Array($0) }) }
    func mapEntry(_ number: Int, _ entryKey: String, _ entryValue: String) -> PB { message(number, PB().string(1, entryKey).string(2, entryValue)) }
    /// Unknown fields of every wire type, as a newer encoder would add.
    func unknowns() -> PB { varint(990, 7).fixed32(991, 1).fixed64(992, 2).string(993, "future") }

    /// `k8s\0` + runtime.Unknown{typeMeta, raw, contentEncoding "", contentType ""} as kubectl sends it.
    static func envelope(apiVersion: String = "v1", kind: String = "Service", _ raw: PB) -> [UInt8] {
        KubeProtobuf.magic + PB().message(1, PB().string(1, apiVersion).string(2, kind)).message(2, raw).string(3, "").string(4, "").bytes
    }
}

@Suite struct ProtobufWireTests {
    @Test(arguments: [
        ([0x00], 0), ([0x01], 1), ([0xac, 0x02], 300), ([0x80, 0x01], 128),
        ([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], UInt64.max),
        // Non-minimal encodings are valid varints.
        ([0x81, 0x80, 0x00], 1),
    ] as [([UInt8], UInt64)])
    func varints(_ bytes: [UInt8], _ value: UInt64) throws {
        var buffer = ByteBuffer(bytes: bytes + [0x55])
        #expect(try buffer.readProtobufVarint() == value)
        #expect(buffer.readableBytes == 1)
    }

    @Test func shortVarintLeavesTheBufferUntouched() throws {
        for bytes in [[], [0x80], [0xff, 0xff], [0xac], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]] as [[UInt8]] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(try buffer.readProtobufVarint() == nil)
            #expect(buffer.readerIndex == 0 && buffer.readableBytes == bytes.count)
        }
    }

    @Test func overlongVarintsAreErrors() {
        // 11 bytes, and a 10th byte with bits past 64.
        for bytes in [[UInt8](repeating: 0xff, count: 10) + [0x01], [UInt8](repeating: 0xff, count: 9) + [0x02]] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: ProtobufDecodeError(.varintOverflow)) { try buffer.readProtobufVarint() }
        }
    }

    /// Found by FuzzKubeProtobuf: an error in a field's value (after its key was read) must
    /// leave the reader index where the field started, as errors in the key do.
    @Test func aFailedFieldReadLeavesTheBufferUntouched() {
        let overlong = [UInt8](repeating: 0xb2, count: 10) + [0x0c]
        for bytes in [[0x22] + overlong, [0x08] + overlong, [0x0a, 0x01, 0x61, 0x22] + overlong, [0x0b]] as [[UInt8]] {
            var buffer = ByteBuffer(bytes: bytes)
            if bytes.first == 0x0a { _ = try? buffer.readProtobufField() }
            let before = buffer.readerIndex
            #expect(throws: ProtobufDecodeError.self) { try buffer.readProtobufField() }
            #expect(buffer.readerIndex == before)
        }
    }

    @Test func fieldsOfEveryWireType() throws {
        var reader = ProtobufReader(bytes: PB().varint(1, 150).fixed64(2, 0x0102_0304_0506_0708).string(3, "hi").fixed32(4, 9).bytes)
        #expect(try reader.next() == ProtobufField(number: 1, value: .varint(150)))
        #expect(try reader.next() == ProtobufField(number: 2, value: .fixed64(0x0102_0304_0506_0708)))
        #expect(try reader.next() == ProtobufField(number: 3, value: .lengthDelimited(ByteBuffer(string: "hi"))))
        #expect(try reader.next() == ProtobufField(number: 4, value: .fixed32(9)))
        #expect(try reader.next() == nil)
    }

    @Test(arguments: [
        ([0x0b], ProtobufDecodeError.Code.unsupportedWireType),  // field 1, SGROUP
        ([0x0c], .unsupportedWireType),  // EGROUP
        ([0x0e], .unsupportedWireType),  // wire type 6
        ([0x0f], .unsupportedWireType),  // wire type 7
        ([0x00, 0x00], .badFieldNumber),  // field 0
        ([0xf8, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00], .badFieldNumber),  // field 2^32-1
        ([0x0a, 0x05, 0x61], .truncated),  // length 5, one byte
        ([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], .truncated),  // length 2^64-1
        ([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], .truncated),  // length 2^32-1
        ([0x09, 0x01, 0x02], .truncated),  // fixed64 with 2 bytes
        ([0x0d, 0x01], .truncated),  // fixed32 with 1 byte
        ([0x08], .truncated),  // key, no value
        ([0x08, 0x80], .truncated),  // unfinished varint value
    ] as [([UInt8], ProtobufDecodeError.Code)])
    func malformedFields(_ bytes: [UInt8], _ code: ProtobufDecodeError.Code) {
        var reader = ProtobufReader(bytes: bytes)
        #expect { try reader.next() } throws: { ($0 as? ProtobufDecodeError)?.code == code }
    }

    /// Byte by byte: a field is nil (and the buffer untouched) until its last byte arrives.
    @Test(arguments: ProtobufFixtures.all)
    func dripFedFieldsAppearWhenComplete(_ name: String) throws {
        let bytes = Array(try ProtobufFixtures.bytes(name).dropFirst(4))
        var whole = ByteBuffer(bytes: bytes)
        var fields: [ProtobufField] = []
        while let field = try whole.readProtobufField() { fields.append(field) }
        #expect(whole.readableBytes == 0 && fields.map(\.number) == [1, 2, 3, 4])
        var buffer = ByteBuffer()
        var got: [ProtobufField] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            let before = buffer.readerIndex
            if let field = try buffer.readProtobufField() {
                got.append(field)
            } else {
                #expect(buffer.readerIndex == before)
            }
        }
        #expect(got == fields)
    }
}

@Suite struct KubeProtobufTests {
    @Test(arguments: ProtobufFixtures.all)
    func kubectlBodiesDecodeToKubectlsJSON(_ name: String) throws {
        let body = try ProtobufFixtures.bytes(name)
        let envelope = try KubeProtobuf.envelope(body)
        let expected = try ProtobufFixtures.expectedJSON(name)
        #expect(.string(envelope.apiVersion) == expected["apiVersion"] && .string(envelope.kind) == expected["kind"])
        #expect(envelope.contentEncoding == "" && envelope.contentType == "")
        let decoded = try KubeProtobuf.decode(body: body)
        #expect(decoded == expected, "\(decoded.serialized())\n!=\n\(expected.serialized())")
    }

    @Test func loadBalancerFixtureFields() throws {
        let decoded = try KubeProtobuf.decode(body: try ProtobufFixtures.bytes("service-loadbalancer-web"))
        #expect(decoded.value(atPath: "spec.type") == "LoadBalancer")
        #expect(decoded.value(atPath: "spec.ports") == [["name": "80", "protocol": "TCP", "port": 80, "targetPort": 80]])
        // Zero values Go's encoder wrote (clusterIP "", nodePort 0, generation 0, …) are gone.
        #expect(decoded.value(atPath: "spec.clusterIP") == nil && decoded.value(atPath: "metadata.generation") == nil)
        #expect(decoded.value(atPath: "spec.publishNotReadyAddresses") == nil && decoded.value(atPath: "spec.healthCheckNodePort") == nil)
        let named = try KubeProtobuf.decode(body: try ProtobufFixtures.bytes("service-nodeport-named-target"))
        #expect(named.value(atPath: "spec.ports")?.arrayValue?.first?["targetPort"] == "http")
        #expect(named.value(atPath: "metadata.namespace") == "kube-system")
    }

    /// A kind without a generated table is named, not decoded.
    @Test func otherKindsAreNamedNotDecoded() throws {
        let body = PB.envelope(kind: "PersistentVolume", PB().message(1, PB().string(1, "pv")))
        let envelope = try KubeProtobuf.envelope(body)
        #expect(envelope.apiVersion == "v1" && envelope.kind == "PersistentVolume")
        #expect(!KubeProtobuf.supports(apiVersion: "v1", kind: "PersistentVolume"))
        #expect(throws: ProtobufDecodeError(.unsupportedKind, "v1 PersistentVolume")) { try KubeProtobuf.decode(envelope) }
    }

    /// The kinds KubeSim serves, plus Pods, ReplicaSets and Scale (its workload controllers and `kubectl scale`).
    @Test func supportedKindsAreTheServedOnes() {
        #expect(KubeProtobuf.supportedKinds.map { "\($0.apiVersion) \($0.kind)" } == [
            "apps/v1 DaemonSet", "apps/v1 Deployment", "apps/v1 ReplicaSet", "autoscaling/v1 Scale",
            "coordination.k8s.io/v1 Lease", "discovery.k8s.io/v1 EndpointSlice", "events.k8s.io/v1 Event",
            "rbac.authorization.k8s.io/v1 ClusterRole", "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
            "rbac.authorization.k8s.io/v1 Role", "rbac.authorization.k8s.io/v1 RoleBinding",
            "v1 ConfigMap", "v1 Event", "v1 Namespace", "v1 Node", "v1 Pod", "v1 Secret", "v1 Service", "v1 ServiceAccount",
        ])
    }

    /// The fuzz target's seed bodies for kinds the generators do not create (fuzz/corpus/kube-protobuf).
    @Test func fuzzSeedsOfOtherKindsDecode() throws {
        let seeds = ProtobufFixtures.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fuzz/corpus/kube-protobuf")
        func decode(_ name: String) throws -> JSONValue {
            try KubeProtobuf.decode(body: Array(try Data(contentsOf: seeds.appendingPathComponent(name + ".bin"))))
        }
        let event = try decode("events-v1-event")
        #expect(event["eventTime"] == "2027-01-15T08:00:00.000123Z" && event.value(atPath: "series.count") == 2 && event.value(atPath: "regarding.name") == "web")
        let lease = try decode("lease")
        #expect(lease.value(atPath: "spec.renewTime") == "2027-01-15T08:00:10.000005Z" && lease.value(atPath: "spec.leaseDurationSeconds") == 40)
        let slice = try decode("endpointslice")
        #expect(slice["addressType"] == "IPv4" && slice["endpoints"] == [["addresses": ["10.244.1.5"], "conditions": ["ready": true], "nodeName": "lab-node-1"]])
        #expect(slice["ports"] == [["name": "http", "protocol": "TCP", "port": 8080]])
        let pod = try decode("pod")
        #expect(pod.value(atPath: "spec.securityContext.supplementalGroups") == [1, 300] && pod.value(atPath: "spec.nodeName") == "lab-node-1")
        #expect(pod.value(atPath: "metadata.labels") == ["app": "web"] && pod["status"] == [:])
        let node = try decode("node")
        #expect(node.value(atPath: "spec.unschedulable") == true && node.value(atPath: "status.addresses") == [["type": "InternalIP", "address": "192.0.2.11"]])
    }

    /// `kubectl create configmap --from-file` of a text and a binary file: `data` and base64 `binaryData`.
    @Test func configMapFromFileKeepsTextAndBinary() throws {
        let decoded = try KubeProtobuf.decode(body: try ProtobufFixtures.bytes("configmap-config-from-file"))
        #expect(decoded.value(atPath: "data.config")?.stringValue?.hasPrefix("address-pools:\n- name: default\n") == true)
        #expect(decoded.value(atPath: "binaryData.blob") == "AAEC/w==")
    }

    /// Field types the generators' bodies do not reach, built from generated.proto field numbers:
    /// MicroTime, Quantity maps, packed repeated varints, RawExtension-free bytes maps, map values
    /// that are messages, a missing map value (its type's zero value).
    @Test func generatedFieldTypes() throws {
        // events.k8s.io/v1 Event: eventTime 2 (MicroTime), series 3 {count 1, lastObservedTime 2}.
        let event = PB().message(1, PB().string(1, "e")).message(2, PB().int(1, 1_700_000_000).int(2, 123_456_000))
            .message(3, PB().int(1, 4).message(2, PB().int(1, 1_700_000_100)))
        let decodedEvent = try KubeProtobuf.decode(body: PB.envelope(apiVersion: "events.k8s.io/v1", kind: "Event", event))
        #expect(decodedEvent["eventTime"] == "2023-11-14T22:13:20.123456Z")
        #expect(decodedEvent["series"] == ["count": 4, "lastObservedTime": "2023-11-14T22:15:00.000000Z"])
        // Pod spec.containers[0].resources.limits {cpu: 500m, memory: (no value)}; securityContext
        // supplementalGroups packed [1, 300] (PodSpec 14 → PodSecurityContext 4).
        let resources = PB().message(1, PB().string(1, "cpu").message(2, PB().string(1, "500m"))).message(1, PB().string(1, "memory"))
        let container = PB().string(1, "app").string(2, "registry.example/app:1").message(8, resources)
        let packed = PB().raw(4, PB.varintBytes(1) + PB.varintBytes(300))
        let pod = PB().message(1, PB().string(1, "p")).message(2, PB().message(2, container).message(14, packed))
        let decodedPod = try KubeProtobuf.decode(body: PB.envelope(kind: "Pod", pod))
        #expect(decodedPod.value(atPath: "spec.containers")?.arrayValue?.first?["resources"] == ["limits": ["cpu": "500m", "memory": "0"]])
        #expect(decodedPod.value(atPath: "spec.securityContext.supplementalGroups") == [1, 300])
        // A truncated packed list is an error naming the field.
        let badPacked = PB().message(1, PB().string(1, "p")).message(2, PB().message(14, PB().raw(4, [0x81])))
        #expect { try KubeProtobuf.decode(body: PB.envelope(kind: "Pod", badPacked)) } throws: {
            ($0 as? ProtobufDecodeError)?.code == .truncated && ($0 as? ProtobufDecodeError)?.field == "spec.securityContext.supplementalGroups"
        }
    }

    /// Every field of the tables kubectl's generators leave out, with unknown fields of every
    /// wire type at each level, and pointer fields set to their zero values (kept, unlike
    /// omitempty ones).
    @Test func everyCommonServiceField() throws {
        let meta = PB().string(1, "").string(2, "web-").string(3, "team-a").string(6, "")
            .varint(7, 0).message(8, PB().int(1, 1_700_000_000).int(2, 5))
            .mapEntry(11, "app", "web").mapEntry(11, "tier", "front")
            .mapEntry(12, "example.com/owner", "ops").mapEntry(12, "note", "")
            .message(13, PB().string(1, "Deployment").string(3, "web").string(4, "u-1").string(5, "apps/v1").bool(6, true))
            .string(14, "example.com/cleanup").unknowns()
        let port1 = PB().string(1, "http").string(2, "TCP").int(3, 80)
            .message(4, PB().int(1, 1).int(2, 0).string(3, "web")).int(5, 0).string(6, "kubernetes.io/h2c").unknowns()
        let port2 = PB().string(1, "dns").string(2, "UDP").int(3, 53).message(4, PB().int(1, 0).int(2, 5353)).int(5, 30053)
        let spec = PB().message(1, port1).message(1, port2).mapEntry(2, "app", "web")
            .string(3, "").string(4, "LoadBalancer").string(5, "198.51.100.7").string(5, "198.51.100.8")
            .string(7, "ClientIP").string(8, "203.0.113.10").string(9, "192.0.2.0/24").string(10, "")
            .string(11, "Local").int(12, 32000).bool(13, false)
            .message(14, PB().message(1, PB().int(1, 10800)))
            .string(18, "10.96.0.10").string(19, "IPv4").string(19, "IPv6").string(17, "PreferDualStack")
            .bool(20, false).string(21, "ironlb.example.com/lb").string(22, "Cluster").string(23, "PreferClose")
            .string(16, "kubernetes.io/hostname")  // topologyKeys: removed in 1.22, skipped
            .unknowns()
        let status = PB().message(1, PB().message(1, PB().string(1, "203.0.113.10").string(2, "").string(3, "VIP")
                .message(4, PB().int(1, 80).string(2, "TCP"))))
            .message(2, PB().string(1, "Ready").string(2, "True").int(3, 2).message(4, PB().int(1, 1_700_000_100)).string(5, "Announced").string(6, ""))
        let body = PB.envelope(PB().message(1, meta).message(2, spec).message(3, status).unknowns())
        let expected: JSONValue = [
            "apiVersion": "v1", "kind": "Service",
            "metadata": [
                "generateName": "web-", "namespace": "team-a", "creationTimestamp": "2023-11-14T22:13:20Z",
                "labels": ["app": "web", "tier": "front"], "annotations": ["example.com/owner": "ops", "note": ""],
                "ownerReferences": [["apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-1", "controller": true]],
                "finalizers": ["example.com/cleanup"],
            ],
            "spec": [
                "ports": [
                    ["name": "http", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c", "port": 80, "targetPort": "web"],
                    ["name": "dns", "protocol": "UDP", "port": 53, "targetPort": 5353, "nodePort": 30053],
                ],
                "selector": ["app": "web"], "type": "LoadBalancer", "externalIPs": ["198.51.100.7", "198.51.100.8"],
                "sessionAffinity": "ClientIP", "loadBalancerIP": "203.0.113.10", "loadBalancerSourceRanges": ["192.0.2.0/24"],
                "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000,
                "sessionAffinityConfig": ["clientIP": ["timeoutSeconds": 10800]],
                "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
                "allocateLoadBalancerNodePorts": false, "loadBalancerClass": "ironlb.example.com/lb",
                "internalTrafficPolicy": "Cluster", "trafficDistribution": "PreferClose",
            ],
            "status": [
                "loadBalancer": ["ingress": [["ip": "203.0.113.10", "ipMode": "VIP", "ports": [["port": 80, "protocol": "TCP"]]]]],
                "conditions": [["type": "Ready", "status": "True", "observedGeneration": 2, "lastTransitionTime": "2023-11-14T22:15:00Z",
                                "reason": "Announced", "message": ""]],
            ],
        ]
        let decoded = try KubeProtobuf.decode(body: body)
        #expect(decoded == expected, "\(decoded.serialized())")
    }

    @Test func externalNameAndNegativeNumbers() throws {
        // int32 -1 is a 10-byte varint on the wire (sign-extended to 64 bits).
        let spec = PB().string(4, "ExternalName").string(10, "example.org").message(1, PB().int(3, -1).message(4, PB().int(2, -2)))
        let decoded = try KubeProtobuf.decode(body: PB.envelope(PB().message(1, PB().string(1, "z")).message(2, spec)))
        #expect(decoded.value(atPath: "spec.externalName") == "example.org")
        #expect(decoded.value(atPath: "spec.ports") == [["port": -1, "targetPort": -2]])
        // Absent non-pointer structs still appear, as encoding/json writes them.
        #expect(decoded["status"] == ["loadBalancer": [:]])
    }

    /// Protobuf's merge rule: a second occurrence of a message field merges into the first;
    /// scalars take the last value, repeated fields append; map keys: the last wins.
    @Test func repeatedMessageFieldsMerge() throws {
        let raw = PB().message(2, PB().string(4, "NodePort").message(1, PB().int(3, 80)).mapEntry(2, "a", "1"))
            .message(1, PB().string(1, "m"))
            .message(2, PB().string(4, "LoadBalancer").message(1, PB().int(3, 443)).mapEntry(2, "a", "2"))
        let decoded = try KubeProtobuf.decode(body: PB.envelope(raw))
        #expect(decoded.value(atPath: "spec.type") == "LoadBalancer")
        #expect(decoded.value(atPath: "spec.ports")?.arrayValue?.compactMap { $0["port"]?.intValue } == [80, 443])
        #expect(decoded.value(atPath: "spec.selector") == ["a": "2"])
        #expect(decoded.value(atPath: "metadata.name") == "m")
    }

    @Test func malformedBodies() throws {
        func code(_ body: [UInt8]) -> ProtobufDecodeError? {
            do {
                _ = try KubeProtobuf.decode(body: body)
                return nil
            } catch {
                return error
            }
        }
        let web = try ProtobufFixtures.bytes("service-loadbalancer-web")
        #expect(code(Array(web.dropFirst()))?.code == .badMagic)
        #expect(code(Array("{\"kind\":\"Service\"}".utf8))?.code == .badMagic)
        #expect(code(KubeProtobuf.magic)?.code == .unsupportedKind)
        // Wrong wire type for a known field, with the field's path.
        let wrongType = code(PB.envelope(PB().message(2, PB().varint(1, 3))))
        #expect(wrongType == ProtobufDecodeError(.wrongWireType, field: "spec.ports[0]", "wire type 0, expected 2"))
        let wrongTypeNested = code(PB.envelope(PB().message(2, PB().message(1, PB().string(3, "80")))))
        #expect(wrongTypeNested?.code == .wrongWireType && wrongTypeNested?.field == "spec.ports[0].port")
        // Invalid UTF-8 in a string.
        let badUTF8 = code(PB.envelope(PB().message(1, PB().raw(1, [0x77, 0xff, 0x65]))))
        #expect(badUTF8?.code == .invalidUTF8 && badUTF8?.field == "metadata.name")
        // IntOrString type other than 0/1; a time past year 9999.
        let badIntOrString = code(PB.envelope(PB().message(2, PB().message(1, PB().message(4, PB().int(1, 2))))))
        #expect(badIntOrString?.code == .invalidValue && badIntOrString?.field == "spec.ports[0].targetPort")
        let badTime = code(PB.envelope(PB().message(1, PB().message(8, PB().int(1, 253_402_300_800)))))
        #expect(badTime?.code == .invalidValue && badTime?.field == "metadata.creationTimestamp")
        // A nested length past its parent's end.
        let pastParent = code(PB.envelope(PB(bytes: [0x12, 0x04, 0x0a, 0x09, 0x18, 0x50])))
        #expect(pastParent?.code == .truncated && pastParent?.field == "spec")
        // Compressed or non-protobuf raw.
        let gzipped = KubeProtobuf.magic + PB().message(1, PB().string(1, "v1").string(2, "Service")).string(3, "gzip").bytes
        #expect(code(gzipped) == ProtobufDecodeError(.unsupportedEncoding, field: "contentEncoding", "gzip"))
        let json = KubeProtobuf.magic + PB().message(1, PB().string(1, "v1").string(2, "Service")).string(4, "application/json").bytes
        #expect(code(json)?.code == .unsupportedEncoding)
    }

    /// Every strict prefix of a real body: an error, except prefixes that end exactly between
    /// two envelope fields (a valid shorter message), which decode without trapping.
    @Test(arguments: ProtobufFixtures.all)
    func everyPrefixIsAnErrorOrAWholerMessage(_ name: String) throws {
        let body = try ProtobufFixtures.bytes(name)
        var boundaries: Set<Int> = [4]
        var buffer = ByteBuffer(bytes: body.dropFirst(4))
        while try buffer.readProtobufField() != nil { boundaries.insert(4 + buffer.readerIndex) }
        #expect(boundaries.count == 5)
        var errors = 0
        for length in 0..<body.count {
            let prefix = Array(body.prefix(length))
            do {
                _ = try KubeProtobuf.decode(body: prefix)
                #expect(boundaries.contains(length), "prefix of \(length) bytes decoded")
            } catch {
                errors += 1
                if length < 4 {
                    #expect(error.code == .badMagic)
                } else if !boundaries.contains(length) {
                    #expect(error.code == .truncated, "prefix of \(length): \(error)")
                }
            }
        }
        #expect(errors >= body.count - 4)
    }

    /// Length bytes made larger than what follows: `.truncated`, at every depth.
    @Test(arguments: ProtobufFixtures.services)
    func lengthsPastTheEndAreTruncated(_ name: String) throws {
        let body = try ProtobufFixtures.bytes(name)
        // Offsets of every length byte of the envelope's raw and of the Service's top-level fields.
        var offsets: [Int] = []
        var env = ByteBuffer(bytes: body.dropFirst(4))
        while let field = try env.readProtobufField() {
            if field.number == 2, case .lengthDelimited(var raw) = field.value {
                let rawStart = 4 + env.readerIndex - raw.readableBytes
                offsets.append(rawStart - 1)  // raw's own length (one byte in every fixture)
                while raw.readableBytes > 0 {
                    let start = rawStart + raw.readerIndex
                    _ = try raw.readProtobufField()
                    offsets.append(start + 1)  // metadata/spec/status length byte
                }
            }
        }
        #expect(offsets.count == 4)
        for offset in offsets {
            for newLength: UInt8 in [0x7f, body[offset] &+ UInt8(body.count - offset)] where newLength < 0x80 {
                var bad = body
                bad[offset] = newLength
                #expect { try KubeProtobuf.decode(body: bad) } throws: { ($0 as? ProtobufDecodeError)?.code == .truncated }
            }
            // A continuation bit turns the length into a multi-byte varint: too long, or past the end.
            var cont = body
            cont[offset] |= 0x80
            #expect(throws: ProtobufDecodeError.self) { try KubeProtobuf.decode(body: cont) }
        }
    }

    /// Every single-byte change (flip all bits, +1, -1) of every real body: an error or an
    /// object, never a trap; the object, when there is one, is a JSON object with a kind.
    @Test(arguments: ProtobufFixtures.all)
    func everyByteMutationIsAnErrorOrAnObject(_ name: String) throws {
        let body = try ProtobufFixtures.bytes(name)
        var decoded = 0, failed = 0
        for position in body.indices {
            let mutations: [(UInt8) -> UInt8] = [{ ~$0 }, { $0 &+ 1 }, { $0 &- 1 }]
            for mutate in mutations {
                var bad = body
                bad[position] = mutate(bad[position])
                do {
                    let object = try KubeProtobuf.decode(body: bad)
                    #expect(object["kind"]?.stringValue != nil)
                    decoded += 1
                } catch {
                    failed += 1
                }
            }
        }
        #expect(decoded + failed == body.count * 3 && failed > 0)
    }
}
