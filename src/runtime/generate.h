// Single-sequence generation: prompt prefill with prefix reuse across turns, the sample →
// eval loop, stop strings, end-of-generation tokens and streaming text that never splits a
// UTF-8 character. The CLI's `run` and `chat` use it; batched and forked generation live in
// the engine (ARCHITECTURE.md section 4).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/context.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace muse {

struct GenerateOptions {
  int32_t max_tokens = 256;       // generated tokens; -1 = until the context is full
  std::vector<std::string> stop;  // stop strings, not part of the returned text
  bool ignore_eos = false;        // keep going past end-of-generation tokens
};

enum class FinishReason {
  kStop,    // an end-of-generation token or a stop string (OpenAI's "stop")
  kLength,  // max_tokens reached or the context is full (OpenAI's "length")
};

struct GenerateStats {
  int64_t n_prompt = 0;       // prompt tokens
  int64_t n_prompt_eval = 0;  // of which evaluated (the rest reused from the KV cache)
  int64_t n_gen = 0;          // generated tokens (including a final end-of-generation token)
  double prompt_seconds = 0;
  double gen_seconds = 0;
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;  // generated ids
  FinishReason finish = FinishReason::kStop;
  GenerateStats stats;
};

// Called with each piece of text as it becomes final; returning false cancels generation
// (finish = kStop, text so far kept).
using TextCallback = std::function<bool(std::string_view piece)>;

// A sequence whose KV cache persists across calls: a new prompt that starts with the tokens
// already evaluated (a chat transcript that grew by a turn) only evaluates the new suffix.
class GenerationSession {
 public:
  GenerationSession(ModelContext& ctx, const Tokenizer& tokenizer)
      : ctx_(ctx), tokenizer_(tokenizer) {}

  // Evaluates `prompt` (after the longest prefix shared with what the cache holds), then
  // samples until a stop condition. Errors: empty prompt, prompt longer than the context
  // (message gives both sizes), invalid options; the session is unchanged by an error
  // detected before evaluation.
  StatusOr<GenerateResult> generate(std::span<const int32_t> prompt, Sampler& sampler,
                                    const GenerateOptions& opts, const TextCallback& on_text = {});

  // Forgets the cached tokens (the next prompt is evaluated from scratch).
  void reset();
  const std::vector<int32_t>& history() const { return history_; }

 private:
  ModelContext& ctx_;
  const Tokenizer& tokenizer_;
  std::vector<int32_t> history_;  // tokens whose K/V are in the cache, in order
};

}  // namespace muse
