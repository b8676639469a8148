#!/usr/bin/env bash
# Capture real BFD control packets exchanged by FRR's bfdd and BIRD's `protocol bfd` and store
# them as hex fixtures under Tests/Fixtures/bfd (see scripts/capture/bfd-extract.py).
#
# Topology (namespaces created here, prefix "bfdcap-"): a veth pair
#   bfdcap-frr  (FRR bfdd, 192.0.2.1 / 2001:db8::1) ── bfdcap-bird (BIRD, 192.0.2.2 / 2001:db8::2)
# Sessions: single hop over IPv4 and IPv6 (UDP 3784, RFC 5881), 300 ms × 3 at first.
# Then: FRR's IPv4 profile changes to 200 ms (a Poll Sequence), FRR shuts the IPv4 peer down
# (AdminDown), brings it back, and BIRD is frozen (SIGSTOP) until FRR's detection time expires
# (Down with diagnostic 1).
#
# Usage: scripts/capture/bfd-fixtures.sh [OUTPUT_DIR]   (root; default Tests/Fixtures/bfd)
# Needs: frr bird2 tcpdump iproute2 python3. Kills only the PIDs it started.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/Tests/Fixtures/bfd}"
work="$(mktemp -d /tmp/bfd-capture.XXXXXX)"
chmod 755 "$work"
pids=()
namespaces=(bfdcap-frr bfdcap-bird)

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
    set +e
    [ -f "$work/bird.pid" ] && kill -CONT "$(cat "$work/bird.pid")" 2>/dev/null
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for f in "$work"/frr/*.pid "$work"/bird.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    sleep 1
    for f in "$work"/frr/*.pid "$work"/bird.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
    log "work dir kept: $work"
}
trap cleanup EXIT

wait_for() {
    local what="$1" timeout="$2"; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then log "timeout waiting for $what"; return 1; fi
        sleep 0.5
    done
    log "$what"
}

for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n bfdcap-frr link add eth0 type veth peer name eth0 netns bfdcap-bird
ip -n bfdcap-frr addr add 192.0.2.1/24 dev eth0
ip -n bfdcap-frr addr add 2001:db8::1/64 dev eth0 nodad
ip -n bfdcap-bird addr add 192.0.2.2/24 dev eth0
ip -n bfdcap-bird addr add 2001:db8::2/64 dev eth0 nodad
ip -n bfdcap-frr link set eth0 up
ip -n bfdcap-bird link set eth0 up
for r in frr bird; do
    wait_for "link-local on $r" 10 sh -c "ip -n bfdcap-$r -6 addr show dev eth0 scope link | grep -q 'inet6 fe80' && ! ip -n bfdcap-$r -6 addr show dev eth0 | grep -q tentative"
done

ip netns exec bfdcap-frr tcpdump -i eth0 -n -s 0 -U --immediate-mode -w "$work/bfd.pcap" 'udp port 3784 or udp port 4784' 2>"$work/tcpdump.log" &
pids+=($!)
sleep 1

mkdir -p "$work/frr"
cat >"$work/frr/frr.conf" <<'CONF'
frr defaults traditional
hostname frr
!
bfd
 profile fast
  receive-interval 300
  transmit-interval 300
  detect-multiplier 3
 !
 peer 192.0.2.2 interface eth0
  profile fast
 !
 peer 2001:db8::2 interface eth0
  profile fast
 !
!
CONF
touch "$work/frr/vtysh.conf"
chown -R frr:frr "$work/frr"
for d in zebra bfdd; do
    ip netns exec bfdcap-frr "/usr/lib/frr/$d" -d -f "$work/frr/frr.conf" -i "$work/frr/$d.pid" \
        -z "$work/frr/zserv.api" --vty_socket "$work/frr" -P 0 --log "file:$work/frr/$d.log"
    sleep 1
done
vty() { ip netns exec bfdcap-frr vtysh --vty_socket "$work/frr" "$@"; }

cat >"$work/bird.conf" <<'CONF'
router id 192.0.2.2;
protocol device {}
protocol bfd {
    interface "eth0" { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; };
    neighbor 192.0.2.1 dev "eth0";
    neighbor 2001:db8::1 dev "eth0";
}
CONF
ip netns exec bfdcap-bird bird -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"
birdc() { command birdc -s "$work/bird.ctl" "$@"; }

up_count() { vty -c 'show bfd peers json' | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p["status"]=="up"))'; }
wait_for "both sessions up" 30 sh -c "[ \"\$(ip netns exec bfdcap-frr vtysh --vty_socket $work/frr -c 'show bfd peers json' | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p[\"status\"]==\"up\"))')\" = 2 ]"
sleep 2
vty -c 'show bfd peers json' >"$work/frr-peers-up.json"
birdc show bfd sessions >"$work/bird-sessions-up.txt"

log "poll sequence: FRR profile to 200 ms"
vty -c 'configure terminal' -c 'bfd' -c 'profile fast' -c 'receive-interval 200' -c 'transmit-interval 200'
sleep 3
log "FRR shuts the IPv4 peer down (AdminDown)"
vty -c 'configure terminal' -c 'bfd' -c 'peer 192.0.2.2 interface eth0' -c 'shutdown'
sleep 3
vty -c 'configure terminal' -c 'bfd' -c 'peer 192.0.2.2 interface eth0' -c 'no shutdown'
wait_for "IPv4 back up" 30 sh -c "ip netns exec bfdcap-frr vtysh --vty_socket $work/frr -c 'show bfd peer 192.0.2.2 interface eth0 json' | grep -q '\"status\":\"up\"'"
sleep 1
log "BIRD frozen"
kill -STOP "$(cat "$work/bird.pid")"
sleep 2
kill -CONT "$(cat "$work/bird.pid")"
wait_for "both back up" 30 sh -c "[ \"\$(ip netns exec bfdcap-frr vtysh --vty_socket $work/frr -c 'show bfd peers json' | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p[\"status\"]==\"up\"))')\" = 2 ]"
sleep 1
kill "${pids[0]}"; sleep 1
mkdir -p "$out"
python3 "$here/bfd-extract.py" "$work/bfd.pcap" "$out"
log "fixtures in $out"
