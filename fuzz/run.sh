#!/usr/bin/env bash
# Builds the libFuzzer targets and runs the BGP message decoder fuzzer.
# Usage: fuzz/run.sh [SECONDS]   (default 600). Corpus and crashes go to fuzz-artifacts/
# (ignored by git); the corpus is seeded with the captured fixtures in Tests/Fixtures/bgp.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-600}"
artifacts="$repo/fuzz-artifacts/bgp-message"
mkdir -p "$artifacts/corpus" "$artifacts/crashes"

# Seed: every fixture as a binary file.
for f in "$repo"/Tests/Fixtures/bgp/*.hex; do
    grep -v '^#' "$f" | xxd -r -p > "$artifacts/corpus/$(basename "$f" .hex).bin"
done

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product FuzzBGPMessage
"$here/.build/release/FuzzBGPMessage" "$artifacts/corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len=65535 -max_total_time="$seconds" -print_final_stats=1
