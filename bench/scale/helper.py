#!/usr/bin/env python3
"""bench-scale's helper (run inside the lab's namespaces by bench/scale/main.swift).

  helper.py mrt FILE COUNT PREFIX             MRT TABLE_DUMP_V2 file with COUNT IPv6 /128s
                                              PREFIX::<n> (for `gobgp mrt inject global`)
  helper.py api HOST:PORT TOKEN VERB COUNT    VERB: slices | services | delete; one keep-alive
                                              HTTP connection, COUNT objects bench-<n>;
                                              prints "first <epoch> last <epoch>" (each
                                              request's answer time)
"""
import http.client
import ipaddress
import json
import struct
import sys
import time


def mrt(path, count, prefix):
    base = int(ipaddress.IPv6Address(prefix + "::"))
    def record(subtype, body):
        return struct.pack("!IHHI", int(time.time()), 13, subtype, len(body)) + body
    # PEER_INDEX_TABLE: collector id, empty view name, one IPv6 AS4 peer.
    peers = struct.pack("!4sHH", bytes([192, 0, 2, 20]), 0, 1)
    peers += struct.pack("!B4s16sI", 0x03, bytes([192, 0, 2, 20]), ipaddress.IPv6Address("2001:db8::20").packed, 64512)
    out = [record(1, peers)]
    nexthop = ipaddress.IPv6Address("2001:db8::20").packed
    # `gobgp mrt inject` exits with its last ~1,000 routes still queued, unsent: the file ends
    # with the first 2,048 routes again, so what is lost is repeats.
    for n in list(range(count)) + list(range(min(count, 2048))):
        address = ipaddress.IPv6Address(base + n).packed
        # ORIGIN IGP, empty AS_PATH, a whole MP_REACH_NLRI (as GoBGP reads it back).
        reach = struct.pack("!HBB", 2, 1, 16) + nexthop + bytes([0, 128]) + address
        attributes = bytes([0x40, 1, 1, 0, 0x40, 2, 0, 0x80, 14, len(reach)]) + reach
        entry = struct.pack("!HIH", 0, int(time.time()), len(attributes)) + attributes
        out.append(record(4, struct.pack("!IB", n, 128) + address + struct.pack("!H", 1) + entry))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def api(server, token, verb, count):
    host, port = server.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    first = last = 0.0
    for n in range(count):
        name = "bench-%d" % n
        if verb == "slices":
            body = {"metadata": {"name": name + "-slice", "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "IPv6",
                    "endpoints": [{"addresses": ["2001:db8:ff::%x" % (n + 1)], "nodeName": "node1", "conditions": {"ready": True}}],
                    "ports": [{"port": 8080, "protocol": "TCP"}]}
            method, path = "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
        elif verb == "services":
            body = {"metadata": {"name": name},
                    "spec": {"type": "LoadBalancer", "ipFamilies": ["IPv6"], "ports": [{"port": 80}]}}
            method, path = "POST", "/api/v1/namespaces/default/services"
        else:
            body = None
            method, path = "DELETE", "/api/v1/namespaces/default/services/" + name
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status not in (200, 201, 202):
            sys.exit("%s %s: HTTP %d" % (method, path, response.status))
        last = time.time()
        if n == 0:
            first = last
    print("first %.6f last %.6f" % (first, last))


if __name__ == "__main__":
    if sys.argv[1] == "mrt":
        mrt(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        api(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
