// Views of a model's tensors inside the mapped GGUF file, checked for name, shape and type
// at load so the forward pass never meets a surprise. Weights stay in the page cache, shared
// by every process that maps the same file, except the Q8_0/Q4_0 matrices that
// tile_model_weights copies into the matmul's tiled layout (Model::load does by default).
// Shapes in comments are GGML order, [ne0, ne1]: a linear layer W is [n_in, n_out], i.e.
// n_out rows of n_in weights.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/huge_pages.h"
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

// Multi-head latent attention (DeepSeek-V2, arXiv:2405.04434 section 2.1). N qk_nope, R
// qk_rope (= n_rot), C kv_lora_rank, Dv head_dim_v.
struct MlaWeights {
  Linear wq;                         // [D, H * (N + R)] when q_lora_rank = 0
  Linear wq_a;                       // [D, q_lora]
  const float* q_a_norm = nullptr;   // [q_lora]
  Linear wq_b;                       // [q_lora, H * (N + R)]
  Linear wkv_a;                      // [D, C + R]: the latent c_kv, then the shared rope key
  const float* kv_a_norm = nullptr;  // [C]
  QMatrix wkv_b{};                   // [C, H * (N + Dv)]: per head N rows of W_uk, Dv of W_uv
  // W_uk transposed per head, [H][C][N] in wk_b_t.type, built at load for absorbed attention
  // (q_nope · W_uk becomes an ordinary product); storage owned by ModelWeights.
  QMatrix wk_b_t{};  // n_rows = H * C, n_k = N
};

// Routed experts plus optional shared experts. Expert e of a 3-D tensor is rows
// [e * n_out, (e + 1) * n_out) of its QMatrix. E experts, Fe expert width, Fs shared width.
struct MoeWeights {
  Linear router;                            // ffn_gate_inp [D, E], usually F32
  const float* probs_bias = nullptr;        // exp_probs_b [E]: selection only (DeepSeek-V3)
  QMatrix gate_exps{}, up_exps{};           // [D, Fe, E]
  QMatrix down_exps{};                      // [Fe, D, E]
  Linear gate_shexp, up_shexp, down_shexp;  // [D, Fs], [D, Fs], [Fs, D]; absent when Fs = 0
  const float* shexp_gate = nullptr;        // ffn_gate_inp_shexp [D] (SharedExpertGate::kSigmoid)

  // Expert e's rows of a 3-D expert tensor.
  static QMatrix expert(const QMatrix& m, int64_t e, int64_t n_out);
};

struct LayerWeights {
  const float* attn_norm = nullptr;  // [D]
  Linear wq;                         // [D, H * Dh]      (AttentionKind::kGqa)
  Linear wk;                         // [D, Hkv * Dh]
  Linear wv;                         // [D, Hkv * Dh]
  Linear wo;                         // [H * Dv, D]      (both kinds)
  const float* q_norm = nullptr;     // [Dh] (QkNorm::kPerHead)
  const float* k_norm = nullptr;     // [Dh]
  MlaWeights mla;                    // (AttentionKind::kMla)

  const float* ffn_norm = nullptr;  // [D]
  bool moe = false;                 // routed experts; else the dense FFN below
  Linear ffn_gate;                  // [D, F]
  Linear ffn_up;                    // [D, F]
  Linear ffn_down;                  // [F, D]
  MoeWeights experts;
};

struct ModelWeights {
  TensorView tok_embd;                 // [D, V], any supported type
  const float* output_norm = nullptr;  // [D]
  Linear output;                       // [D, V]; token_embd when the file ties them
  bool output_tied = false;
  const float* rope_freqs = nullptr;  // [n_rot / 2] (llama 3 long-context factors) or null
  std::vector<LayerWeights> layers;
  uint64_t n_bytes = 0;  // bytes of every tensor the forward pass reads
  // Bytes one decode token reads: everything except the embedding table's other rows and
  // the experts the router did not pick (n_expert_used of n_expert per MoE layer).
  uint64_t n_bytes_per_token = 0;
  std::vector<std::vector<uint8_t>> owned;  // tensors derived at load (MlaWeights::wk_b_t)
  std::vector<HugeBuffer> tiled;            // tile_model_weights' copies
};

// Fills `w` from `file` for `arch`/`config`; errors name the tensor ("blk.3.attn_k.weight:
// shape [1024, 512], expected [1024, 256]"). Tensors the architecture does not use are
// ignored, as llama.cpp does.
StatusOr<ModelWeights> load_model_weights(const GgufFile& file, const ArchSpec& arch,
                                          const ModelConfig& config);

// Replaces every Q8_0 and Q4_0 matrix the forward pass multiplies whole (projections, dense
// and shared FFNs, expert tensors whose per-expert row count is a multiple of 4, an untied
// output, MLA's attn_kv_b and W_uk^T when their per-head slices start on whole tiles) with a
// copy in kernels/tiled.h's layout, owned by `w`. Results are bit-identical; matmul runs
// faster (see BENCHMARKS.md). Left alone: the embedding table (and an output tied to it)
// and F32/F16/K-quant matrices.
// release_sources: the weights are in a read-only file mapping; each matrix's pages are
// dropped from the resident set as soon as its copy is made, so peak memory stays about
// the file's size (a later read would fault them in again from the file).
void tile_model_weights(ModelWeights& w, const ModelConfig& config, bool release_sources);

}  // namespace muse
