#!/usr/bin/env bash
# Builds the libFuzzer targets and runs the BGP session state machine fuzzer (docs/fuzzing.md).
# Usage: fuzz/run-bgpsession.sh [SECONDS]   (default 600). The corpus starts from the kept
# corpus in fuzz/corpus/bgp-session; the working corpus and crashes go to
# fuzz-artifacts/bgp-session/ (ignored by git).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-600}"
artifacts="$repo/fuzz-artifacts/bgp-session"
mkdir -p "$artifacts/corpus" "$artifacts/crashes"
cp -n "$here"/corpus/bgp-session/* "$artifacts/corpus/"

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product FuzzBGPSession
"$here/.build/release/FuzzBGPSession" "$artifacts/corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len=16384 -max_total_time="$seconds" -print_final_stats=1
