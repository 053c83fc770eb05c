// Sampler chain. Candidates are ordered by (logit descending, token id ascending) wherever
// an order matters, and the draw walks survivors by ascending id, so a seed picks the same
// token whatever the standard library's sort or heap implementation does with ties.
#include "runtime/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "core/splitmix.h"
#include "kernels/ops.h"

namespace muse {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Chunk of the log-sum-exp pass: exp runs vectorized over a stack buffer that stays in L1.
constexpr size_t kExpChunk = 2048;
// Logits per block of the top-k scan (a multiple of 8).
constexpr size_t kScanBlock = 64;
// Survivors per block that the draw skips with one sum.
constexpr size_t kDrawBlock = 256;

template <class C>
bool better(const C& a, const C& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

// Sum with eight independent float accumulators (vectorizable, and one rounding chain per
// n/8 terms instead of n); the partials are combined in double.
double sum_f32(const float* v, size_t n) {
  float acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += v[i + j];
  }
  double s = 0.0;
  for (float a : acc) s += a;
  for (; i < n; ++i) s += v[i];
  return s;
}

Status check_range(const char* name, float v, float lo, float hi) {
  if (!(v >= lo && v <= hi)) return Errorf("%s must be in [%g, %g] (got %g)", name, lo, hi, v);
  return Status::Ok();
}

}  // namespace

Status validate(const SamplerParams& p) {
  if (!(p.temperature >= 0.0f) || std::isinf(p.temperature)) {
    return Errorf("temperature must be >= 0 and finite (got %g)", p.temperature);
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    return Errorf("top_p must be in (0, 1] (got %g)", p.top_p);
  MUSE_RETURN_IF_ERROR(check_range("min_p", p.min_p, 0.0f, 1.0f));
  if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty)) {
    return Errorf("repeat_penalty must be > 0 and finite (got %g)", p.repeat_penalty);
  }
  if (p.repeat_last_n < -1) {
    return Errorf("repeat_last_n must be >= -1 (-1 = whole history, 0 = off) (got %d)",
                  p.repeat_last_n);
  }
  MUSE_RETURN_IF_ERROR(check_range("presence_penalty", p.presence_penalty, -2.0f, 2.0f));
  MUSE_RETURN_IF_ERROR(check_range("frequency_penalty", p.frequency_penalty, -2.0f, 2.0f));
  if (p.n_logprobs < 0 || p.n_logprobs > SamplerParams::kMaxLogprobs) {
    return Errorf("n_logprobs must be in [0, %d] (got %d)", SamplerParams::kMaxLogprobs,
                  p.n_logprobs);
  }
  return Status::Ok();
}

float penalized_logit(float logit, int32_t count, const SamplerParams& p) {
  // llama.cpp `llama_sampler_penalties_apply`: dividing a negative logit would raise it, so
  // negative logits are multiplied instead (Keskar et al. 2019, CTRL, only covered > 0).
  logit = logit > 0.0f ? logit / p.repeat_penalty : logit * p.repeat_penalty;
  logit -= static_cast<float>(count) * p.frequency_penalty + p.presence_penalty;
  // A tiny repeat_penalty can overflow a large logit; +inf would poison the softmax, while
  // -inf (also what a masked token keeps) just removes the token.
  return std::min(logit, std::numeric_limits<float>::max());
}

StatusOr<Sampler> Sampler::create(const SamplerParams& params) {
  MUSE_RETURN_IF_ERROR(validate(params));
  uint64_t seed = params.seed;
  if (seed == SamplerParams::kRandomSeed) {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) ^ uint64_t { rd() };
  }
  return Sampler(params, seed);
}

Sampler::Sampler(const SamplerParams& params, uint64_t seed) : params_(params), seed_(seed) {
  penalties_on_ = params.repeat_last_n != 0 &&
                  (params.repeat_penalty != 1.0f || params.presence_penalty != 0.0f ||
                   params.frequency_penalty != 0.0f);
  reset();
}

