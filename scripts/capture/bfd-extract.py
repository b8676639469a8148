#!/usr/bin/env python3
"""Split BFD control packets out of a tcpdump capture into hex fixture files.

Reads the libpcap file (Ethernet link type) written by scripts/capture/bfd-fixtures.sh and
writes one file per distinct UDP payload each router sent:
<sender>-<state>[-poll|-final][-diag-N]-<v4|v6>[-N].hex, with a comment naming the source
port, the TTL / hop limit and the decoded fields (RFC 5880 §4.1).
"""
import ipaddress
import os
import struct
import sys

ROUTERS = {"192.0.2.1": "frr", "2001:db8::1": "frr", "192.0.2.2": "bird", "2001:db8::2": "bird"}
STATES = {0: "admindown", 1: "down", 2: "init", 3: "up"}


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + caplen]
        off += caplen


def udp(frame):
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and ip[9] == 17:
        ihl = (ip[0] & 0x0F) * 4
        src, ttl, family, body = str(ipaddress.IPv4Address(ip[12:16])), ip[8], "v4", ip[ihl:]
    elif ethertype == 0x86DD and ip[6] == 17:
        src, ttl, family, body = str(ipaddress.IPv6Address(ip[8:24])), ip[7], "v6", ip[40:]
    else:
        return None
    sport, dport, length = struct.unpack("!HHH", body[:6])
    return src, ttl, family, sport, dport, body[8:length]


def main():
    pcap, out = sys.argv[1], sys.argv[2]
    seen = set()
    used = {}
    for frame in read_pcap(pcap):
        parsed = udp(frame)
        if not parsed:
            continue
        src, ttl, family, sport, dport, payload = parsed
        sender = ROUTERS.get(src)
        if sender is None or payload in seen or len(payload) < 24:
            continue
        seen.add(payload)
        diag, flags = payload[0] & 0x1F, payload[1]
        state = STATES[flags >> 6]
        name = f"{sender}-{state}"
        if flags & 0x20:
            name += "-poll"
        if flags & 0x10:
            name += "-final"
        if diag:
            name += f"-diag-{diag}"
        name += f"-{family}"
        count = used.get(name, 0) + 1
        used[name] = count
        if count > 1:
            name += f"-{count}"
        mult, plen = payload[2], payload[3]
        my, your, tx, rx, echo = struct.unpack("!IIIII", payload[4:24])
        with open(os.path.join(out, name + ".hex"), "w") as f:
            f.write(f"# {sender} {src} port {sport} -> {dport}, TTL/hop limit {ttl}\n")
            f.write(f"# state {state} diag {diag} flags {flags & 0x3F:#04x} mult {mult} length {plen} "
                    f"my {my} your {your} tx {tx} rx {rx} echo {echo}\n")
            f.write(payload.hex() + "\n")
    print(f"{len(seen)} distinct packets")


if __name__ == "__main__":
    main()
