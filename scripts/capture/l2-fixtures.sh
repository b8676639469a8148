#!/usr/bin/env bash
# Captures real ARP and NDP frames for the LinkWire fixtures (Tests/Fixtures/l2/*.hex).
#
# Topology (all namespaces are created here and deleted on exit):
#
#   l2-cap-client (c0)  ──veth──  l2-cap-sw: br0 (MLD snooping + querier)  ──veth──  l2-cap-node (n0)
#
# The kernel here is built without CONFIG_VLAN_8021Q (no VLAN interfaces) and without bridge
# VLAN filtering or tc vlan actions, so the 802.1Q frames come from arping -V (a tagged request
# from the client and a tagged gratuitous reply from the node); the bridge forwards them as is.
# Frames are captured with tcpdump on the client's c0 (so both the client's own frames
# and what it receives from the node, VLAN tags included), one pcap per step, and the
# chosen frame of each step is written as hex with a header saying how it was made.
# MAC addresses are fixed so that re-running yields the same bytes.
#
# Usage: sudo scripts/capture/l2-fixtures.sh [OUTPUT_DIR]   (default Tests/Fixtures/l2)
# Needs: root, iproute2, tcpdump, arping (Thomas Habets' arping 2.x), ndisc6.
set -euo pipefail

OUT=${1:-Tests/Fixtures/l2}
NS_SW=l2-cap-sw
NS_C=l2-cap-client
NS_N=l2-cap-node
CLIENT_MAC=02:00:00:00:01:01
NODE_MAC=02:00:00:00:02:02
CLIENT_V4=192.0.2.10
NODE_V4=192.0.2.20
CLIENT_V6=2001:db8::10
NODE_V6=2001:db8::20
NODE_V6_NEW=2001:db8::21
VLAN_ID=100

