#!/usr/bin/env bash
# ARP reply latency: IronLB's responder (l2-responder, answering a VIP from user space)
# against the Linux kernel answering for an address configured on the same interface (the
# physical reference), measured with arping from a client namespace in the same run,
# interleaved round by round. Prints both medians and the ratio. Run as root.
#
# Usage: bench/l2/arp-latency.sh [ROUNDS] [PINGS_PER_ROUND]
# Builds l2-responder in release mode first (swift build -c release --product l2-responder).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
PINGS=${2:-40}
NS_SW=l2-bench-sw NS_C=l2-bench-client NS_N=l2-bench-node
NODE_MAC=02:00:00:00:02:02
KERNEL_IP=192.0.2.20 VIP=192.0.2.50
WORK=$(mktemp -d /tmp/l2-bench.XXXXXX)
RESPONDER_PID=

cleanup() {
    [[ -n "$RESPONDER_PID" ]] && kill "$RESPONDER_PID" 2>/dev/null || true
    for ns in "$NS_C" "$NS_N" "$NS_SW"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

swift build -c release --product l2-responder >/dev/null
RESPONDER=$(swift build -c release --show-bin-path)/l2-responder

for ns in "$NS_C" "$NS_N" "$NS_SW"; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$NS_SW" link add br0 type bridge mcast_snooping 1 mcast_querier 1
ip link add c0 netns "$NS_C" type veth peer name swc netns "$NS_SW"
ip link add n0 address "$NODE_MAC" netns "$NS_N" type veth peer name swn netns "$NS_SW"
for l in swc swn; do ip -n "$NS_SW" link set "$l" master br0; ip -n "$NS_SW" link set "$l" up; done
ip -n "$NS_SW" link set br0 up
ip -n "$NS_C" addr add 192.0.2.10/24 dev c0 && ip -n "$NS_C" link set c0 up
ip -n "$NS_N" addr add "$KERNEL_IP/24" dev n0 && ip -n "$NS_N" link set n0 up

ip netns exec "$NS_N" "$RESPONDER" --interface n0 --vip "$VIP" >"$WORK/responder.out" 2>&1 &
RESPONDER_PID=$!
for _ in $(seq 50); do grep -q ready "$WORK/responder.out" && break; sleep 0.1; done
sleep 6 # let the takeover burst finish

measure() { # IP OUTFILE: arping RTTs in microseconds, one per line
    ip netns exec "$NS_C" arping -c "$PINGS" -W 0.01 -i c0 "$1" |
        awk '/bytes from/ { for (i = 1; i <= NF; i++) if ($i ~ /^time=/) { v = substr($i, 6); u = $(i + 1); if (u == "msec") v *= 1000; print v } }' >>"$2"
}
for ((r = 0; r < ROUNDS; r++)); do
    measure "$KERNEL_IP" "$WORK/kernel"
    measure "$VIP" "$WORK/ironlb"
done

median() { sort -g "$1" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
K=$(median "$WORK/kernel"); I=$(median "$WORK/ironlb")
echo "arping replies: kernel $(wc -l <"$WORK/kernel"), ironlb $(wc -l <"$WORK/ironlb") (of $((ROUNDS * PINGS)) each)"
echo "median ARP reply latency: kernel ${K} us, ironlb ${I} us, ratio ironlb/kernel $(awk -v i="$I" -v k="$K" 'BEGIN { printf "%.2f", i / k }')"
