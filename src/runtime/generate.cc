// The generation loop. Order per step: sample from the last logits, check end-of-generation,
// stream the token's text through the stop matcher, then evaluate it (skipped for the last
// token so a finished sequence costs no extra forward pass).
#include "runtime/generate.h"

#include <algorithm>
#include <chrono>

#include "runtime/stop.h"

namespace muse {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void GenerationSession::reset() {
  history_.clear();
  ctx_.rewind(0);
}

StatusOr<GenerateResult> GenerationSession::generate(std::span<const int32_t> prompt,
                                                     Sampler& sampler, const GenerateOptions& opts,
                                                     const TextCallback& on_text) {
  if (prompt.empty()) return Errorf("the prompt is empty (no tokens)");
  if (int64_t(prompt.size()) > ctx_.n_ctx())
    return Errorf(
        "the prompt has %zu tokens but the context holds %lld; use a larger "
        "context (-c) or a shorter prompt",
        prompt.size(), (long long)ctx_.n_ctx());
  if (opts.max_tokens < -1) return Errorf("max_tokens must be >= -1 (got %d)", opts.max_tokens);
  MUSE_RETURN_IF_ERROR(validate_stop_strings(opts.stop));

  GenerateResult result;
  result.stats.n_prompt = int64_t(prompt.size());

  // Reuse the cached prefix; at least one token must be evaluated to get fresh logits.
  size_t keep = 0;
  while (keep < history_.size() && keep < prompt.size() && history_[keep] == prompt[keep]) ++keep;
  if (keep == prompt.size()) --keep;
  ctx_.rewind(int64_t(keep));
  history_.resize(keep);
  const auto t_prompt = std::chrono::steady_clock::now();
  if (Status s = ctx_.eval(prompt.subspan(keep)); !s.ok()) {
    reset();  // the cache may hold part of the failed chunk
    return s;
  }
  history_.assign(prompt.begin(), prompt.end());
  result.stats.n_prompt_eval = int64_t(prompt.size() - keep);
  result.stats.prompt_seconds = seconds_since(t_prompt);
  for (int32_t t : prompt) sampler.accept(t);

  StopMatcher stops(opts.stop);
  // The reply continues the prompt: its first token keeps a leading space.
  StreamDecoder decoder(tokenizer_, {.continues_text = true});
  bool cancelled = false;
  auto emit = [&](const std::string& piece) {
    if (piece.empty() || cancelled) return;
    result.text += piece;
    if (on_text && !on_text(piece)) cancelled = true;
  };

  const auto t_gen = std::chrono::steady_clock::now();
  result.finish = FinishReason::kLength;
  for (int32_t i = 0; opts.max_tokens < 0 || i < opts.max_tokens; ++i) {
    auto sample = sampler.sample(ctx_.logits());
    if (!sample.ok()) return sample.status();
    const int32_t token = sample->token;
    sampler.accept(token);
    result.tokens.push_back(token);
    ++result.stats.n_gen;
    if (!opts.ignore_eos && tokenizer_.is_eog(token)) {
      result.finish = FinishReason::kStop;
      break;
    }
    const StopPush pushed = stops.push(decoder.push(token));
    emit(pushed.text);
    if (pushed.stopped || cancelled) {
      result.finish = FinishReason::kStop;
      break;
    }
    const bool last = opts.max_tokens >= 0 && i + 1 == opts.max_tokens;
    if (last) break;
    if (ctx_.n_past() >= ctx_.n_ctx()) break;  // context full: finish = length
    MUSE_RETURN_IF_ERROR(ctx_.eval({&token, 1}));
    history_.push_back(token);
  }
  if (!stops.stopped()) emit(stops.push(decoder.flush()).text);
  if (!stops.stopped()) emit(stops.flush());
  result.stats.gen_seconds = seconds_since(t_gen);
  return result;
}

}  // namespace muse
