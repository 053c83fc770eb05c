#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the main job:
# Contemplating on the shipped default model, muse-nano (models/muse-nano.gguf), for a
# question of the gym's held-out split — parallel agents, early stops, the vote, the answer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
./build/release/muse contemplate "$@"
