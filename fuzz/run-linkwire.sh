#!/usr/bin/env bash
# Builds the libFuzzer targets and runs the LinkWire frame decoder fuzzer (docs/fuzzing-l2.md).
# Usage: fuzz/run-linkwire.sh [SECONDS]   (default 600). The corpus starts from the kept
# corpus in fuzz/corpus/linkwire (captured fixtures plus earlier finds); the working corpus
# and crashes go to fuzz-artifacts/linkwire/ (ignored by git).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-600}"
artifacts="$repo/fuzz-artifacts/linkwire"
mkdir -p "$artifacts/corpus" "$artifacts/crashes"
cp -n "$here"/corpus/linkwire/* "$artifacts/corpus/"

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product FuzzLinkWire
"$here/.build/release/FuzzLinkWire" "$artifacts/corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len=512 -max_total_time="$seconds" -print_final_stats=1
