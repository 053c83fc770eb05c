// The gym (ARCHITECTURE.md section 7): procedural reasoning tasks with exact checkers, for
// training `muse-nano` and measuring it. Four families (arith, word, list, compare), three
// levels each (easy, medium, hard). Every item is a question, a normalized answer and a
// full assistant response whose thinking does one small operation per line, so a tiny
// digit-level model can learn it. Generation is a pure function of (spec, split, n, seed).
// Formats, levels and the split rule: docs/gym.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace muse {

struct GymItem {
  std::string family;    // "arith", "word", "list", "compare"
  std::string level;     // "easy", "medium", "hard"
  std::string question;  // the user message
  // Normalized: `normalize_answer(answer) == answer` (reason/answer.h). An integer
  // ("42", "-3"), "yes" / "no", or integers separated by single spaces ("3 5 8 9").
  std::string answer;
  // The assistant response to train on, exactly
  //   "<think>\n" + step lines joined by "\n" + "\n</think>\n\nAnswer: " + answer.
  std::string trace;
  int verbosity = 1;  // 0 terse (steps only), 1 normal (labels, rewrites), 2 verbose (checks)
  int steps = 0;      // counted step lines in the trace (rewrites and checks not counted)
};

enum class GymSplit {
  kTrain,    // any seed; never yields a question of the held-out split
  kHeldOut,  // fixed: kGymHeldOutPerTask items per family and level; the seed is ignored
};
StatusOr<GymSplit> parse_gym_split(std::string_view name);  // "train", "heldout"

inline constexpr int64_t kGymHeldOutPerTask = 200;

// `spec` is a level ("easy", "medium", "hard": the four families mixed) or
// "<family>:<level>". Train: `n` >= 1 items, item i drawn from its own stream of `seed`
// (a prefix of a longer run is the shorter run). Held-out: the first `n` items of the fixed
// list (families interleaved for a level spec); n = 0 means all of it. Errors name the
// accepted specs.
StatusOr<std::vector<GymItem>> gym_generate(std::string_view spec, GymSplit split, int64_t n,
                                            uint64_t seed);

std::vector<std::string_view> gym_families();
std::vector<std::string_view> gym_levels();

// The answer a model gave, normalized: the last `Answer:` after the thinking, else (numeric
// golds only) the last number there. An opened `<think>` that never closes gives nothing:
// a truncated chain has not answered, even if its last step holds the right number.
std::string gym_extract(std::string_view model_output, bool numeric);

// True when the model's answer equals the item's gold (exact, after normalization).
bool gym_check(const GymItem& item, std::string_view model_output);

}  // namespace muse
