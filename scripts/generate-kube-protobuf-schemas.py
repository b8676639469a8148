#!/usr/bin/env python3
"""Generates Sources/KubeServerModel/KubeProtobufSchemas.swift: the field tables KubeProtobuf uses to
decode Kubernetes protobuf request bodies into the JSON KubeSim stores.

Inputs are Kubernetes' own published schemas:
  - k8s.io/api            <group>/<version>/generated.proto  (field numbers and protobuf types)
  - k8s.io/api            <group>/<version>/*.go             (`json` tags: JSON names, omitempty, pointers)
  - k8s.io/apimachinery   pkg/apis/meta/v1, pkg/util/intstr, pkg/api/resource, pkg/runtime (same)

Usage:
  scripts/generate-kube-protobuf-schemas.py API_DIR APIMACHINERY_DIR > Sources/KubeServerModel/KubeProtobufSchemas.swift

where API_DIR and APIMACHINERY_DIR are checkouts of github.com/kubernetes/api and
github.com/kubernetes/apimachinery at the same release tag (`TAG` below), for example
  git clone --depth 1 --branch v0.36.3 https://github.com/kubernetes/api
  git clone --depth 1 --branch v0.36.3 https://github.com/kubernetes/apimachinery

Only the messages reachable from `TOP_LEVEL` are emitted. Presence rules (see ProtobufFieldCardinality):
repeated -> .repeated, map -> .map, Go pointer -> .pointer, Go struct (message) -> .always,
scalar with omitempty/omitzero -> .omitEmpty, scalar without -> .always. Messages with a custom JSON
form (Time, MicroTime, IntOrString, Quantity, RawExtension) map to dedicated field types.
"""
import os
import re
import sys

TAG = "v0.36.3"

# (proto package dir relative to its repository, proto package name, Swift prefix)
API_PACKAGES = [
    ("core/v1", "k8s.io.api.core.v1", "coreV1"),
    ("apps/v1", "k8s.io.api.apps.v1", "appsV1"),
    ("discovery/v1", "k8s.io.api.discovery.v1", "discoveryV1"),
    ("coordination/v1", "k8s.io.api.coordination.v1", "coordinationV1"),
    ("events/v1", "k8s.io.api.events.v1", "eventsV1"),
    ("rbac/v1", "k8s.io.api.rbac.v1", "rbacV1"),
    ("autoscaling/v1", "k8s.io.api.autoscaling.v1", "autoscalingV1"),
]
MACHINERY_PACKAGES = [
    ("pkg/apis/meta/v1", "k8s.io.apimachinery.pkg.apis.meta.v1", "metaV1"),
]

# Kinds KubeSim serves (Sources/KubeSim/SimResourceTypes.swift) plus the ones its workload
# controllers and kubectl's generators use: (apiVersion, kind, proto package, message).
TOP_LEVEL = [
    ("v1", "Service", "k8s.io.api.core.v1", "Service"),
    ("v1", "Node", "k8s.io.api.core.v1", "Node"),
    ("v1", "Namespace", "k8s.io.api.core.v1", "Namespace"),
    ("v1", "ConfigMap", "k8s.io.api.core.v1", "ConfigMap"),
    ("v1", "Secret", "k8s.io.api.core.v1", "Secret"),
    ("v1", "ServiceAccount", "k8s.io.api.core.v1", "ServiceAccount"),
    ("v1", "Event", "k8s.io.api.core.v1", "Event"),
    ("v1", "Pod", "k8s.io.api.core.v1", "Pod"),
    ("discovery.k8s.io/v1", "EndpointSlice", "k8s.io.api.discovery.v1", "EndpointSlice"),
    ("coordination.k8s.io/v1", "Lease", "k8s.io.api.coordination.v1", "Lease"),
    ("events.k8s.io/v1", "Event", "k8s.io.api.events.v1", "Event"),
    ("apps/v1", "Deployment", "k8s.io.api.apps.v1", "Deployment"),
    ("apps/v1", "DaemonSet", "k8s.io.api.apps.v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet", "k8s.io.api.apps.v1", "ReplicaSet"),
    ("rbac.authorization.k8s.io/v1", "Role", "k8s.io.api.rbac.v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "k8s.io.api.rbac.v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "k8s.io.api.rbac.v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "k8s.io.api.rbac.v1", "ClusterRoleBinding"),
    ("autoscaling/v1", "Scale", "k8s.io.api.autoscaling.v1", "Scale"),
]

# Messages with their own JSON form: fully qualified proto name -> ProtobufFieldType case.
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": ".time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": ".microTime",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": ".intOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": ".quantity",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": ".rawExtension",
}
# Fields servers own and clients' bodies carry only by accident: skipped on decode.
SKIPPED = {("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", 17)}  # managedFields

SCALARS = {"string": ".string", "int32": ".int32", "int64": ".int64", "bool": ".bool", "bytes": ".bytes"}

FIELD_RE = re.compile(r"^\s*(optional|repeated|required)?\s*(map<\s*string\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")
GO_FIELD_RE = re.compile(r'^\t(?:(\w+)\s+)?([^\s`]+)\s+`json:"([^"]*)"([^`]*)`')
PROTOBUF_TAG_RE = re.compile(r'protobuf:"([^"]*)"')


