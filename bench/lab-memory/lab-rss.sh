#!/usr/bin/env bash
# bench lab-memory: the RSS of an idle `ironlb lab` after 1 minute and after N minutes
# (issue #13: within 10 % of each other once KubeSim's watch history is bounded).
#
# Usage: bench/lab-memory/lab-rss.sh [MINUTES] [IRONLB_BINARY]
#   MINUTES defaults to 30; IRONLB_BINARY to .build/debug/ironlb (build it first:
#   `swift build --product ironlb`; a release build gives smaller absolute figures).
# Prints one line per sample (every 30 s: elapsed seconds, RSS in KB of the lab and its
# children) and a summary: RSS at 1 min (the reference), RSS at the end, the ratio end/1 min and
# the growth per minute after the first. Exit status 0 when the ratio is at most 1.10, else 1.
# Uses only loopback (the lab's API server, controller, speakers and route collector).
set -euo pipefail
MINUTES=${1:-30}
IRONLB=${2:-.build/debug/ironlb}
[[ -x "$IRONLB" ]] || { echo "missing $IRONLB (swift build --product ironlb)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/ironlb-lab-rss.XXXXXX)
"$IRONLB" lab --directory "$WORK/lab" >"$WORK/lab.out" 2>&1 &
LAB=$!
cleanup() { kill "$LAB" 2>/dev/null || true; wait "$LAB" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# RSS (KB) of a process and all its descendants.
rss_tree() {
    local total=0 pid kb
    for pid in $1 $(pgrep -P "$1" 2>/dev/null || true); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

start=$(date +%s)
for _ in $(seq 1 180); do
    grep -q "announced by: lab-node-1, lab-node-2, lab-node-3" "$WORK/lab.out" 2>/dev/null && break
    kill -0 "$LAB" 2>/dev/null || { cat "$WORK/lab.out" >&2; echo "the lab exited" >&2; exit 2; }
    sleep 1
done
echo "lab up after $(( $(date +%s) - start )) s (pid $LAB); sampling every 30 s for $MINUTES min"
echo "elapsed_s rss_kb"
reference=0
last=0
end=$((start + MINUTES * 60))
next=$((start + 30))
while :; do
    now=$(date +%s)
    if (( now < next )); then sleep $((next - now)); fi
    kill -0 "$LAB" 2>/dev/null || { tail -20 "$WORK/lab.out" >&2; echo "the lab exited" >&2; exit 2; }
    elapsed=$(( $(date +%s) - start ))
    last=$(rss_tree "$LAB")
    echo "$elapsed $last"
    if (( reference == 0 && elapsed >= 60 )); then reference=$last; fi
    (( $(date +%s) >= end )) && break
    next=$((next + 30))
done
(( reference > 0 )) || reference=$last
awk -v r="$reference" -v l="$last" -v m="$MINUTES" 'BEGIN {
    ratio = l / r
    printf "RSS after 1 min: %d KB; after %d min: %d KB; ratio %.3f; growth %.1f KB/min after the first minute\n", r, m, l, ratio, (m > 1 ? (l - r) / (m - 1) : 0)
    exit (ratio <= 1.10 ? 0 : 1)
}'