void Sampler::reset() {
  // splitmix64 is the seeding the xoshiro authors recommend: any seed, including 0, gives a
  // well-mixed nonzero state.
  uint64_t x = seed_;
  for (uint64_t& s : rng_) s = splitmix64(x);
  window_.clear();
  window_next_ = 0;
  counts_.clear();
}

// xoshiro256** 1.0 (Blackman & Vigna 2018, "Scrambled linear pseudorandom number
// generators"): 256 bits of state, so copying a sampler is cheap, and fully specified,
// unlike the distributions of <random>.
uint64_t Sampler::next_u64() {
  const uint64_t result = std::rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = std::rotl(rng_[3], 45);
  return result;
}

double Sampler::next_uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

void Sampler::accept(int32_t token) {
  if (!penalties_on_ || token < 0) return;
  ++counts_[token];
  if (params_.repeat_last_n < 0) return;  // unbounded window: nothing ever leaves
  const size_t cap = static_cast<size_t>(params_.repeat_last_n);
  if (window_.size() < cap) {
    window_.push_back(token);
    return;
  }
  const auto it = counts_.find(window_[window_next_]);
  if (--it->second == 0) counts_.erase(it);
  window_[window_next_] = token;
  window_next_ = (window_next_ + 1) % cap;
}

// Fills `top_raw_` with the `n_top` highest raw logits (best first) and `lse_`, and checks
// the logits. The selection keeps a heap whose front is its worst member, so almost every
// logit costs one comparison against that threshold.
Status Sampler::scan_raw(std::span<const float> logits, size_t n_top) {
  const size_t n = logits.size();
  auto& heap = top_raw_;
  heap.clear();
  size_t i = 0;
  for (; i < n && heap.size() < n_top; ++i) {
    if (std::isnan(logits[i])) continue;  // reported below; NaN would break the ordering
    heap.push_back({logits[i], static_cast<int32_t>(i)});
    std::push_heap(heap.begin(), heap.end(), better<Candidate>);
  }
  if (heap.size() == n_top) {
    float threshold = heap.front().logit;
    auto offer = [&](size_t end) {
      for (; i < end; ++i) {
        // Strictly greater: an equal logit has a higher id than every member, so is worse.
        if (logits[i] > threshold) {
          std::pop_heap(heap.begin(), heap.end(), better<Candidate>);
          heap.back() = {logits[i], static_cast<int32_t>(i)};
          std::push_heap(heap.begin(), heap.end(), better<Candidate>);
          threshold = heap.front().logit;
        }
      }
    };
    // Blocks whose maximum cannot enter are skipped after a branch-free max over eight
    // independent lanes: about 4x faster than the per-element compare chain. A NaN can hide
    // a block, but a NaN makes `sample` fail below anyway.
    while (i + kScanBlock <= n) {
      float lane[8];
      for (int j = 0; j < 8; ++j) lane[j] = logits[i + j];
      for (size_t k = 8; k < kScanBlock; k += 8) {
        for (int j = 0; j < 8; ++j) {
          lane[j] = lane[j] < logits[i + k + j] ? logits[i + k + j] : lane[j];
        }
      }
      float block_max = lane[0];
      for (int j = 1; j < 8; ++j) block_max = block_max < lane[j] ? lane[j] : block_max;
      if (block_max > threshold) {
        offer(i + kScanBlock);
      } else {
        i += kScanBlock;
      }
    }
    offer(n);
  }
  std::sort_heap(heap.begin(), heap.end(), better<Candidate>);

  const float max = heap.empty() ? -kInf : heap.front().logit;
  if (max == kInf) return Errorf("logit of token %d is +inf", heap.front().token);

  float buf[kExpChunk];
  double sum = 0.0;
  int n_nan = 0;
  for (size_t base = 0; base < n; base += kExpChunk) {
    const size_t len = std::min(kExpChunk, n - base);
    for (size_t j = 0; j < len; ++j) {
      n_nan += std::isnan(logits[base + j]);
      buf[j] = logits[base + j] - max;
    }
    exp_f32(buf, buf, static_cast<int64_t>(len));
    sum += sum_f32(buf, len);
  }
  if (n_nan > 0) {
    const auto it = std::find_if(logits.begin(), logits.end(), [](float x) { return x != x; });
    return Errorf("logit of token %d is NaN (%d NaN logits)", static_cast<int>(it - logits.begin()),
                  n_nan);
  }
  if (max == -kInf) return Status::Error("every logit is -inf: no token can be sampled");
  lse_ = static_cast<double>(max) + std::log(sum);
  return Status::Ok();
}

