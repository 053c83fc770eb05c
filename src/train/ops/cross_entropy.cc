// Per row, the SIMD softmax kernel (max, exp, sum, scale in vector code) runs on the gradient
// buffer, or on a per-task copy when only the loss is wanted; the loss is −log p[target].
// When p[target] is below the normal range its float log is inexact, and that row's loss is
// recomputed as logsumexp − x[target] in double. Row losses are summed in row order, so the
// result does not depend on the thread count.
#include "train/ops/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ops.h"

namespace muse {
namespace {

constexpr int64_t kRowChunk = 8;

Status check_targets(std::span<const int32_t> targets, int64_t n_vocab, int64_t& n_counted) {
  n_counted = 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    if (targets[t] == kIgnoreTarget) continue;
    if (targets[t] < 0 || targets[t] >= n_vocab)
      return Errorf("cross_entropy: target %zu is %d, outside [0, %lld) and not %d", t, targets[t],
                    static_cast<long long>(n_vocab), kIgnoreTarget);
    ++n_counted;
  }
  return Status::Ok();
}

// −log softmax(x)[target], given p = softmax(x)[target] from the kernel.
double row_loss(const float* x, int64_t n, int32_t target, float p) {
  if (p >= std::numeric_limits<float>::min()) return -std::log(double(p));
  const double mx = *std::max_element(x, x + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - mx);
  return std::log(sum) + mx - double(x[target]);
}

float mean(const std::vector<double>& losses, int64_t n_counted) {
  double total = 0.0;
  for (double l : losses) total += l;
  return n_counted > 0 ? float(total / double(n_counted)) : 0.0f;
}

}  // namespace

StatusOr<float> cross_entropy_forward(ThreadPool& pool, const float* logits,
                                      std::span<const int32_t> targets, int64_t n_vocab) {
  int64_t n_counted = 0;
  MUSE_RETURN_IF_ERROR(check_targets(targets, n_vocab, n_counted));
  const int64_t T = int64_t(targets.size());
  std::vector<double> losses(size_t(T), 0.0);
  for_chunks(pool, T, kRowChunk, [&](int64_t r0, int64_t r1) {
    std::vector<float> probs(static_cast<size_t>(n_vocab));
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t target = targets[size_t(r)];
      if (target == kIgnoreTarget) continue;
      const float* x = logits + r * n_vocab;
      std::copy_n(x, n_vocab, probs.data());
      softmax(probs.data(), n_vocab);
      losses[size_t(r)] = row_loss(x, n_vocab, target, probs[size_t(target)]);
    }
  });
  return mean(losses, n_counted);
}

StatusOr<float> cross_entropy_forward_backward(ThreadPool& pool, const float* logits,
                                               std::span<const int32_t> targets, int64_t n_vocab,
                                               float* dlogits, float dloss) {
  int64_t n_counted = 0;
  MUSE_RETURN_IF_ERROR(check_targets(targets, n_vocab, n_counted));
  const int64_t T = int64_t(targets.size());
  const float g = n_counted > 0 ? float(double(dloss) / double(n_counted)) : 0.0f;
  std::vector<double> losses(size_t(T), 0.0);
  for_chunks(pool, T, kRowChunk, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t target = targets[size_t(r)];
      float* d = dlogits + r * n_vocab;
      if (target == kIgnoreTarget) {
        std::fill_n(d, n_vocab, 0.0f);
        continue;
      }
      const float* x = logits + r * n_vocab;
      if (d != x) std::copy_n(x, n_vocab, d);
      softmax(d, n_vocab);
      const float p = d[target];
      // With d aliasing x the logits are gone; the rare underflow path then uses log p's
      // floor instead (p is 0 or subnormal: the loss is ≥ 87 nats either way).
      losses[size_t(r)] =
          d != x ? row_loss(x, n_vocab, target, p)
                 : -std::log(double(std::max(p, std::numeric_limits<float>::denorm_min())));
      scale(d, g, n_vocab);
      d[target] -= g;
    }
  });
  return mean(losses, n_counted);
}

}  // namespace muse
