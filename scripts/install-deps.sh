#!/usr/bin/env bash
# Installs the Debian 12 packages muse.cpp builds and tests with (ARCHITECTURE.md section 2).
# Idempotent: asks apt only for what is missing, so a second run is a no-op.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libhwy-dev libpcre2-dev nlohmann-json3-dev libcpp-httplib-dev libstb-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
