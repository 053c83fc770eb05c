// A loaded model: the mapped GGUF file, its architecture, config and weight views.
// Immutable after load, so any number of contexts (sequences, threads) can share it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/huge_pages.h"
#include "core/status.h"
#include "gguf/gguf.h"
#include "model/arch/arch.h"
#include "model/config.h"
#include "model/weights.h"

namespace muse {

struct ModelLoadOptions {
  // false: read the file into anonymous memory (2 MiB-aligned, huge pages where the kernel
  // allows) instead of mapping it, like llama.cpp's --no-mmap. Costs the load time and
  // private memory; avoids page-cache eviction under memory pressure.
  bool mmap = true;
  // Copy Q8_0/Q4_0 matrices into the 4-row tiled layout (tile_model_weights): faster
  // matmul, bit-identical results. With mmap, the file pages they came from are released,
  // so resident memory stays about the file's size, but those tensors are private to this
  // process instead of shared through the page cache.
  bool tile = true;
};

class Model {
 public:
  // Opens, validates and maps `path`; errors name the file and the problem (unknown
  // architecture, missing key or tensor, wrong shape, unsupported type).
  static StatusOr<std::unique_ptr<Model>> load(const std::string& path,
                                               const ModelLoadOptions& opts = {});
  // Same over a GGUF that is already open (tests, tools); takes ownership.
  static StatusOr<std::unique_ptr<Model>> from_gguf(GgufFile file,
                                                    const ModelLoadOptions& opts = {});

  const GgufFile& gguf() const { return file_; }
  const ArchSpec& arch() const { return *arch_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

 private:
  explicit Model(GgufFile file) : file_(std::move(file)) {}
  HugeBuffer owned_;  // --no-mmap copy
  GgufFile file_;
  const ArchSpec* arch_ = nullptr;
  ModelConfig config_;
  ModelWeights weights_;
};

}  // namespace muse
