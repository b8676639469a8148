#!/usr/bin/env python3
"""Idle and half-sent connections against an observability endpoint (issue 15, item 7).

  bench/hostile/idle-connections.py --port PORT [--host 127.0.0.1] [--connections 2000] [--seconds 60]

Opens the connections (half of them send nothing, half send an unfinished request head), waits,
then counts how many the server still holds open, and checks that /healthz still answers.
"""
import argparse, errno, resource, socket, time

def still_open(sock):
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return len(data) > 0
    except BlockingIOError:
        return True
    except OSError:
        return False

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 256)), hard))
    sockets = []
    refused = 0
    for index in range(args.connections):
        sock = socket.socket()
        try:
            sock.connect((args.host, args.port))
        except OSError:
            refused += 1
            sock.close()
            continue
        if index % 2:
            sock.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sockets.append(sock)
    opened = len(sockets)
    counts = {}
    start = time.monotonic()
    for mark in (1, 10, args.seconds):
        time.sleep(max(0, mark - (time.monotonic() - start)))
        counts[mark] = sum(1 for sock in sockets if still_open(sock))
    probe = socket.create_connection((args.host, args.port), timeout=10)
    probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status = probe.recv(64).split(b"\r\n")[0].decode(errors="replace")
    print(f"connected {opened} of {args.connections} (refused {refused}); still open after "
          + ", ".join(f"{mark} s: {count}" for mark, count in counts.items())
          + f"; /healthz afterwards: {status}")
    for sock in sockets:
        sock.close()

if __name__ == "__main__":
    main()
