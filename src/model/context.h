// Evaluation context of one sequence over a shared Model: the KV cache, scratch buffers
// sized once for the largest step, and the logits of the last step. `eval` appends tokens at
// positions n_past.. and advances n_past; prompts longer than one step are split into
// chunks of at most `n_batch` tokens. Not thread-safe; the pool parallelizes inside a step.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/matmul.h"
#include "model/blocks/mla_mode.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "threading/thread_pool.h"

namespace muse {

struct ContextOptions {
  int64_t n_ctx = 0;      // KV positions; 0 = min(n_ctx_train, 4096)
  int64_t n_batch = 256;  // tokens per forward step
  DType kv_type = DType::F16;
  MlaMode mla_mode = MlaMode::kAuto;  // latent attention path (tests pin one)
};

// Scratch of a mixture-of-experts FFN (blocks/moe.cc). R = T * n_expert_used routed rows.
struct MoeBuffers {
  std::vector<float> router;       // [T][E] router logits
  std::vector<float> work;         // [2 * E] routing scratch
  std::vector<int32_t> ids;        // [T][K] chosen experts, best first
  std::vector<float> weights;      // [T][K] their mixing weights
  std::vector<float> shared_gate;  // [T] shared-expert scale
  std::vector<int64_t> count;      // [E] rows per expert
  std::vector<int64_t> offset;     // [E + 1] first row of each expert
  std::vector<int64_t> fill;       // [E]
  std::vector<int32_t> row_of;     // [T][K] grouped row of (token, slot)
  std::vector<float> xe;           // [R][D] grouped inputs, then expert outputs
  std::vector<float> ge, ue;       // [R][Fe] gate / up, then SwiGLU
  std::vector<float> gs, us;       // [T][Fs] shared expert gate / up
  std::vector<float> acc;          // [D]
  std::vector<MatmulJob> jobs;
};

// Scratch of multi-head latent attention (blocks/mla.cc); the *_all buffers grow with the
// cached positions and are used only by decompressed steps.
struct MlaBuffers {
  std::vector<float> q_a;       // [T][q_lora]
  std::vector<float> kv_a;      // [T][C + R]
  std::vector<float> head_in;   // [H][T][max(N, Dv)] per-head product inputs/outputs
  std::vector<float> head_out;  // [H][T][C]
  std::vector<float> q_lat;     // [T][H][C + R] absorbed queries
  std::vector<float> lat;       // [T][H][C] attended latents
  std::vector<float> c_all, kv_all, k_all,
      v_all;  // [P][C], [P][H][N + Dv], [P][H][N + R], [P][H][Dv]
  std::vector<MatmulJob> jobs;
};

// Scratch of one forward step, [T][...] rows. Owned by the context, reused across steps.
struct StepBuffers {
  std::vector<float> x;       // [T][D] residual stream
  std::vector<float> h;       // [T][D] normalized input of a block
  std::vector<float> q;       // [T][H * Dh]
  std::vector<float> k;       // [T][Hkv * Dh]
  std::vector<float> v;       // [T][Hkv * Dh]
  std::vector<float> attn;    // [T][H * Dh]
  std::vector<float> gate;    // [T][F]
  std::vector<float> up;      // [T][F]
  std::vector<float> rope;    // [T][2 * n_rot] cos/sin tables
  std::vector<float> kv_f32;  // [P][Hkv * Dh] x 2: widened Q8_0 K and V of one layer
  std::vector<int32_t> pos;   // [T]
  MoeBuffers moe;
  MlaBuffers mla;
  MatmulScratch matmul;
};

// The cache layout a context of `model` uses: per-head K/V rows, or for MLA one latent row
// [c_kv ; k_rope] per position and layer.
KvCacheOptions kv_cache_options(const Model& model, int64_t n_ctx, DType type);

// Cache bytes per position across all layers, and what per-head K and V rows of the same
// type would take (equal except for MLA: the ratio is the latent cache's saving).
struct KvFootprint {
  uint64_t bytes_per_token = 0;
  uint64_t per_head_bytes_per_token = 0;
};
KvFootprint kv_footprint(const Model& model, DType type);

class ModelContext {
 public:
  static StatusOr<std::unique_ptr<ModelContext>> create(const Model& model, ThreadPool& pool,
                                                        const ContextOptions& opts = {});

  // Runs `tokens` at positions n_past().. . Logits are kept for the last token, or for every
  // token when `all_logits`. Errors (ids outside the vocabulary, context full) leave the
  // context unchanged.
  Status eval(std::span<const int32_t> tokens, bool all_logits = false);

  // Logits of token i of the last eval (i < n_logits()); with all_logits = false, only the
  // last token's row exists (i = 0).
  std::span<const float> logits(int64_t i = 0) const;
  int64_t n_logits() const { return n_logits_; }

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return kv_.options().n_ctx; }
  // Forgets positions >= n (n <= n_past()): the next eval overwrites them.
  void rewind(int64_t n);

  const Model& model() const { return model_; }
  const KvCache& kv_cache() const { return kv_; }
  const ContextOptions& options() const { return opts_; }

 private:
  ModelContext(const Model& model, ThreadPool& pool, const ContextOptions& opts,
               const KvCacheOptions& kv);
  void forward(std::span<const int32_t> tokens, bool all_logits, float* logits_out);

  const Model& model_;
  ThreadPool& pool_;
  ContextOptions opts_;
  KvCache kv_;
  StepBuffers buf_;
  std::vector<float> logits_;  // [n_logits][V]
  int64_t n_logits_ = 0;
  int64_t n_past_ = 0;
};

}  // namespace muse
