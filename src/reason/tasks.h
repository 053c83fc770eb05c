// Evaluation tasks for `muse eval`: the question/answer datasets in ../shared/datasets
// (GSM8K, MATH-500, AIME 2024/2025, AMC 2023, ARC-Challenge) read as JSON lines, each item a
// prompt for the model and a normalized gold answer (reason/answer.h). Every prompt asks for
// the final answer in \boxed{}, which the `auto` extractor reads first. The gym's procedural
// tasks (gym:easy, gym:arith:hard, ...) are its fixed held-out split (gym/gym.h), asked as
// trained: the bare question, answered by a final "Answer: X" line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace muse {

struct EvalItem {
  std::string prompt;  // the user message
  std::string gold;    // normalized answer
};

// Task names: gsm8k, math500, aime24, aime25, amc23, arc (the test split; arc-dev for the
// dev split), gym:<level> or gym:<family>:<level> (the held-out split, no files needed), and
// gym-train:<level> (train-split questions from a fixed seed, for tuning; limit 0 = 200).
// `datasets_dir` holds one folder per dataset; limit > 0 keeps the first items. Errors name the
// file and line of a malformed row, or the accepted task names.
StatusOr<std::vector<EvalItem>> load_task(std::string_view task, const std::string& datasets_dir,
                                          int64_t limit = 0);
std::vector<std::string_view> task_names();

}  // namespace muse
