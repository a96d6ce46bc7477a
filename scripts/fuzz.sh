#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan+UBSan and runs each for a
# bounded time (default 60 s), starting from its committed seed corpus
# (fuzz/corpus/<target>/).
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSOVEREIGN_BUILD_FUZZ=ON -DSOVEREIGN_SANITIZE=ON -DSOVEREIGN_WERROR=ON \
  -DSOVEREIGN_BUILD_TESTS=OFF -DSOVEREIGN_BUILD_TOOLS=OFF -DSOVEREIGN_BUILD_BENCH=OFF \
  -DSOVEREIGN_BUILD_EXAMPLES=OFF -DSOVEREIGN_INSTALL=OFF
cmake --build build-fuzz -j "$(nproc)" --target envelope_fuzz json_scan_fuzz request_fuzz
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp  # see that file
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in envelope json_scan request; do
  mkdir -p "$work/$target"
  cp fuzz/corpus/"$target"/* "$work/$target"/
  # Request bodies are batches: room for a few hundred items.
  max_len=4096
  [ "$target" = request ] && max_len=65536
  echo "fuzz: ${target}_fuzz for ${seconds} s"
  ./build-fuzz/fuzz/"${target}"_fuzz -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 "$work/$target"
done