WORK=$(mktemp -d /tmp/l2-capture.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    for ns in "$NS_C" "$NS_N" "$NS_SW"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

for cmd in ip tcpdump arping ndisc6; do
    command -v "$cmd" >/dev/null || { echo "missing command: $cmd" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "must run as root" >&2; exit 1; }

in_c() { ip netns exec "$NS_C" "$@"; }
in_n() { ip netns exec "$NS_N" "$@"; }
in_sw() { ip netns exec "$NS_SW" "$@"; }

# Bounded poll: poll TRIES INTERVAL CMD...
poll() {
    local tries=$1 interval=$2; shift 2
    for ((i = 0; i < tries; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep "$interval"
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

# Leftovers from an interrupted run.
for ns in "$NS_C" "$NS_N" "$NS_SW"; do ip netns del "$ns" 2>/dev/null || true; done

ip netns add "$NS_SW"; ip netns add "$NS_C"; ip netns add "$NS_N"
for ns in "$NS_SW" "$NS_C" "$NS_N"; do ip -n "$ns" link set lo up; done

in_sw ip link add br0 type bridge mcast_snooping 1 mcast_querier 1
ip link add c0 address "$CLIENT_MAC" netns "$NS_C" type veth peer name swc netns "$NS_SW"
ip link add n0 address "$NODE_MAC" netns "$NS_N" type veth peer name swn netns "$NS_SW"
in_sw ip link set swc master br0
in_sw ip link set swn master br0
for l in br0 swc swn; do in_sw ip link set "$l" up; done

in_c ip addr add "$CLIENT_V4/25" dev c0
in_n ip addr add "$NODE_V4/25" dev n0
in_c ip -6 addr add "$CLIENT_V6/64" dev c0 nodad
in_n ip -6 addr add "$NODE_V6/64" dev n0 nodad
in_c ip link set c0 up
in_n ip link set n0 up

# Link-local addresses leave DAD before anything else is sent.
ll_ready() { ! ip -n "$1" -6 addr show dev "$2" scope link | grep -q tentative && ip -n "$1" -6 addr show dev "$2" scope link | grep -q fe80; }
poll 50 0.2 ll_ready "$NS_C" c0
poll 50 0.2 ll_ready "$NS_N" n0
sleep 1 # let the querier's and the hosts' first MLD reports pass

TCPDUMP_PID=
# capture STEP CMD... : runs CMD while tcpdump records c0 in the client namespace.
capture() {
    local step=$1; shift
    local pcap="$WORK/$step.pcap" log="$WORK/$step.tcpdump.log"
    ip netns exec "$NS_C" tcpdump -Z root -i c0 -n --immediate-mode -U -w "$pcap" 'arp or icmp6 or vlan' 2>"$log" &
    TCPDUMP_PID=$!
    PIDS+=("$TCPDUMP_PID")
    poll 50 0.1 grep -q "listening on" "$log"
    "$@" || echo "($step: the command exited $?: expected when nothing answers, as for gratuitous or tagged ARP here)"
    sleep "${SETTLE:-1}"
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
}

# emit NAME STEP FILTER DESCRIPTION COMMAND: writes the first frame of STEP's pcap matching FILTER.
emit() {
    local name=$1 step=$2 filter=$3 description=$4 command=$5
    local pcap="$WORK/$step.pcap" file="$OUT/$name.hex"
    local summary hex
    summary=$(tcpdump -r "$pcap" -c 1 -n -e -v "$filter" 2>/dev/null)
    [[ -n "$summary" ]] || { echo "no frame matching '$filter' in step $step" >&2; exit 1; }
    hex=$(tcpdump -r "$pcap" -c 1 -n -xx "$filter" 2>/dev/null |
        awk '/^\t0x[0-9a-f]+:/ { for (i = 2; i <= NF; i++) printf "%s", $i } END { print "" }')
    {
        echo "# $description"
        echo "# Captured by scripts/capture/l2-fixtures.sh with tcpdump on the client's c0 (Linux $(uname -r))."
        echo "# Command: $command"
        echo "# Selected with the pcap filter: $filter"
        echo "# Addresses: client $CLIENT_MAC $CLIENT_V4 $CLIENT_V6, node $NODE_MAC $NODE_V4 $NODE_V6"
        echo "# tcpdump -e -v:"
        sed 's/^/#   /' <<<"$summary"
        echo "$hex" | sed 's/../& /g; s/ $//' | fold -w 48 | sed 's/ $//'
    } >"$file"
    echo "wrote $file ($(( ${#hex} / 2 )) bytes)"
}

mkdir -p "$OUT"

# 1. arping's request and the node kernel's reply.
capture arping in_c arping -c 1 -w 2 -i c0 "$NODE_V4"
emit arp-request-arping arping "arp[6:2] = 1 and ether src $CLIENT_MAC" \
    "ARP request (who-has $NODE_V4) sent by arping from the client." "ip netns exec $NS_C arping -c 1 -w 2 -i c0 $NODE_V4"
emit arp-reply-kernel-to-arping arping "arp[6:2] = 2 and ether src $NODE_MAC" \
    "ARP reply from the node's Linux kernel to arping's request." "ip netns exec $NS_C arping -c 1 -w 2 -i c0 $NODE_V4"

# 2. The client kernel's own request (neighbour resolution for a UDP datagram) and the node kernel's reply.
in_c ip neigh flush dev c0
capture kernel-arp in_c bash -c "echo probe > /dev/udp/$NODE_V4/9"
emit arp-request-kernel kernel-arp "arp[6:2] = 1 and ether src $CLIENT_MAC" \
    "ARP request from the client's Linux kernel resolving $NODE_V4." "ip netns exec $NS_C bash -c 'echo probe > /dev/udp/$NODE_V4/9'"
emit arp-reply-kernel kernel-arp "arp[6:2] = 2 and ether src $NODE_MAC" \
    "ARP reply from the node's Linux kernel to the client kernel's request." "ip netns exec $NS_C bash -c 'echo probe > /dev/udp/$NODE_V4/9'"

# 3. Gratuitous ARP, request form and reply form, sent by arping from the node.
capture garp-request in_n arping -U -c 1 -w 1 -i n0 -S "$NODE_V4" "$NODE_V4"
emit garp-request-arping garp-request "arp[6:2] = 1 and ether src $NODE_MAC" \
    "Gratuitous ARP, request form (sender IP = target IP), sent by arping -U from the node." \
    "ip netns exec $NS_N arping -U -c 1 -w 1 -i n0 -S $NODE_V4 $NODE_V4"
capture garp-reply in_n arping -U -P -c 1 -w 1 -i n0 -S "$NODE_V4" "$NODE_V4"
emit garp-reply-arping garp-reply "arp[6:2] = 2 and ether src $NODE_MAC" \
    "Gratuitous ARP, reply form (opcode 2), sent by arping -U -P from the node (this arping's -A is something else)." \
    "ip netns exec $NS_N arping -U -P -c 1 -w 1 -i n0 -S $NODE_V4 $NODE_V4"

# 4. 802.1Q: arping -V tags the frames it builds (see the header on why not a VLAN interface).
VLAN_CMD="arping -c 1 -w 1 -i c0 -V $VLAN_ID -S $CLIENT_V4 $NODE_V4"
capture vlan-request in_c $VLAN_CMD
emit vlan-arp-request-arping vlan-request "vlan $VLAN_ID and arp[6:2] = 1 and ether src $CLIENT_MAC" \
    "ARP request in an 802.1Q frame (VID $VLAN_ID), sent by arping -V from the client." "ip netns exec $NS_C $VLAN_CMD"
VLAN_CMD="arping -U -P -c 1 -w 1 -i n0 -V $VLAN_ID -S $NODE_V4 $NODE_V4"
capture vlan-reply in_n $VLAN_CMD
emit vlan-garp-reply-arping vlan-reply "vlan $VLAN_ID and arp[6:2] = 2 and ether src $NODE_MAC" \
    "Gratuitous ARP, reply form, in an 802.1Q frame (VID $VLAN_ID), sent by arping -U -P -V from the node." "ip netns exec $NS_N $VLAN_CMD"

# 5. ndisc6's Neighbor Solicitation and the node kernel's solicited Neighbor Advertisement.
capture ndisc6 in_c ndisc6 -1 -w 1000 "$NODE_V6" c0
emit ns-ndisc6 ndisc6 "icmp6 and ip6[40] = 135 and ether src $CLIENT_MAC" \
    "ICMPv6 Neighbor Solicitation for $NODE_V6 sent by ndisc6 from the client." "ip netns exec $NS_C ndisc6 -1 -w 1000 $NODE_V6 c0"
emit na-solicited-kernel-to-ndisc6 ndisc6 "icmp6 and ip6[40] = 136 and ether src $NODE_MAC" \
    "Solicited Neighbor Advertisement from the node's Linux kernel answering ndisc6." "ip netns exec $NS_C ndisc6 -1 -w 1000 $NODE_V6 c0"

# 6. The client kernel's Neighbor Solicitation and the node kernel's answer.
in_c ip -6 neigh flush dev c0
capture kernel-ns in_c bash -c "echo probe > /dev/udp/$NODE_V6/9"
emit ns-kernel kernel-ns "icmp6 and ip6[40] = 135 and ether src $CLIENT_MAC" \
    "ICMPv6 Neighbor Solicitation from the client's Linux kernel resolving $NODE_V6." "ip netns exec $NS_C bash -c 'echo probe > /dev/udp/$NODE_V6/9'"
emit na-solicited-kernel kernel-ns "icmp6 and ip6[40] = 136 and ether src $NODE_MAC" \
    "Solicited Neighbor Advertisement from the node's Linux kernel answering the client kernel." "ip netns exec $NS_C bash -c 'echo probe > /dev/udp/$NODE_V6/9'"

# 7. Unsolicited NA: with ndisc_notify=1 the node's kernel announces a new address once DAD completes
#    (the DAD probe, a Neighbor Solicitation from ::, is kept too).
in_n sysctl -q -w net.ipv6.conf.n0.ndisc_notify=1
SETTLE=4 capture unsolicited-na in_n ip -6 addr add "$NODE_V6_NEW/64" dev n0
emit ns-dad-kernel unsolicited-na "icmp6 and ip6[40] = 135 and ether src $NODE_MAC" \
    "Duplicate Address Detection probe (Neighbor Solicitation from ::) from the node's Linux kernel for $NODE_V6_NEW." \
    "ip netns exec $NS_N ip -6 addr add $NODE_V6_NEW/64 dev n0 (net.ipv6.conf.n0.ndisc_notify=1)"
emit na-unsolicited-kernel unsolicited-na "icmp6 and ip6[40] = 136 and ether src $NODE_MAC and ip6 dst ff02::1" \
    "Unsolicited Neighbor Advertisement (override, to ff02::1) from the node's Linux kernel after DAD for $NODE_V6_NEW." \
    "ip netns exec $NS_N ip -6 addr add $NODE_V6_NEW/64 dev n0 (net.ipv6.conf.n0.ndisc_notify=1)"

# 8. The kernel's own gratuitous ARP (RFC 5227 announcement form): with arp_notify=1 Linux
#    announces its addresses when the interface's MAC changes. Change it away and back (a
#    link down/up also triggers it, but races with the bridge port coming up) and keep the
#    announcement made with the node's MAC.
in_n sysctl -q -w net.ipv4.conf.n0.arp_notify=1
GARP_CMD="ip link set n0 address 02:00:00:00:02:03 && sleep 0.5 && ip link set n0 address $NODE_MAC"
SETTLE=2 capture kernel-garp in_n bash -c "$GARP_CMD"
emit garp-request-kernel kernel-garp "arp[6:2] = 1 and ether src $NODE_MAC and arp[14:4] = arp[24:4]" \
    "Gratuitous ARP (request form, RFC 5227 announcement) from the node's Linux kernel on a MAC change (net.ipv4.conf.n0.arp_notify=1)." \
    "ip netns exec $NS_N bash -c '$GARP_CMD'"
