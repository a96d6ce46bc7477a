#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan+UBSan and runs each for a
# bounded time (default 60 s), starting from the committed seed corpus.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSOVEREIGN_BUILD_FUZZ=ON -DSOVEREIGN_SANITIZE=ON -DSOVEREIGN_WERROR=ON \
  -DSOVEREIGN_BUILD_TESTS=OFF -DSOVEREIGN_BUILD_TOOLS=OFF -DSOVEREIGN_BUILD_BENCH=OFF \
  -DSOVEREIGN_BUILD_EXAMPLES=OFF -DSOVEREIGN_INSTALL=OFF
cmake --build build-fuzz -j "$(nproc)" --target envelope_fuzz
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp  # see that file
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp fuzz/corpus/* "$corpus"/
./build-fuzz/fuzz/envelope_fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$corpus"
