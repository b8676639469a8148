// Field tables for `KubeProtobuf`: protobuf field numbers from k8s.io/api `core/v1/generated.proto`
// and k8s.io/apimachinery `pkg/apis/meta/v1/generated.proto`; JSON names and presence rules from
// the `json` tags of the Go types (`core/v1/types.go`, `meta/v1/types.go`). Fields absent from a
// table (managedFields, topologyKeys, …) are skipped on decode.

extension KubeProtobuf {
    /// Top-level kinds and their message tables.
    static let topLevel: [GroupVersionKind: ProtobufMessageSchema] = [
        GroupVersionKind(apiVersion: "v1", kind: "Service"): service,
    ]

    // meta/v1 Time {seconds 1, nanos 2} has no table: `.time` fields are decoded by `KubeProtobuf.time`.

    /// meta/v1 OwnerReference.
    static let ownerReference = ProtobufMessageSchema("OwnerReference", [
        5: .init("apiVersion", .string, .always),
        1: .init("kind", .string, .always),
        3: .init("name", .string, .always),
        4: .init("uid", .string, .always),
        6: .init("controller", .bool, .pointer),
        7: .init("blockOwnerDeletion", .bool, .pointer),
    ])

    /// meta/v1 ObjectMeta (managedFields, 17, is not decoded: servers own it).
    static let objectMeta = ProtobufMessageSchema("ObjectMeta", [
        1: .init("name", .string, .omitEmpty),
        2: .init("generateName", .string, .omitEmpty),
        3: .init("namespace", .string, .omitEmpty),
        4: .init("selfLink", .string, .omitEmpty),
        5: .init("uid", .string, .omitEmpty),
        6: .init("resourceVersion", .string, .omitEmpty),
        7: .init("generation", .int64, .omitEmpty),
        8: .init("creationTimestamp", .time, .omitEmpty),
        9: .init("deletionTimestamp", .time, .pointer),
        10: .init("deletionGracePeriodSeconds", .int64, .pointer),
        11: .init("labels", .string, .map),
        12: .init("annotations", .string, .map),
        13: .init("ownerReferences", .message(ownerReference), .repeated),
        14: .init("finalizers", .string, .repeated),
    ])

    /// meta/v1 Condition.
    static let condition = ProtobufMessageSchema("Condition", [
        1: .init("type", .string, .always),
        2: .init("status", .string, .always),
        3: .init("observedGeneration", .int64, .omitEmpty),
        4: .init("lastTransitionTime", .time, .always),
        5: .init("reason", .string, .always),
        6: .init("message", .string, .always),
    ])

    /// core/v1 ServicePort.
    static let servicePort = ProtobufMessageSchema("ServicePort", [
        1: .init("name", .string, .omitEmpty),
        2: .init("protocol", .string, .omitEmpty),
        6: .init("appProtocol", .string, .pointer),
        3: .init("port", .int32, .always),
        4: .init("targetPort", .intOrString, .always),
        5: .init("nodePort", .int32, .omitEmpty),
    ])

    /// core/v1 ClientIPConfig and SessionAffinityConfig.
    static let clientIPConfig = ProtobufMessageSchema("ClientIPConfig", [
        1: .init("timeoutSeconds", .int32, .pointer),
    ])
    static let sessionAffinityConfig = ProtobufMessageSchema("SessionAffinityConfig", [
        1: .init("clientIP", .message(clientIPConfig), .pointer),
    ])

    /// core/v1 ServiceSpec (topologyKeys, 16, was removed in 1.22 and is skipped).
    static let serviceSpec = ProtobufMessageSchema("ServiceSpec", [
        1: .init("ports", .message(servicePort), .repeated),
        2: .init("selector", .string, .map),
        3: .init("clusterIP", .string, .omitEmpty),
        18: .init("clusterIPs", .string, .repeated),
        4: .init("type", .string, .omitEmpty),
        5: .init("externalIPs", .string, .repeated),
        7: .init("sessionAffinity", .string, .omitEmpty),
        8: .init("loadBalancerIP", .string, .omitEmpty),
        9: .init("loadBalancerSourceRanges", .string, .repeated),
        10: .init("externalName", .string, .omitEmpty),
        11: .init("externalTrafficPolicy", .string, .omitEmpty),
        12: .init("healthCheckNodePort", .int32, .omitEmpty),
        13: .init("publishNotReadyAddresses", .bool, .omitEmpty),
        14: .init("sessionAffinityConfig", .message(sessionAffinityConfig), .pointer),
        19: .init("ipFamilies", .string, .repeated),
        17: .init("ipFamilyPolicy", .string, .pointer),
        20: .init("allocateLoadBalancerNodePorts", .bool, .pointer),
        21: .init("loadBalancerClass", .string, .pointer),
        22: .init("internalTrafficPolicy", .string, .pointer),
        23: .init("trafficDistribution", .string, .pointer),
    ])

    /// core/v1 PortStatus, LoadBalancerIngress, LoadBalancerStatus, ServiceStatus.
    static let portStatus = ProtobufMessageSchema("PortStatus", [
        1: .init("port", .int32, .always),
        2: .init("protocol", .string, .always),
        3: .init("error", .string, .pointer),
    ])
    static let loadBalancerIngress = ProtobufMessageSchema("LoadBalancerIngress", [
        1: .init("ip", .string, .omitEmpty),
        2: .init("hostname", .string, .omitEmpty),
        3: .init("ipMode", .string, .pointer),
        4: .init("ports", .message(portStatus), .repeated),
    ])
    static let loadBalancerStatus = ProtobufMessageSchema("LoadBalancerStatus", [
        1: .init("ingress", .message(loadBalancerIngress), .repeated),
    ])
    static let serviceStatus = ProtobufMessageSchema("ServiceStatus", [
        1: .init("loadBalancer", .message(loadBalancerStatus), .always),
        2: .init("conditions", .message(condition), .repeated),
    ])

    /// core/v1 Service.
    static let service = ProtobufMessageSchema("Service", [
        1: .init("metadata", .message(objectMeta), .always),
        2: .init("spec", .message(serviceSpec), .always),
        3: .init("status", .message(serviceStatus), .always),
    ])
}
