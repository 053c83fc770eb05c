// Views of a model's tensors inside the mapped GGUF file, checked for name, shape and type
// at load so the forward pass never meets a surprise. Nothing is copied: weights stay in
// the page cache, shared by every process that maps the same file.
// Shapes in comments are GGML order, [ne0, ne1]: a linear layer W is [n_in, n_out], i.e.
// n_out rows of n_in weights.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "model/arch/arch.h"
#include "model/config.h"

namespace muse {

struct Linear {
  QMatrix w{};                  // [n_in, n_out]
  const float* bias = nullptr;  // [n_out] or null
  int64_t n_in() const { return w.n_k; }
  int64_t n_out() const { return w.n_rows; }
};

struct DenseLayerWeights {
  const float* attn_norm = nullptr;  // [D]
  Linear wq;                         // [D, H * Dh]
  Linear wk;                         // [D, Hkv * Dh]
  Linear wv;                         // [D, Hkv * Dh]
  Linear wo;                         // [H * Dh, D]
  const float* q_norm = nullptr;     // [Dh] (QkNorm::kPerHead)
  const float* k_norm = nullptr;     // [Dh]
  const float* ffn_norm = nullptr;   // [D]
  Linear ffn_gate;                   // [D, F]
  Linear ffn_up;                     // [D, F]
  Linear ffn_down;                   // [F, D]
};

struct ModelWeights {
  TensorView tok_embd;                 // [D, V], any supported type
  const float* output_norm = nullptr;  // [D]
  Linear output;                       // [D, V]; token_embd when the file ties them
  bool output_tied = false;
  const float* rope_freqs = nullptr;  // [n_rot / 2] (llama 3 long-context factors) or null
  std::vector<DenseLayerWeights> layers;
  uint64_t n_bytes = 0;  // bytes of every tensor the forward pass reads
};

// Fills `w` from `file` for `arch`/`config`; errors name the tensor ("blk.3.attn_k.weight:
// shape [1024, 512], expected [1024, 256]"). Tensors the architecture does not use are
// ignored, as llama.cpp does.
StatusOr<ModelWeights> load_model_weights(const GgufFile& file, const ArchSpec& arch,
                                          const ModelConfig& config);

}  // namespace muse