def strip_comments(text):
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def parse_proto(path, package):
    """{qualified message name: [(label, type, map value type, name, number)]}"""
    text = strip_comments(open(path).read())
    messages = {}
    for m in re.finditer(r"^message\s+(\w+)\s*\{(.*?)^\}", text, re.S | re.M):
        fields = []
        for line in m.group(2).splitlines():
            f = FIELD_RE.match(line)
            if not f:
                if line.strip() and not line.strip().startswith(("reserved", "option")):
                    sys.exit(f"{path}: message {m.group(1)}: cannot parse {line!r}")
                continue
            label, type_, map_value, name, number = f.groups()
            fields.append((label or "optional", type_, map_value, name, int(number)))
        messages[package + "." + m.group(1)] = fields
    return messages


def parse_go(directory):
    """{struct name: {proto field number: (go type, json name, omitempty)}}"""
    structs = {}
    for file in sorted(os.listdir(directory)):
        if not file.endswith(".go") or file.endswith("_test.go") or file.startswith("zz_generated"):
            continue
        current = None
        for line in open(os.path.join(directory, file)):
            start = re.match(r"^type (\w+) struct \{", line)
            if start:
                current = structs.setdefault(start.group(1), {})
                continue
            if line.startswith("}"):
                current = None
                continue
            if current is None:
                continue
            f = GO_FIELD_RE.match(line)
            tag = PROTOBUF_TAG_RE.search(f.group(4)) if f else None
            if not tag:
                continue
            go_type, json_tag, proto_tag = f.group(2), f.group(3), tag.group(1)
            parts = json_tag.split(",")
            number = int(proto_tag.split(",")[1])
            current[number] = (go_type, parts[0], "omitempty" in parts[1:] or "omitzero" in parts[1:])
    return structs


def resolve(type_, package, messages):
    if type_ in SCALARS:
        return type_
    name = type_.lstrip(".")
    if name in messages or name in SPECIAL:
        return name
    local = package + "." + type_
    if local in messages or local in SPECIAL:
        return local
    sys.exit(f"unknown type {type_} in {package}")


def swift_name(qualified, prefixes):
    package, _, message = qualified.rpartition(".")
    return prefixes[package] + message


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    api, machinery = sys.argv[1], sys.argv[2]
    messages, go_structs, prefixes = {}, {}, {}
    for root, packages in ((api, API_PACKAGES), (machinery, MACHINERY_PACKAGES)):
        for directory, package, prefix in packages:
            messages.update(parse_proto(os.path.join(root, directory, "generated.proto"), package))
            go_structs[package] = parse_go(os.path.join(root, directory))
            prefixes[package] = prefix

    # Messages reachable from the top-level kinds, in dependency order (leaves first).
    order, state = [], {}

    def visit(qualified):
        if qualified in SPECIAL or qualified in SCALARS:
            return
        if state.get(qualified) == "done":
            return
        if state.get(qualified) == "visiting":
            sys.exit(f"cycle through {qualified}: tables are values, cycles cannot be emitted")
        state[qualified] = "visiting"
        package = qualified.rpartition(".")[0]
        for label, type_, map_value, name, number in messages[qualified]:
            if (qualified, number) in SKIPPED:
                continue
            visit(resolve(map_value or type_, package, messages))
        state[qualified] = "done"
        order.append(qualified)

    for _, _, package, message in TOP_LEVEL:
        visit(package + "." + message)

    out = [
        "// GENERATED by scripts/generate-kube-protobuf-schemas.py from k8s.io/api and k8s.io/apimachinery",
        f"// {TAG} (generated.proto field numbers and types; Go `json` tags for names and presence). Do not edit.",
        "",
        "extension KubeProtobuf {",
        "    /// Top-level kinds and their message tables.",
        "    static let topLevel: [GroupVersionKind: ProtobufMessageSchema] = [",
    ]
    for api_version, kind, package, message in TOP_LEVEL:
        out.append(f'        GroupVersionKind(apiVersion: "{api_version}", kind: "{kind}"): {swift_name(package + "." + message, prefixes)},')
    out += ["    ]", ""]
    for qualified in order:
        package, _, message = qualified.rpartition(".")
        go = go_structs[package].get(message)
        if go is None:
            sys.exit(f"no Go struct for {qualified}")
        out.append(f"    static let {swift_name(qualified, prefixes)} = ProtobufMessageSchema(\"{message}\", [")
        for label, type_, map_value, name, number in messages[qualified]:
            if (qualified, number) in SKIPPED:
                continue
            if number not in go:
                sys.exit(f"{qualified}.{name} ({number}) has no Go field with that protobuf tag")
            go_type, json_name, omitempty = go[number]
            if not json_name or json_name == "-":
                continue
            target = resolve(map_value or type_, package, messages)
            if target in SCALARS:
                swift_type = SCALARS[target]
            elif target in SPECIAL:
                swift_type = SPECIAL[target]
            else:
                swift_type = f".message({swift_name(target, prefixes)})"
            if map_value:
                cardinality = ".map"
            elif label == "repeated":
                cardinality = ".repeated"
            elif go_type.startswith("*"):
                cardinality = ".pointer"
            elif target not in SCALARS and target not in (
                    "k8s.io.apimachinery.pkg.apis.meta.v1.Time", "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime"):
                cardinality = ".always"  # encoding/json's omitempty never drops a struct
            else:
                cardinality = ".omitEmpty" if omitempty else ".always"
            out.append(f'        {number}: ProtobufFieldSchema("{json_name}", {swift_type}, {cardinality}),')
        out.append("    ])")
    out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
