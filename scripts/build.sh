#!/usr/bin/env bash
# Configures and builds Sovereign with warnings as errors.
#   scripts/build.sh [BUILD_DIR] [extra cmake arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOVEREIGN_WERROR=ON "$@"
cmake --build "$build_dir" -j "$(nproc)"
