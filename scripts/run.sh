#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the main job.
# Until muse-nano ships, the main job describes and benchmarks a ~250M-parameter random
# llama model that `muse gen-model` writes once into build/models/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
model=build/models/llama-250m-q8_0.gguf
if [ ! -f "$model" ]; then
  mkdir -p build/models
  ./build/release/muse gen-model --arch llama --n-embd 1024 --n-layer 16 --n-head 16 \
    --n-head-kv 4 --n-ff 2816 --n-vocab 32000 --type q8_0 --seed 1 -o "$model"
fi
./build/release/muse info "$model" | head -40
./build/release/muse bench -m "$model"
