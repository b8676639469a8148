#!/usr/bin/env bash
# Capture real BGP messages exchanged by FRR, BIRD and GoBGP and store them as
# hex fixtures under Tests/Fixtures/bgp (see scripts/capture/bgp-extract.py).
#
# Topology (all inside network namespaces created here, prefix "bgp-"):
#
#   bgp-frr  (FRR,   AS 4200000001, 192.0.2.1 / 2001:db8::1) ─┐
#   bgp-bird (BIRD,  AS 65002,      192.0.2.2 / 2001:db8::2) ─┼─ bridge in bgp-sw
#   bgp-gobgp(GoBGP, AS 65002,      192.0.2.3 / 2001:db8::3) ─┘
#
# Sessions: FRR–BIRD eBGP over IPv4 (ipv4 unicast) and over IPv6 (ipv6 unicast);
# FRR–GoBGP eBGP over IPv4 with ipv4+ipv6 unicast (MP-BGP), hold time 3 s;
# BIRD–GoBGP iBGP over IPv4 with BIRD's 4-octet-AS support off (AS_TRANS/AS4_PATH).
# Then: route refresh, withdrawals, a frozen peer (hold timer expiry), Cease/admin
# shutdown with a shutdown communication from each daemon, and a Bad Peer AS.
#
# Usage: scripts/capture/bgp-fixtures.sh [OUTPUT_DIR]   (root; default Tests/Fixtures/bgp)
# Needs: frr bird2 gobgpd tcpdump iproute2 python3. Kills only the PIDs it started.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/Tests/Fixtures/bgp}"
work="$(mktemp -d /tmp/bgp-capture.XXXXXX)"
chmod 755 "$work"
pids=()
namespaces=(bgp-sw bgp-frr bgp-bird bgp-gobgp)

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; done
    for f in "$work"/frr/*.pid "$work"/bird.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 1
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    for f in "$work"/frr/*.pid "$work"/bird.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
    log "work dir kept: $work"
}
trap cleanup EXIT

# Poll a command until it succeeds (bounded).
wait_for() {
    local what="$1" timeout="$2"; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then log "timeout waiting for $what"; return 1; fi
        sleep 0.5
    done
    log "$what"
}

# ---------------------------------------------------------------- topology
for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n bgp-sw link add br0 type bridge
ip -n bgp-sw link set br0 up
i=1
for r in frr bird gobgp; do
    ip -n bgp-sw link add "p-$r" type veth peer name eth0 netns "bgp-$r"
    ip -n bgp-sw link set "p-$r" master br0 up
    ip -n "bgp-$r" addr add "192.0.2.$i/24" dev eth0
    ip -n "bgp-$r" addr add "2001:db8::$i/64" dev eth0 nodad
    ip -n "bgp-$r" link set eth0 up
    i=$((i + 1))
done
for r in frr bird gobgp; do
    wait_for "link-local on $r" 10 sh -c "ip -n bgp-$r -6 addr show dev eth0 scope link | grep -q 'inet6 fe80' && ! ip -n bgp-$r -6 addr show dev eth0 | grep -q tentative"
done

# ---------------------------------------------------------------- capture
for r in frr bird gobgp; do
    ip netns exec "bgp-$r" tcpdump -i eth0 -n -s 0 -U --immediate-mode -w "$work/$r.pcap" 'tcp port 179' 2>"$work/tcpdump-$r.log" &
    pids+=($!)
done
sleep 1

# ---------------------------------------------------------------- FRR
mkdir -p "$work/frr"
cat >"$work/frr/frr.conf" <<'CONF'
frr defaults traditional
hostname frr
!
route-map COMM permit 10
 set community 64512:100 64512:200
 set large-community 4200000001:1:2 4200000001:3:4
 set metric 50
!
router bgp 4200000001
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 neighbor 192.0.2.2 remote-as 65002
 neighbor 192.0.2.2 timers connect 5
 neighbor 2001:db8::2 remote-as 65002
 neighbor 2001:db8::2 timers connect 5
 neighbor 192.0.2.3 remote-as 65002
 neighbor 192.0.2.3 timers connect 5
 neighbor 192.0.2.3 timers 1 3
 !
 address-family ipv4 unicast
  network 198.51.100.1/32 route-map COMM
  network 198.51.100.0/24
  neighbor 192.0.2.2 activate
  neighbor 192.0.2.3 activate
  no neighbor 2001:db8::2 activate
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8:1::1/128 route-map COMM
  network 2001:db8:1::/48
  neighbor 2001:db8::2 activate
  neighbor 192.0.2.3 activate
 exit-address-family
!
CONF
touch "$work/frr/vtysh.conf"
chown -R frr:frr "$work/frr"
for d in zebra bgpd; do
    ip netns exec bgp-frr "/usr/lib/frr/$d" -d -f "$work/frr/frr.conf" -i "$work/frr/$d.pid" \
        -z "$work/frr/zserv.api" --vty_socket "$work/frr" -P 0 --log "file:$work/frr/$d.log"
    sleep 1
done
vty() { ip netns exec bgp-frr vtysh --vty_socket "$work/frr" "$@"; }

# ---------------------------------------------------------------- BIRD
cat >"$work/bird.conf" <<'CONF'
router id 192.0.2.2;
protocol device {}
protocol static s4 { ipv4; route 198.51.100.128/25 blackhole; route 203.0.113.2/32 blackhole; }
protocol static s6 { ipv6; route 2001:db8:2::/48 blackhole; route 2001:db8:2::2/128 blackhole; }
filter export_ebgp {
    if source = RTS_STATIC then {
        bgp_community.add((65002,7));
        bgp_large_community.add((65002,1,2));
        accept;
    }
    reject;
}
filter export_ibgp {
    if source = RTS_STATIC then {
        bgp_community.add((65002,8));
        bgp_local_pref = 200;
        accept;
    }
    if source = RTS_BGP then accept;
    reject;
}
protocol bgp frr4 {
    local 192.0.2.2 as 65002;
    neighbor 192.0.2.1 as 4200000001;
    graceful restart on;
    enable extended messages on;
    error wait time 1, 10;
    ipv4 { import all; export filter export_ebgp; };
}
protocol bgp frr6 {
    local 2001:db8::2 as 65002;
    neighbor 2001:db8::1 as 4200000001;
    graceful restart on;
    error wait time 1, 10;
    ipv6 { import all; export filter export_ebgp; };
}
protocol bgp gobgp {
    local 192.0.2.2 as 65002;
    neighbor 192.0.2.3 as 65002;
    enable as4 off;
    graceful restart on;
    error wait time 1, 10;
    ipv4 { import all; export filter export_ibgp; next hop self; };
}
CONF
ip netns exec bgp-bird bird -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"
birdc() { command birdc -s "$work/bird.ctl" "$@"; }

# ---------------------------------------------------------------- GoBGP
cat >"$work/gobgp.toml" <<'CONF'
[global.config]
  as = 65002
  router-id = "192.0.2.3"
  port = 179

[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.1"
    peer-as = 4200000001
  [neighbors.timers.config]
    connect-retry = 5
    hold-time = 3
    keepalive-interval = 1
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true

[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.2"
    peer-as = 65002
  [neighbors.timers.config]
    connect-retry = 5
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
CONF
ip netns exec bgp-gobgp gobgpd -f "$work/gobgp.toml" -p -l info --api-hosts 127.0.0.1:50051 --pprof-disable >"$work/gobgpd.log" 2>&1 &
gobgpd_pid=$!
pids+=($gobgpd_pid)
gobgp() { ip netns exec bgp-gobgp /usr/bin/gobgp -u 127.0.0.1 -p 50051 "$@"; }
wait_for "gobgpd API up" 20 gobgp global
gobgp global rib -a ipv4 add 203.0.113.3/32 community 65002:9 large-community 65002:3:4 med 10 local-pref 150
gobgp global rib -a ipv4 add 203.0.113.64/26 origin incomplete
gobgp global rib -a ipv6 add 2001:db8:3::3/128 community 65002:9 large-community 65002:3:4
gobgp global rib -a ipv6 add 2001:db8:3::/48

# ---------------------------------------------------------------- sessions up
frr_up() { [ "$(vty -c "show bgp neighbors $1 json" | python3 -c 'import json,sys; print(list(json.load(sys.stdin).values())[0]["bgpState"])')" = Established ]; }
bird_up() { birdc show protocols "$1" | grep -q Established; }
gobgp_up() { gobgp neighbor "$1" | grep -q 'BGP state = established'; }
wait_for "FRR-BIRD v4 up" 60 frr_up 192.0.2.2
wait_for "FRR-BIRD v6 up" 60 frr_up 2001:db8::2
wait_for "FRR-GoBGP up" 60 frr_up 192.0.2.3
wait_for "BIRD-GoBGP up" 60 bird_up gobgp
sleep 4   # initial tables, End-of-RIB, a few keepalives

# ---------------------------------------------------------------- route refresh
log "route refresh"
vty -c 'clear bgp 192.0.2.2 soft in' || true
vty -c 'clear bgp 2001:db8::2 soft in' || true
birdc reload in gobgp || true
gobgp neighbor 192.0.2.1 softresetin || true
sleep 2

# ---------------------------------------------------------------- withdrawals
log "withdrawals"
vty -c 'configure terminal' -c 'router bgp 4200000001' -c 'address-family ipv4 unicast' -c 'no network 198.51.100.1/32 route-map COMM' \
    -c 'exit-address-family' -c 'address-family ipv6 unicast' -c 'no network 2001:db8:1::1/128 route-map COMM'
gobgp global rib -a ipv4 del 203.0.113.3/32
gobgp global rib -a ipv6 del 2001:db8:3::3/128
birdc disable s4 || true
birdc disable s6 || true
sleep 3

# ---------------------------------------------------------------- hold timer expiry (FRR sees GoBGP frozen)
log "freeze gobgpd for hold timer expiry"
kill -STOP "$gobgpd_pid"
sleep 5
kill -CONT "$gobgpd_pid"
sleep 2

# ---------------------------------------------------------------- Cease / administrative shutdown with communication
log "administrative shutdowns"
vty -c 'configure terminal' -c 'router bgp 4200000001' -c 'neighbor 192.0.2.2 shutdown message "IronLB fixture: FRR maintenance"'
birdc disable frr6 '"IronLB fixture: BIRD maintenance"' || true
gobgp neighbor 192.0.2.2 shutdown --reason "IronLB fixture: GoBGP maintenance" || true
sleep 2

# ---------------------------------------------------------------- Bad Peer AS (FRR expects another AS from BIRD over IPv6)
log "bad peer AS"
birdc enable frr6 || true
vty -c 'configure terminal' -c 'router bgp 4200000001' -c 'neighbor 2001:db8::2 remote-as 65099'
sleep 12

# ---------------------------------------------------------------- stop and extract
log "stopping capture"
sleep 1
for pid in "${pids[@]:0:3}"; do kill -INT "$pid" 2>/dev/null || true; done
for pid in "${pids[@]:0:3}"; do wait "$pid" 2>/dev/null || true; done
python3 "$here/bgp-extract.py" --out "$out" \
    --pcap frr="$work/frr.pcap" --pcap bird="$work/bird.pcap" --pcap gobgp="$work/gobgp.pcap" \
    --versions "FRR $(dpkg-query -W -f='${Version}' frr), BIRD $(dpkg-query -W -f='${Version}' bird2), GoBGP $(dpkg-query -W -f='${Version}' gobgpd)"
