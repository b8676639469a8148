#!/usr/bin/env bash
# Builds the libFuzzer targets and runs the configuration parser fuzzer (docs/fuzzing.md).
# Usage: fuzz/run-config.sh [SECONDS]   (default 600). Corpus and crashes go to
# fuzz-artifacts/config/ (ignored by git); the corpus is seeded with the kept corpus
# (fuzz/corpus/config) and every configuration fixture in Tests/Fixtures/config.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-600}"
artifacts="$repo/fuzz-artifacts/config"
mkdir -p "$artifacts/corpus" "$artifacts/crashes"
cp -n "$here"/corpus/config/* "$artifacts/corpus/" 2>/dev/null || true
for f in "$repo"/Tests/Fixtures/config/*/*.yaml; do
    cp -n "$f" "$artifacts/corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
done

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product FuzzConfig
"$here/.build/release/FuzzConfig" "$artifacts/corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len=4096 -max_total_time="$seconds" -print_final_stats=1
