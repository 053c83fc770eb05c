#!/usr/bin/env bash
# Builds muse.cpp (release preset) and runs every test with ctest. The README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release "$@"
