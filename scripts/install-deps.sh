#!/usr/bin/env bash
# Installs the Debian 12 packages muse.cpp builds and tests with (ARCHITECTURE.md section 2).
# Idempotent: asks apt only for what is missing, so a second run is a no-op.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libhwy-dev libpcre2-dev nlohmann-json3-dev libcpp-httplib-dev libstb-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  chromium  # the web UI's end-to-end test (driven by npm playwright-core)
)
# Node.js: any >= 18 does (Debian 12 ships 18); keep one that is already installed.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

# The npm packages of the end-to-end tests (openai, playwright-core), pinned by the lock
# file; reinstalled only when the lock file changed.
install_npm() {
  local dir stamp
  dir="$(cd "$(dirname "$0")/../tests/e2e" && pwd)"
  stamp=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.lock-sha256" 2>/dev/null)" != "$stamp" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$stamp" >"$dir/node_modules/.lock-sha256"
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  install_npm
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm
