#!/usr/bin/env python3
"""Writes manifests/crds.yaml and charts/ironlb/crds/metallb.io.yaml: the metallb.io
CustomResourceDefinitions IronLB reads (docs/design/crd-config.md), with structural
openAPIV3Schemas. The field lists are IronLB's reader's (Sources/LBConfig/ResourceConfigParser.swift);
Tests/ManifestTests/CRDManifestTests.swift checks that both agree. Run from the repository root."""
import yaml

def string(**extra): return {"type": "string", **extra}
def integer(**extra): return {"type": "integer", **extra}
def boolean(**extra): return {"type": "boolean", **extra}
def array(items, **extra): return {"type": "array", "items": items, **extra}
def obj(properties, required=None, **extra):
    schema = {"type": "object", "properties": properties}
    if required: schema["required"] = required
    schema.update(extra)
    return schema

selector = obj({
    "matchLabels": {"type": "object", "additionalProperties": string()},
    "matchExpressions": array(obj({"key": string(), "operator": string(), "values": array(string())}, ["key", "operator"])),
}, **{"x-kubernetes-map-type": "atomic"})
selectors = array(selector)
duration = string(description="A Go duration, for example 90s.")

kinds = [
    ("IPAddressPool", "ipaddresspools", ["v1beta1"], obj({
        "addresses": array(string(), description="CIDRs, ranges (a-b) or single addresses."),
        "autoAssign": boolean(default=True),
        "avoidBuggyIPs": boolean(default=False),
        "serviceAllocation": obj({
            "priority": integer(),
            "namespaces": array(string()),
            "namespaceSelectors": selectors,
            "serviceSelectors": selectors,
        }),
    }, ["addresses"])),
    ("L2Advertisement", "l2advertisements", ["v1beta1"], obj({
        "ipAddressPools": array(string()),
        "ipAddressPoolSelectors": selectors,
        "nodeSelectors": selectors,
        "interfaces": array(string()),
        "serviceSelectors": selectors,
        "preferredNodeSelectors": array(obj({"weight": integer(), "preference": selector})),
    })),
    ("BGPAdvertisement", "bgpadvertisements", ["v1beta1"], obj({
        "aggregationLength": integer(default=32, minimum=1, maximum=32),
        "aggregationLengthV6": integer(default=128, minimum=0, maximum=128),
        "localPref": integer(minimum=0, maximum=4294967295, format="int64"),
        "communities": array(string()),
        "ipAddressPools": array(string()),
        "ipAddressPoolSelectors": selectors,
        "nodeSelectors": selectors,
        "peers": array(string()),
        "serviceSelectors": selectors,
    })),
    ("Community", "communities", ["v1beta1"], obj({
        "communities": array(obj({"name": string(), "value": string()})),
    })),
    ("BFDProfile", "bfdprofiles", ["v1beta1"], obj({
        "receiveInterval": integer(minimum=10, maximum=60000),
        "transmitInterval": integer(minimum=10, maximum=60000),
        "detectMultiplier": integer(minimum=2, maximum=255),
        "echoInterval": integer(minimum=10, maximum=60000),
        "echoMode": boolean(),
        "passiveMode": boolean(),
        "minimumTtl": integer(minimum=1, maximum=254),
    })),
]

peer_v1beta1 = {
    "myASN": integer(minimum=0, maximum=4294967295, format="int64"),
    "peerASN": integer(minimum=0, maximum=4294967295, format="int64"),
    "peerAddress": string(),
    "sourceAddress": string(),
    "peerPort": integer(minimum=1, maximum=65535, default=179),
    "holdTime": duration,
    "keepaliveTime": duration,
    "routerID": string(),
    "nodeSelectors": selectors,
    "password": string(),
    "bfdProfile": string(),
    "ebgpMultiHop": boolean(),
}
peer_v1beta2 = dict(peer_v1beta1, **{
    "localASN": integer(minimum=0, maximum=4294967295, format="int64"),
    "dynamicASN": string(enum=["internal", "external"]),
    "interface": string(),
    "connectTime": duration,
    "passwordSecret": obj({"name": string(), "namespace": string()}, **{"x-kubernetes-map-type": "atomic"}),
    "enableGracefulRestart": boolean(),
    "vrf": string(),
    "disableMP": boolean(default=False),
    "dualStackAddressFamily": boolean(default=False),
})

def crd(kind, plural, versions):
    served = []
    for index, (version, spec) in enumerate(versions):
        served.append({
            "name": version, "served": True, "storage": index == len(versions) - 1,
            "schema": {"openAPIV3Schema": obj({
                "apiVersion": string(), "kind": string(), "metadata": {"type": "object"},
                "spec": spec, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            })},
            "subresources": {"status": {}},
        })
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.metallb.io", "labels": {"app.kubernetes.io/name": "ironlb"}},
        "spec": {
            "group": "metallb.io", "scope": "Namespaced",
            "names": {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": kind.lower()},
            "versions": served,
        },
    }

documents = [crd(kind, plural, [(v, spec) for v in versions]) for kind, plural, versions, spec in kinds]
documents.append(crd("BGPPeer", "bgppeers", [("v1beta1", obj(peer_v1beta1, ["myASN", "peerASN", "peerAddress"])), ("v1beta2", obj(peer_v1beta2, ["myASN"]))]))

class NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data): return True

header = "# metallb.io CustomResourceDefinitions read by IronLB (generated by scripts/generate-crds.py; do not edit).\n"
text = header + "".join("---\n" + yaml.dump(d, Dumper=NoAliases, sort_keys=False, width=1000) for d in documents)
for path in ["manifests/crds.yaml", "charts/ironlb/crds/metallb.io.yaml"]:
    with open(path, "w") as f: f.write(text)
