// DeepConf confidence measures (Fu et al., "Deep Think with Confidence", Meta FAIR 2025),
// ARCHITECTURE.md section 6 step 2: token confidence from the top-k logprobs, the sliding
// window group confidence a branch is early-stopped on, and the online stop threshold from
// warm-up traces. Higher means more confident; every value is a mean of C_t >= 0.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "runtime/sampler.h"

namespace muse {

// C_t = -(1/k) * sum of the k candidates' logprobs, k = top.size() (the runtime passes
// `SampleResult::top`, k = 20). 0 for an empty span. Logprobs are <= 0, so C_t >= 0; a
// peaked distribution has one logprob near 0 and the rest very negative, so a high C_t
// means a confident step.
float token_confidence(std::span<const TokenLogprob> top);

// Group confidence C_G over the last `window` token confidences and the trace's lowest group
// confidence, updated in O(1) per push from a running sum over a ring of the last `window`
// values. Pushed values must be finite (token_confidence of finite logprobs is). The sum is
// kept in double, so its drift over long traces stays far below float precision.
class GroupConfidence {
 public:
  explicit GroupConfidence(int window);  // window < 1 is treated as 1

  void push(float c);

  int window() const { return window_; }
  int64_t count() const { return count_; }  // values pushed so far
  bool full() const { return count_ >= window_; }

  // Mean of the last `window` values, or of all so far when fewer; 0 when empty.
  float current() const;
  // Minimum of `current()` over every push that left the window full, the value DeepConf
  // compares with the stop threshold. Before the window first fills: `current()`.
  float lowest() const;
  // Mean of the last n values (DeepConf's tail confidence). Only the last `window` values
  // are kept, so n is clamped to [0, min(count(), window())]; 0 when that leaves none.
  float tail(int n) const;

 private:
  int window_;
  std::vector<float> ring_;  // [window_]; slot `next_` is the oldest value once full
  int next_ = 0;
  int64_t count_ = 0;
  double sum_ = 0.0;     // of the values in the ring
  double lowest_ = 0.0;  // valid once full()
};

// DeepConf's online threshold s: the warm-up traces' lowest group confidences at the
// (100 - keep_percent)-th percentile, so that the top `keep_percent` % of traces would have
// survived (keep 10 -> 90th percentile, "DeepConf-low"; keep 90 -> 10th, "DeepConf-high").
// Percentile by linear interpolation between order statistics (numpy's default): rank
// r = p/100 * (n - 1), s = x[floor r] + (r - floor r) * (x[ceil r] - x[floor r]).
// Errors: empty `warmup_lowest`, a non-finite value, keep_percent outside (0, 100].
StatusOr<float> confidence_threshold(std::span<const float> warmup_lowest, float keep_percent);

}  // namespace muse
