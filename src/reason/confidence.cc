// DeepConf measures: means in double, a ring with a running sum, a sort for the percentile.
#include "reason/confidence.h"

#include <algorithm>
#include <cmath>

namespace muse {

float token_confidence(std::span<const TokenLogprob> top) {
  if (top.empty()) return 0.0f;
  double sum = 0.0;
  for (const TokenLogprob& t : top) sum += t.logprob;
  return static_cast<float>(-sum / static_cast<double>(top.size()));
}

GroupConfidence::GroupConfidence(int window)
    : window_(std::max(window, 1)), ring_(static_cast<size_t>(window_), 0.0f) {}

void GroupConfidence::push(float c) {
  if (full()) sum_ -= ring_[next_];
  ring_[next_] = c;
  sum_ += c;
  next_ = next_ + 1 == window_ ? 0 : next_ + 1;
  const bool was_full = full();
  ++count_;
  if (full()) {
    const double mean = sum_ / window_;
    lowest_ = was_full ? std::min(lowest_, mean) : mean;
  }
}

float GroupConfidence::current() const {
  if (count_ == 0) return 0.0f;
  return static_cast<float>(sum_ / static_cast<double>(std::min<int64_t>(count_, window_)));
}

float GroupConfidence::lowest() const { return full() ? static_cast<float>(lowest_) : current(); }

float GroupConfidence::tail(int n) const {
  const int m = static_cast<int>(std::min<int64_t>(
      {static_cast<int64_t>(std::max(n, 0)), count_, static_cast<int64_t>(window_)}));
  if (m == 0) return 0.0f;
  double sum = 0.0;
  int slot = next_;
  for (int i = 0; i < m; ++i) {
    slot = slot == 0 ? window_ - 1 : slot - 1;
    sum += ring_[slot];
  }
  return static_cast<float>(sum / m);
}

StatusOr<float> confidence_threshold(std::span<const float> warmup_lowest, float keep_percent) {
  if (warmup_lowest.empty()) return Errorf("confidence threshold needs at least one warm-up trace");
  if (!(keep_percent > 0.0f && keep_percent <= 100.0f)) {
    return Errorf("keep percent must be in (0, 100] (got %g)", keep_percent);
  }
  std::vector<double> x(warmup_lowest.begin(), warmup_lowest.end());
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      return Errorf("warm-up confidence %zu is not finite (%g)", i, x[i]);
    }
  }
  std::sort(x.begin(), x.end());
  const double rank = (100.0 - keep_percent) / 100.0 * static_cast<double>(x.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, x.size() - 1);
  return static_cast<float>(x[lo] + (rank - static_cast<double>(lo)) * (x[hi] - x[lo]));
}

}  // namespace muse