Status Sampler::prepare(std::span<const float> logits) {
  const size_t n = logits.size();
  if (n == 0) return Status::Error("cannot sample from an empty logits vector");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return Errorf("vocab of %zu tokens does not fit int32 token ids", n);
  }
  const bool greedy = params_.temperature <= 0.0f;
  const size_t k = greedy              ? 1
                   : params_.top_k > 0 ? std::min(n, static_cast<size_t>(params_.top_k))
                                       : n;
  // Top-k of the penalized logits from the raw ones: an unpenalized token among the k best
  // penalized ones has at most k - 1 unpenalized and `counts_.size()` penalized tokens above
  // it in raw order, so it is among the k + counts_.size() best raw logits.
  const size_t n_pen = counts_.size();
  const bool select = k + n_pen < n;
  size_t n_top = std::max<size_t>(1, static_cast<size_t>(params_.n_logprobs));
  if (select) n_top = std::max(n_top, k + n_pen);
  MUSE_RETURN_IF_ERROR(scan_raw(logits, std::min(n_top, n)));

  cand_.clear();
  if (select) {
    for (const Candidate& c : top_raw_) {
      if (cand_.size() < k && !counts_.contains(c.token)) cand_.push_back(c);
    }
  } else {
    cand_.resize(n);
    for (size_t i = 0; i < n; ++i) cand_[i] = {logits[i], static_cast<int32_t>(i)};
  }
  for (const auto& [token, count] : counts_) {
    if (static_cast<size_t>(token) >= n) continue;
    const float logit = penalized_logit(logits[token], count, params_);
    if (select) {
      cand_.push_back({logit, token});
    } else {
      cand_[token].logit = logit;
    }
  }
  std::erase_if(cand_, [](const Candidate& c) { return c.logit == -kInf; });
  if (cand_.empty()) return Status::Error("no token has a finite logit after the penalties");

  // Survivors in logit order (best first) from here on when `by_logit`, else in id order.
  bool by_logit = false;
  if (greedy || select) {
    const size_t keep = std::min(k, cand_.size());
    std::partial_sort(cand_.begin(), cand_.begin() + keep, cand_.end(), better<Candidate>);
    cand_.resize(keep);
    by_logit = true;
  }
  if (!greedy && params_.top_p < 1.0f) {
    apply_top_p();
    by_logit = true;
  }
  const float max = by_logit ? cand_.front().logit
                             : std::max_element(cand_.begin(), cand_.end(),
                                                [](const Candidate& a, const Candidate& b) {
                                                  return a.logit < b.logit;
                                                })
                                   ->logit;
  if (!greedy && params_.min_p > 0.0f) {
    // p_i >= min_p * p_max  <=>  logit_i >= logit_max + log(min_p): no softmax needed.
    const float cut = max + std::log(params_.min_p);
    std::erase_if(cand_, [cut](const Candidate& c) { return c.logit < cut; });
  }
  if (by_logit) {
    std::sort(cand_.begin(), cand_.end(),
              [](const Candidate& a, const Candidate& b) { return a.token < b.token; });
  }

  weight_.resize(cand_.size());
  if (greedy) {
    weight_[0] = 1.0f;
    weight_sum_ = 1.0;
    return Status::Ok();
  }
  const float temp = params_.temperature;
  for (size_t i = 0; i < cand_.size(); ++i) weight_[i] = (cand_[i].logit - max) / temp;
  exp_f32(weight_.data(), weight_.data(), static_cast<int64_t>(weight_.size()));
  weight_sum_ = sum_f32(weight_.data(), weight_.size());
  return Status::Ok();
}

