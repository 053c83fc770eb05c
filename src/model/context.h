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
#include "model/kv_cache.h"
#include "model/model.h"
#include "threading/thread_pool.h"

namespace muse {

struct ContextOptions {
  int64_t n_ctx = 0;      // KV positions; 0 = min(n_ctx_train, 4096)
  int64_t n_batch = 256;  // tokens per forward step
  DType kv_type = DType::F16;
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
  MatmulScratch matmul;
};

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
