#!/usr/bin/env bash
# Installs everything Sovereign needs to build, test and benchmark, from
# Debian 12 packages only. Safe to run again; needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev               # libFuzzer and the clang sanitizer runtimes
  libssl-dev libsqlite3-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  catch2 libbenchmark-dev
  python3 python3-cryptography           # the independent envelope reference implementation
  libcpp-httplib-dev openssl             # the keystore service (HTTPS, mTLS) and the demo's PKI
  libsimdjson-dev                        # fast parsing of large batch request bodies
  jq                                     # the pipeline benchmark's jq -c . baseline
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all build dependencies are installed"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
