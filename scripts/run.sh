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
# The full tensor table is long; show the metadata and the first tensors.
./build/release/muse info "$model" > build/models/info.txt
sed -n '1,40p' build/models/info.txt
echo "... (full listing: build/models/info.txt)"
./build/release/muse bench -m "$model"
