// A loaded model: the mapped GGUF file, its architecture, config and weight views.
// Immutable after load, so any number of contexts (sequences, threads) can share it.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "gguf/gguf.h"
#include "model/arch/arch.h"
#include "model/config.h"
#include "model/weights.h"

namespace muse {

class Model {
 public:
  // Opens, validates and maps `path`; errors name the file and the problem (unknown
  // architecture, missing key or tensor, wrong shape, unsupported type).
  static StatusOr<std::unique_ptr<Model>> load(const std::string& path);
  // Same over a GGUF that is already open (tests, tools); takes ownership.
  static StatusOr<std::unique_ptr<Model>> from_gguf(GgufFile file);

  const GgufFile& gguf() const { return file_; }
  const ArchSpec& arch() const { return *arch_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

 private:
  Model(GgufFile file) : file_(std::move(file)) {}
  GgufFile file_;
  const ArchSpec* arch_ = nullptr;
  ModelConfig config_;
  ModelWeights weights_;
};

}  // namespace muse