// Keeps the smallest best-first prefix of `cand_` whose probability (softmax of the current
// candidates at temperature 1, as llama.cpp computes it) reaches top_p. Sorts in growing
// chunks, so a nucleus of a few hundred tokens out of 150k costs a few partial sorts.
void Sampler::apply_top_p() {
  const size_t m = cand_.size();
  float max = -kInf;
  weight_.resize(m);
  for (const Candidate& c : cand_) max = std::max(max, c.logit);
  for (size_t i = 0; i < m; ++i) weight_[i] = cand_[i].logit - max;
  exp_f32(weight_.data(), weight_.data(), static_cast<int64_t>(m));
  const double total = sum_f32(weight_.data(), m);
  const double target = static_cast<double>(params_.top_p) * total;

  double cum = 0.0;
  size_t sorted = 0;
  for (size_t chunk = 64; sorted < m; chunk *= 2) {
    const size_t end = std::min(m, sorted + chunk);
    std::partial_sort(cand_.begin() + sorted, cand_.begin() + end, cand_.end(), better<Candidate>);
    // The same exp as for `total`: only the summation order differs between the two.
    for (size_t i = sorted; i < end; ++i) weight_[i] = cand_[i].logit - max;
    exp_f32(weight_.data() + sorted, weight_.data() + sorted, static_cast<int64_t>(end - sorted));
    for (; sorted < end; ++sorted) {
      cum += weight_[sorted];
      if (cum >= target) {
        cand_.resize(sorted + 1);
        return;
      }
    }
  }
}

StatusOr<SampleResult> Sampler::sample(std::span<const float> logits) {
  MUSE_RETURN_IF_ERROR(prepare(logits));
  SampleResult r;
  size_t pick = 0;
  if (params_.temperature > 0.0f) {
    // Inverse CDF over the survivors in id order. Whole blocks are skipped by their
    // (vectorized) sums, so only the block holding the target is walked one by one.
    const double target = next_uniform() * weight_sum_;
    const size_t m = cand_.size();
    size_t i = 0;
    double cum = 0.0;
    for (; i + kDrawBlock < m; i += kDrawBlock) {
      const double block = sum_f32(weight_.data() + i, kDrawBlock);
      if (cum + block > target) break;
      cum += block;
    }
    pick = m;
    for (; i < m; ++i) {
      cum += weight_[i];
      if (target < cum) {  // first crossing: weight_[i] > 0
        pick = i;
        break;
      }
    }
    if (pick == m) {
      // Rounding left the target past the last partial sum: take the last token that has a
      // weight (the best survivor has weight 1, so the search stops).
      pick = m - 1;
      while (weight_[pick] <= 0.0f) --pick;
    }
  }
  r.token = cand_[pick].token;
  r.logprob = static_cast<float>(static_cast<double>(logits[r.token]) - lse_);
  const size_t n_top = std::min(top_raw_.size(), static_cast<size_t>(params_.n_logprobs));
  for (size_t i = 0; i < n_top && top_raw_[i].logit != -kInf; ++i) {
    r.top.push_back(
        {top_raw_[i].token, static_cast<float>(static_cast<double>(top_raw_[i].logit) - lse_)});
  }
  return r;
}

StatusOr<std::vector<TokenProb>> Sampler::distribution(std::span<const float> logits) {
  MUSE_RETURN_IF_ERROR(prepare(logits));
  std::vector<TokenProb> out(cand_.size());
  for (size_t i = 0; i < cand_.size(); ++i) {
    out[i] = {cand_[i].token, static_cast<float>(weight_[i] / weight_sum_)};
  }
  return out;
}

}  // namespace muse
