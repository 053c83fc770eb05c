// Cross-entropy of next-token logits, mean over the tokens whose target is not
// kIgnoreTarget, with the softmax backward fused into the same pass over each row:
// dlogits = dloss · (softmax(logits) − onehot(target)) / n_counted.
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"
#include "train/ops/common.h"

namespace muse {

constexpr int32_t kIgnoreTarget = -1;  // prompt tokens, padding: no loss, zero gradient

// Loss = mean over counted rows of logsumexp(row) − row[target]; 0 when no row counts.
// Fails when a target is outside [0, V) and not kIgnoreTarget.
StatusOr<float> cross_entropy_forward(ThreadPool& pool, const float* logits,
                                      std::span<const int32_t> targets, int64_t n_vocab);

// The loss as above, and dlogits [T][V] written (may alias logits: each row is read before it
// is overwritten). Ignored rows get zeros. `dloss` scales the gradient (1 for a plain loss).
StatusOr<float> cross_entropy_forward_backward(ThreadPool& pool, const float* logits,
                                               std::span<const int32_t> targets, int64_t n_vocab,
                                               float* dlogits, float dloss = 1.0f);

}  // namespace muse
