#!/usr/bin/env python3
"""Split BGP messages out of tcpdump captures into hex fixture files.

Reads libpcap files (Ethernet link type) written by scripts/capture/bgp-fixtures.sh,
reassembles each TCP direction by sequence number, splits the byte stream into BGP
messages (RFC 4271 §4.1 header) and writes one file per distinct message a router
sent: <sender>-<kind>-to-<receiver>[-N].hex. Only flows *sent by* the router whose
namespace the capture came from are taken from that capture, so nothing is doubled.
"""
import argparse
import datetime
import ipaddress
import os
import struct
import sys

ROUTERS = {
    "192.0.2.1": "frr", "2001:db8::1": "frr",
    "192.0.2.2": "bird", "2001:db8::2": "bird",
    "192.0.2.3": "gobgp", "2001:db8::3": "gobgp",
}
ASN = {"frr": 4200000001, "bird": 65002, "gobgp": 65002}
NAMES = {"frr": "FRR", "bird": "BIRD", "gobgp": "GoBGP"}


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        raise SystemExit(f"{path}: not a microsecond libpcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, expected Ethernet")
    off = 24
    while off + 16 <= len(data):
        ts, tsu, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield ts + tsu / 1e6, data[off:off + caplen]
        off += caplen


def tcp_segments(frame):
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6:
            return None
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        tcp = ip[ihl:total]
    elif ethertype == 0x86DD:
        if ip[6] != 6:
            return None  # no extension headers expected here
        plen = struct.unpack("!H", ip[4:6])[0]
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        tcp = ip[40:40 + plen]
    else:
        return None
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return (src, sport, dst, dport), seq, flags, tcp[doff:]


def reassemble(pcap, sender):
    flows = {}  # key -> {"isn": int|None, "segs": {rel: bytes}, "t": first ts}
    for ts, frame in read_pcap(pcap):
        parsed = tcp_segments(frame)
        if not parsed:
            continue
        key, seq, flags, payload = parsed
        if ROUTERS.get(key[0]) != sender:
            continue
        flow = flows.setdefault(key, {"isn": None, "segs": {}, "t": ts})
        if flags & 0x02:  # SYN
            flow["isn"] = seq + 1
            continue
        if not payload:
            continue
        if flow["isn"] is None:
            flow["isn"] = seq  # capture began mid-stream (not expected)
        rel = (seq - flow["isn"]) % (1 << 32)
        flow["segs"].setdefault(rel, payload)
    streams = []
    for key, flow in sorted(flows.items(), key=lambda kv: kv[1]["t"]):
        data = bytearray()
        for rel in sorted(flow["segs"]):
            seg = flow["segs"][rel]
            if rel > len(data):
                print(f"warning: gap in {key} at {len(data)}", file=sys.stderr)
                break
            data += seg[len(data) - rel:]
        streams.append((key, bytes(data)))
    return streams


def split_messages(data):
    off = 0
    while off + 19 <= len(data):
        if data[off:off + 16] != b"\xff" * 16:
            raise SystemExit("marker mismatch: stream out of sync")
        length = struct.unpack("!H", data[off + 16:off + 18])[0]
        if off + length > len(data):
            break
        yield data[off:off + length]
        off += length


def attributes(body):
    off = 0
    while off < len(body):
        flags, code = body[off], body[off + 1]
        if flags & 0x10:
            length = struct.unpack("!H", body[off + 2:off + 4])[0]
            off += 4
        else:
            length = body[off + 2]
            off += 3
        yield code, body[off:off + length]
        off += length


def classify(msg):
    mtype = msg[18]
    if mtype == 1:
        return "open"
    if mtype == 4:
        return "keepalive"
    if mtype == 5:  # RFC 2918; subtypes 1/2 are RFC 7313 BoRR/EoRR
        afi = "ipv6" if msg[20] == 2 else "ipv4"
        return {0: "route-refresh", 1: "route-refresh-borr", 2: "route-refresh-eorr"}.get(msg[21], f"route-refresh-{msg[21]}") + "-" + afi
    if mtype == 3:
        return f"notification-{msg[19]}-{msg[20]}"
    if mtype != 2:
        return f"type{mtype}"
    body = msg[19:]
    wlen = struct.unpack("!H", body[:2])[0]
    alen = struct.unpack("!H", body[2 + wlen:4 + wlen])[0]
    attrs = dict(attributes(body[4 + wlen:4 + wlen + alen]))
    nlri = body[4 + wlen + alen:]
    if wlen == 0 and alen == 0 and not nlri:
        return "eor-ipv4"
    if 15 in attrs and len(attrs) == 1 and len(attrs[15]) == 3:
        return "eor-ipv6" if attrs[15][:2] == b"\x00\x02" else "eor-ipv4mp"
    if nlri:
        return "update-ipv4-withdraw" if wlen else "update-ipv4"
    if 14 in attrs:
        return "update-ipv6"
    if wlen:
        return "withdraw-ipv4"
    if 15 in attrs:
        return "withdraw-ipv6"
    return "update-other"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pcap", action="append", required=True, help="router=path")
    ap.add_argument("--versions", default="")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    today = datetime.date.today().isoformat()
    written = {}
    seen = set()
    for spec in args.pcap:
        sender, path = spec.split("=", 1)
        for key, data in reassemble(path, sender):
            src, sport, dst, dport = key
            receiver = ROUTERS.get(dst, dst)
            family = "v6" if ":" in src else "v4"
            for index, msg in enumerate(split_messages(data), 1):
                kind = classify(msg)
                if (sender, msg) in seen:
                    continue
                seen.add((sender, msg))
                if kind == "keepalive" and any(k.startswith(f"{sender}-keepalive") for k in written):
                    continue
                base = f"{sender}-{kind}-to-{receiver}" + ("-v6" if family == "v6" else "")
                n = 1
                name = base
                while name in written:
                    n += 1
                    name = f"{base}-{n}"
                written[name] = msg
                fmt_src = f"[{src}]" if family == "v6" else src
                fmt_dst = f"[{dst}]" if family == "v6" else dst
                header = [
                    f"# BGP {kind} sent by {NAMES[sender]} (AS {ASN[sender]}) to {NAMES.get(receiver, receiver)}",
                    f"# TCP {fmt_src}:{sport} -> {fmt_dst}:{dport}, message {index} of that stream, {len(msg)} bytes",
                    f"# Captured {today} with tcpdump by scripts/capture/bgp-fixtures.sh ({args.versions})",
                ]
                lines = [" ".join(f"{b:02x}" for b in msg[i:i + 16]) for i in range(0, len(msg), 16)]
                with open(os.path.join(args.out, name + ".hex"), "w") as f:
                    f.write("\n".join(header + lines) + "\n")
    for name in sorted(written):
        print(f"{name}.hex ({len(written[name])} bytes)")


if __name__ == "__main__":
    main()
