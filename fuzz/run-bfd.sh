#!/usr/bin/env bash
# Builds the libFuzzer targets and runs the BFD control packet fuzzer (docs/fuzzing.md).
# Usage: fuzz/run-bfd.sh [SECONDS]   (default 600). The corpus starts from the kept corpus in
# fuzz/corpus/bfd (the captured FRR and BIRD packets plus earlier finds); the working corpus
# and crashes go to fuzz-artifacts/bfd/ (ignored by git).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-600}"
artifacts="$repo/fuzz-artifacts/bfd"
mkdir -p "$artifacts/corpus" "$artifacts/crashes"
cp -n "$here"/corpus/bfd/* "$artifacts/corpus/"

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product FuzzBFDPacket
"$here/.build/release/FuzzBFDPacket" "$artifacts/corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len=128 -max_total_time="$seconds" -print_final_stats=1
