#!/usr/bin/env python3
"""A hostile BGP peer on loopback (issue 15, item 4): accepts one session from
`ironlb bgp announce`, completes the OPEN exchange, then floods ROUTE-REFRESH and never reads
(SO_RCVBUF 4 KiB). Samples the speaker's CPU and RSS from /proc every second.

  bench/hostile/bgp-refresh-flood.py --ironlb .build/debug/ironlb [--routes 2000] [--seconds 40]

Prints one line per second (elapsed, CPU % of one core over that second, RSS MB) and a summary:
peak and average CPU, RSS at start and end, whether the speaker closed the session.
Only 127.0.0.1 is used; the speaker is started and killed by PID.
"""
import argparse, os, socket, struct, subprocess, sys, time

def message(kind, body=b""):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body

def open_message(asn):
    caps = b"".join([
        b"\x02\x06\x01\x04\x00\x01\x00\x01",          # multiprotocol IPv4 unicast
        b"\x02\x02\x02\x00",                          # route refresh
        b"\x02\x06\x41\x04" + struct.pack("!I", asn),  # 4-octet AS
    ])
    return message(1, struct.pack("!BHH4sB", 4, asn if asn < 65536 else 23456, 90, socket.inet_aton("192.0.2.1"), len(caps)) + caps)

def sample(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return ticks, rss

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ironlb", required=True)
    parser.add_argument("--routes", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=40)
    args = parser.parse_args()
    asn = 64512
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    prefixes = []
    for index in range(args.routes):
        prefixes += ["--prefix", f"198.51.{100 + index // 256}.{index % 256}/32"]
    speaker = subprocess.Popen([args.ironlb, "bgp", "announce", "--peer", "127.0.0.1", "--peer-port", str(port),
                                "--peer-asn", str(asn), "--local-asn", str(asn), "--router-id", "192.0.2.10",
                                "--log-level", "warning"] + prefixes, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        listener.settimeout(60)
        connection, _ = listener.accept()
        connection.sendall(open_message(asn) + message(4))
        refresh = message(5, struct.pack("!HBB", 1, 0, 1)) * 256
        connection.setblocking(False)
        hz = os.sysconf("SC_CLK_TCK")
        start = time.monotonic()
        last_ticks, rss_start = sample(speaker.pid)
        last_time = start
        cpu, rss = [], []
        closed_at = None
        while time.monotonic() - start < args.seconds:
            try:
                connection.send(refresh)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                if closed_at is None:
                    closed_at = time.monotonic() - start
                time.sleep(0.05)
            now = time.monotonic()
            if now - last_time >= 1:
                ticks, resident = sample(speaker.pid)
                cpu.append(100 * (ticks - last_ticks) / hz / (now - last_time))
                rss.append(resident)
                print(f"{now - start:5.1f}s cpu {cpu[-1]:5.1f}% rss {resident:6.1f} MB", flush=True)
                last_ticks, last_time = ticks, now
        print(f"summary: routes {args.routes}, {args.seconds} s; cpu peak {max(cpu):.0f}% average {sum(cpu) / len(cpu):.0f}%; "
              f"rss start {rss_start:.1f} MB end {rss[-1]:.1f} MB peak {max(rss):.1f} MB; "
              f"session closed by the speaker: {'at %.1f s' % closed_at if closed_at is not None else 'no'}")
    finally:
        speaker.kill()
        speaker.wait()
        listener.close()

if __name__ == "__main__":
    main()
