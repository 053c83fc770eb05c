// Evaluation context of one sequence over a shared Model: a KV cache of n_ctx positions
// (the paged cache with one page table in order), a step runner sized for n_batch tokens,
// and the logits of the last step. `eval` appends tokens at
// positions n_past.. and advances n_past; prompts longer than one step are split into
// chunks of at most `n_batch` tokens. Not thread-safe; the pool parallelizes inside a step.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/blocks/mla_mode.h"
#include "model/forward.h"
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

// The cache layout for `model`: per-head K/V rows, or for MLA one latent row
// [c_kv ; k_rope] per position and layer; enough pages of `page_size` for n_positions.
KvCacheOptions kv_cache_options(const Model& model, int64_t n_positions, DType type,
                                int64_t page_size = 16);

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
  int64_t n_ctx() const { return opts_.n_ctx; }
  // Forgets positions >= n (n <= n_past()): the next eval overwrites them.
  void rewind(int64_t n);

  const Model& model() const { return model_; }
  const KvCache& kv_cache() const { return kv_; }
  const ContextOptions& options() const { return opts_; }

 private:
  ModelContext(const Model& model, const ContextOptions& opts, const KvCacheOptions& kv,
               std::unique_ptr<BatchForward> forward);

  const Model& model_;
  ContextOptions opts_;
  KvCache kv_;
  std::vector<int32_t> pages_;  // 0, 1, 2, ...
  std::unique_ptr<BatchForward> forward_;
  std::vector<float> logits_;  // [n_logits][V]
  int64_t n_logits_ = 0;
  int64_t n_past_ = 0;
};

}  // namespace muse
