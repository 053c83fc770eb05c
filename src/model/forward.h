// One forward step over a batch of sequences sharing a paged KV cache: embedding, the blocks
// layer by layer, the final norm and the output projection for the tokens whose logits are
// wanted. The batch's tokens are laid out sequence after sequence (SeqStep, model/step.h).
// Not thread-safe; the pool parallelizes inside a step. Used by ModelContext (one sequence)
// and by the runtime's engine (many).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "model/blocks/mla_mode.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/step.h"
#include "threading/thread_pool.h"

namespace muse {

class BatchForward {
 public:
  // Scratch for steps of up to max_tokens tokens (all sequences together).
  static StatusOr<std::unique_ptr<BatchForward>> create(const Model& model, ThreadPool& pool,
                                                        int64_t max_tokens,
                                                        MlaMode mla_mode = MlaMode::kAuto);

  // Logit rows the step produces: 1 per kLast sequence, n_tokens per kAll one.
  static int64_t logit_rows(std::span<const SeqStep> seqs);

  // Runs `tokens` (sum of seqs[i].n_tokens) against `kv` and writes logit_rows(seqs) rows
  // of n_vocab floats to `logits`, in batch order. Checks every id, count and page index
  // first: an error leaves the cache unchanged.
  Status run(KvCache& kv, std::span<const int32_t> tokens, std::span<const SeqStep> seqs,
             float* logits);

  int64_t max_tokens() const { return max_tokens_; }
  const Model& model() const { return model_; }

 private:
  BatchForward(const Model& model, ThreadPool& pool, int64_t max_tokens, MlaMode mla_mode);
  Status validate(const KvCache& kv, std::span<const int32_t> tokens,
                  std::span<const SeqStep> seqs) const;

  const Model& model_;
  ThreadPool& pool_;
  int64_t max_tokens_;
  MlaMode mla_mode_;
  StepBuffers buf_;
};

}  // namespace muse
