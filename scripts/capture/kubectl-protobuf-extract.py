#!/usr/bin/env python3
"""Prints the first HTTP/1.1 POST or PUT request found in a pcap (client to PORT) as a fixture.

Usage: kubectl-protobuf-extract.py CAPTURE.pcap PORT "COMMAND THAT MADE IT"
Output: '#' header lines (command, request line, Content-Type, User-Agent), then the body as
hex, 32 bytes a line. Reads classic pcap (Ethernet, Linux cooked v1/v2, raw) with IPv4/TCP;
reassembles each client stream by sequence number. Standard library only.
"""
import struct
import sys


def packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic != 0xA1B2C3D4:
        sys.exit(f"{path}: not a little-endian microsecond pcap (magic {magic:#x})")
    linktype = struct.unpack("<I", data[20:24])[0]
    skip = {1: 14, 113: 16, 276: 20, 101: 0}.get(linktype)
    if skip is None:
        sys.exit(f"{path}: unsupported link type {linktype}")
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        yield data[off + 16 + skip:off + 16 + incl]
        off += 16 + incl


def client_streams(path, port):
    streams = {}
    for p in packets(path):
        if len(p) < 20 or p[0] >> 4 != 4 or p[9] != 6:
            continue
        ihl = (p[0] & 15) * 4
        total = struct.unpack(">H", p[2:4])[0]
        tcp = p[ihl:total]
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if dport == port and payload:
            streams.setdefault(sport, {})[seq] = payload
    return [b"".join(segs[k] for k in sorted(segs)) for segs in streams.values()]


def requests(stream):
    while stream:
        end = stream.find(b"\r\n\r\n")
        if end < 0:
            return
        head = stream[:end].decode("latin-1").split("\r\n")
        stream = stream[end + 4:]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body, stream = stream[:length], stream[length:]
        yield head[0], headers, body


def main():
    path, port, command = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    for stream in client_streams(path, port):
        for line, headers, body in requests(stream):
            if line.startswith(("POST ", "PUT ")):
                print(f"# {command}")
                print(f"# {line}")
                print(f"# Content-Type: {headers.get('content-type', '')}")
                print(f"# User-Agent: {headers.get('user-agent', '')}")
                print(f"# {len(body)} bytes, captured with tcpdump on loopback from kubectl to an insecure KubeSim")
                hexed = body.hex()
                for i in range(0, len(hexed), 64):
                    print(hexed[i:i + 64])
                return
    sys.exit(f"{path}: no POST or PUT to port {port}")


main()
