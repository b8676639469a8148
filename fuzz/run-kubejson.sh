#!/usr/bin/env bash
# Builds the libFuzzer targets and runs the Kubernetes JSON parser fuzzer (docs/fuzzing.md).
# Usage: fuzz/run-kubejson.sh [SECONDS]   (default 600). Corpus and crashes go to
# fuzz-artifacts/kube-json/ (ignored by git); the corpus is seeded with the kept corpus
# (fuzz/corpus/kube-json), the JSON fixtures in Tests/KubeModelTests/Fixtures and each line of
# its watch stream.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-600}"
artifacts="$repo/fuzz-artifacts/kube-json"
mkdir -p "$artifacts/corpus" "$artifacts/crashes"
cp -n "$here"/corpus/kube-json/* "$artifacts/corpus/" 2>/dev/null || true
cp -n "$repo"/Tests/KubeModelTests/Fixtures/*.json "$artifacts/corpus/"
split -l 1 -d "$repo/Tests/KubeModelTests/Fixtures/watch-stream.txt" "$artifacts/corpus/watch-line-"

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product FuzzKubeJSON
"$here/.build/release/FuzzKubeJSON" "$artifacts/corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len=4096 -max_total_time="$seconds" -print_final_stats=1
