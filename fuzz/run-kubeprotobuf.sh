#!/usr/bin/env bash
# Builds the libFuzzer targets and runs the Kubernetes protobuf decoder fuzzer (docs/fuzzing.md).
# Usage: fuzz/run-kubeprotobuf.sh [SECONDS]   (default 600). Corpus and crashes go to
# fuzz-artifacts/kube-protobuf/ (ignored by git); the corpus is seeded with the real kubectl
# bodies in Tests/Fixtures/kube-protobuf (every kind kubectl's generators create); the target decodes
# each input whole, as a Service message and as the message of one of the other generated kinds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
seconds="${1:-600}"
artifacts="$repo/fuzz-artifacts/kube-protobuf"
mkdir -p "$artifacts/corpus" "$artifacts/crashes"

for f in "$repo"/Tests/Fixtures/kube-protobuf/*.hex; do
    name=$(basename "$f" .hex)
    grep -v '^#' "$f" | xxd -r -p > "$artifacts/corpus/$name.bin"
done
cp "$here"/corpus/kube-protobuf/*.bin "$artifacts/corpus/"

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product FuzzKubeProtobuf
"$here/.build/release/FuzzKubeProtobuf" "$artifacts/corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len=2048 -max_total_time="$seconds" -print_final_stats=1
