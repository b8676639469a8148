#!/usr/bin/env bash
# Builds the libFuzzer targets and runs one of them (docs/fuzzing.md, docs/fuzzing-l2.md).
# Usage: fuzz/run.sh TARGET [SECONDS]   (default 600 seconds)
#   TARGET: bgp-message | bgp-session | bfd | config | kube-json | kube-protobuf | linkwire
# The working corpus starts from the kept corpus in fuzz/corpus/TARGET (earlier finds) and the
# target's captured fixtures; it and any crashes go to fuzz-artifacts/TARGET/ (ignored by git).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target="${1:?usage: fuzz/run.sh TARGET [SECONDS] (bgp-message bgp-session bfd config kube-json kube-protobuf linkwire)}"
seconds="${2:-600}"
artifacts="$repo/fuzz-artifacts/$target"
corpus="$artifacts/corpus"
mkdir -p "$corpus" "$artifacts/crashes"

# Hex fixtures (comment lines start with #) as binary seeds.
seed_hex() {
    for f in "$@"; do grep -v '^#' "$f" | xxd -r -p > "$corpus/$(basename "$f" .hex).bin"; done
}

case "$target" in
    bgp-message) product=FuzzBGPMessage; max_len=65535
        seed_hex "$repo"/Tests/Fixtures/bgp/*.hex ;;
    bgp-session) product=FuzzBGPSession; max_len=16384 ;;
    bfd) product=FuzzBFDPacket; max_len=128 ;;
    config) product=FuzzConfig; max_len=4096
        for f in "$repo"/Tests/Fixtures/config/*/*.yaml; do
            cp -n "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
        done ;;
    kube-json) product=FuzzKubeJSON; max_len=4096
        cp -n "$repo"/Tests/KubeModelTests/Fixtures/*.json "$corpus/"
        split -l 1 -d "$repo/Tests/KubeModelTests/Fixtures/watch-stream.txt" "$corpus/watch-line-" ;;
    kube-protobuf) product=FuzzKubeProtobuf; max_len=2048
        # The target decodes each input whole, as a Service and as one of the other generated kinds.
        seed_hex "$repo"/Tests/Fixtures/kube-protobuf/*.hex ;;
    linkwire) product=FuzzLinkWire; max_len=512 ;;
    *) echo "fuzz/run.sh: unknown target \"$target\"" >&2; exit 2 ;;
esac
if [ -d "$here/corpus/$target" ]; then
    find "$here/corpus/$target" -type f ! -name README.md -exec cp -n {} "$corpus/" \;
fi

cd "$here"
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product "$product"
"$here/.build/release/$product" "$corpus" \
    -artifact_prefix="$artifacts/crashes/" -max_len="$max_len" -max_total_time="$seconds" -print_final_stats=1
