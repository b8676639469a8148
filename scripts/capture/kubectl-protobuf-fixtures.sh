#!/usr/bin/env bash
# Captures the request bodies `kubectl create <generator>` sends (Kubernetes protobuf since
# kubectl 1.32) for the KubeModel protobuf decoder's fixtures (Tests/Fixtures/kube-protobuf).
#
# Starts `ironlb kubesim --insecure` on loopback, runs each kubectl command once against it with
# tcpdump on lo, and writes NAME.hex (the body, with a header saying how it was made) and
# NAME.json: the same generator's object as kubectl itself renders it in JSON
# (`--dry-run=client -o json`), which is what the decoder must produce.
#
# Usage: sudo scripts/capture/kubectl-protobuf-fixtures.sh [OUTPUT_DIR] [IRONLB_BINARY]
#   (defaults Tests/Fixtures/kube-protobuf and .build/debug/ironlb; KUBECTL=... picks the kubectl)
# Needs: root (tcpdump), tcpdump, kubectl >= 1.32, python3.
set -euo pipefail

OUT=${1:-Tests/Fixtures/kube-protobuf}
IRONLB=${2:-.build/debug/ironlb}
KUBECTL=${KUBECTL:-kubectl}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/kubectl-protobuf-capture.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT

for cmd in tcpdump python3 "$KUBECTL"; do
    command -v "$cmd" >/dev/null || { echo "missing command: $cmd" >&2; exit 1; }
done
[[ -x "$IRONLB" ]] || { echo "missing $IRONLB (swift build --product ironlb)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "must run as root (tcpdump)" >&2; exit 1; }
mkdir -p "$OUT"
export HOME="$WORK/home"
mkdir -p "$HOME"

"$IRONLB" kubesim --insecure --port 0 --directory "$WORK/sim" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    grep -q '^KubeSim listening on' "$WORK/sim.log" 2>/dev/null && break
    sleep 0.1
done
PORT=$(sed -n 's|^KubeSim listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$WORK/sim.log")
[[ -n "$PORT" ]] || { cat "$WORK/sim.log" >&2; echo "KubeSim did not start" >&2; exit 1; }
K=("$KUBECTL" --kubeconfig "$WORK/sim/kubeconfig")

# capture NAME ARGS...: runs kubectl ARGS under tcpdump and writes NAME.hex.
capture() {
    local name=$1; shift
    tcpdump -i lo -s 0 -U -w "$WORK/$name.pcap" "tcp port $PORT" >"$WORK/$name.tcpdump.log" 2>&1 &
    local tcpdump_pid=$!
    PIDS+=("$tcpdump_pid")
    for _ in $(seq 1 50); do
        grep -q 'listening on' "$WORK/$name.tcpdump.log" 2>/dev/null && break
        sleep 0.1
    done
    sleep 1   # "listening on" is printed before the capture is armed
    "${K[@]}" "$@" || true   # kinds KubeSim does not decode answer 415; the body is what counts
    sleep 1
    kill "$tcpdump_pid"
    wait "$tcpdump_pid" 2>/dev/null || true
    python3 "$HERE/kubectl-protobuf-extract.py" "$WORK/$name.pcap" "$PORT" "kubectl $*" >"$OUT/$name.hex"
    echo "wrote $OUT/$name.hex"
}

# service NAME ARGS...: capture, plus kubectl's own JSON for the same generator run.
service() {
    local name=$1; shift
    capture "$name" "$@"
    "${K[@]}" "$@" --dry-run=client -o json >"$OUT/$name.json"
    echo "wrote $OUT/$name.json"
}

service service-loadbalancer-web create service loadbalancer web --tcp=80
service service-clusterip-x create service clusterip x --tcp=5678:8080
service service-nodeport-y create service nodeport y --tcp=80 --node-port=30080
service service-externalname-z create service externalname z --external-name example.org
service service-clusterip-headless create service clusterip h --clusterip=None --tcp=80,443:8443
service service-nodeport-named-target create service nodeport t --namespace kube-system --tcp=80:http
service namespace-foo create namespace foo
service configmap-cm create configmap cm --from-literal=a=b
# MetalLB v0.12's install step, and a binary file (binaryData).
printf 'address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.10-192.0.2.20\n' >"$WORK/config"
printf '\x00\x01\x02\xff' >"$WORK/blob"
service configmap-config-from-file create configmap config --from-file=config="$WORK/config" --from-file=blob="$WORK/blob"
service secret-generic-memberlist create secret generic memberlist --from-literal=secretkey=c2VjcmV0
service secret-basic-auth create secret generic creds --type=kubernetes.io/basic-auth --from-literal=username=admin --from-literal=password=p4ss
service deployment-web create deployment web --image=registry.example/web:1.0 --replicas=2 --port=8080
service deployment-multi create deployment multi --image=registry.example/a:1 --image=registry.example/b:2
service serviceaccount-speaker create serviceaccount speaker
service role-reader create role reader --verb=get,list,watch --resource=services,endpointslices
service rolebinding-reader create rolebinding reader --role=reader --serviceaccount=default:speaker
service clusterrole-reader create clusterrole reader --verb=get --resource=nodes
service clusterrolebinding-reader create clusterrolebinding reader --clusterrole=reader --user=alice
