// Token sampling for one sequence: the chain penalties -> top-k -> top-p -> min-p ->
// temperature -> draw (ARCHITECTURE.md section 4), seeded and reproducible. Besides the token
// it reports log-probabilities of the model's own distribution (log-softmax of the raw
// logits), which confidence measures such as DeepConf need.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace muse {

// Designated initializers: SamplerParams{.temperature = 0.6f, .top_p = 0.95f, .seed = 7}.
// The defaults are llama.cpp's (`common_params_sampling`); penalties are off by default.
struct SamplerParams {
  // Divides the surviving logits just before the draw. 0 = greedy: the highest penalized
  // logit wins (ties -> lowest token id); top-k/top-p/min-p cannot change that choice.
  float temperature = 0.8f;
  int32_t top_k = 40;   // keep the k highest logits; <= 0 disables
  float top_p = 0.95f;  // nucleus (Holtzman et al. 2019); in (0, 1], 1 disables
  float min_p = 0.05f;  // keep p >= min_p * p_max (Nguyen et al. 2024); in [0, 1], 0 disables
  // Penalties see the last `repeat_last_n` accepted tokens (0 disables them, -1 = every
  // token accepted since the last reset). For a token seen c > 0 times in that window:
  //   logit = logit > 0 ? logit / repeat_penalty : logit * repeat_penalty   (llama.cpp, CTRL)
  //   logit -= c * frequency_penalty + presence_penalty                     (OpenAI)
  float repeat_penalty = 1.0f;  // > 0; 1 disables
  int32_t repeat_last_n = 64;
  float presence_penalty = 0.0f;   // in [-2, 2] like OpenAI; 0 disables
  float frequency_penalty = 0.0f;  // in [-2, 2] like OpenAI; 0 disables
  // Same seed, same accepted tokens and same logits -> same draws (on the same build and
  // SIMD target: the probabilities come from a vectorized exp). kRandomSeed asks `Sampler::create`
  // for a seed from std::random_device; `Sampler::seed()` then tells which one to reuse.
  static constexpr uint64_t kRandomSeed = ~uint64_t{0};
  uint64_t seed = kRandomSeed;
  int32_t n_logprobs = 0;  // how many top raw-logit logprobs `sample` returns; 0..kMaxLogprobs
  static constexpr int32_t kMaxLogprobs = 20;  // OpenAI's `top_logprobs` limit
};

// Rejects values outside the documented ranges, NaN and infinities, with a message naming
// the field and the value ("temperature must be >= 0 (got -1)").
Status validate(const SamplerParams& params);

// The penalized logit of a token seen `count` > 0 times in the penalty window (formula in
// `SamplerParams`), exposed so tests can check it against hand-computed values.
float penalized_logit(float logit, int32_t count, const SamplerParams& params);

struct TokenLogprob {
  int32_t token;
  float logprob;
};

struct TokenProb {
  int32_t token;
  float prob;
};

// `logprob` and `top` describe the model's distribution, not the sampling one: they are
// log-softmax of the raw logits passed to `sample`, before penalties, truncation and
// temperature. So a greedy pick reports the model's confidence, not log(1) = 0, and DeepConf's
// token confidence C_t = -mean(top[i].logprob) does not depend on the sampler settings.
struct SampleResult {
  int32_t token = -1;
  float logprob = 0.0f;  // raw log-softmax of `token`; always finite
  // The min(n_logprobs, vocab) highest raw logits, best first (ties -> lower id); tokens
  // with logit -inf are left out, so it can be shorter when few tokens are finite.
  std::vector<TokenLogprob> top;
};

// One per sequence; not thread-safe. Move-only: it owns vocab-sized scratch buffers.
//
// Logits: -inf is a legal mask (the token is never chosen, and is absent from `top`). NaN or
// +inf means the forward pass broke, so `sample` returns an error naming the token instead
// of sampling around it; so does an empty span or one whose every logit is -inf.
//
// Penalty history: the sampler penalizes what it has been told with `accept`, nothing
// else. The generation loop accepts the prompt tokens and then each sampled token, as
// llama.cpp's server does, so a repetition of the prompt is penalized too. Token ids outside
// the vocab of a later `sample` call are kept but ignored there; negative ids are ignored.
class Sampler {
 public:
  static StatusOr<Sampler> create(const SamplerParams& params);

  Sampler(Sampler&&) = default;
  Sampler& operator=(Sampler&&) = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Draws one token. Does not modify `logits` and does not call `accept`. Cost for a 150k
  // vocab: one selection pass for the k highest logits and one exp pass for the
  // log-sum-exp; greedy and top-k never sort the vocab. Without top-k the candidates are
  // the whole vocab and top-p sorts only the prefix it keeps.
  StatusOr<SampleResult> sample(std::span<const float> logits);

  // The distribution `sample` would draw from: the surviving tokens in ascending id order
  // with their probabilities after temperature (summing to 1). Does not advance the RNG.
  // Greedy gives a single token with probability 1.
  StatusOr<std::vector<TokenProb>> distribution(std::span<const float> logits);

  void accept(int32_t token);

  // Forgets the penalty history and restarts the RNG from `seed()`: the next draws repeat
  // those made after `create`.
  void reset();

  const SamplerParams& params() const { return params_; }
  uint64_t seed() const { return seed_; }  // resolved: never kRandomSeed after a random pick

 private:
  struct Candidate {
    float logit;
    int32_t token;
  };

  Sampler(const SamplerParams& params, uint64_t seed);
  // Runs the chain up to the draw: fills `top_raw_`, `lse_`, `cand_` (survivors by id) and
  // `weight_` (their unnormalized probabilities after temperature, summing to `weight_sum_`).
  Status prepare(std::span<const float> logits);
  Status scan_raw(std::span<const float> logits, size_t n_top);
  void apply_top_p();
  uint64_t next_u64();
  double next_uniform();  // in [0, 1), from the top 53 bits of `next_u64`

  SamplerParams params_;
  uint64_t seed_ = 0;
  uint64_t rng_[4] = {};  // xoshiro256** state
  bool penalties_on_ = false;

  std::vector<int32_t> window_;  // ring of the last repeat_last_n accepted tokens
  size_t window_next_ = 0;       // slot the next token overwrites once the ring is full
  std::unordered_map<int32_t, int32_t> counts_;  // token -> occurrences in the window

  // Scratch reused across calls.
  std::vector<Candidate> top_raw_;  // highest raw logits, best first
  std::vector<Candidate> cand_;
  std::vector<float> weight_;
  double lse_ = 0.0;  // log(sum(exp(raw logits)))
  double weight_sum_ = 0.0;
};

}  // namespace muse
