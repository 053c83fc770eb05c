// The question loop of `muse eval`, shared with `muse train`'s held-out report: each item's
// prompt through the model's chat template, one Contemplate run per question (seed + 1000·q),
// the extracted answer against the gold.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "cli/model_flags.h"
#include "reason/contemplate.h"
#include "reason/tasks.h"
#include "runtime/engine.h"

namespace muse::cli {

struct EvalScore {
  int64_t questions = 0, correct = 0, tokens = 0;
  double wall_s = 0;
  double accuracy() const { return questions ? double(correct) / double(questions) : 0.0; }
};

// Called after each question with its index, the item, the run's result and whether its
// answer matched the gold (progress lines, traces).
using EvalItemCallback =
    std::function<void(size_t, const EvalItem&, const ContemplateResult&, bool)>;

// On an engine from make_engine(m, ...) with room for the method's agents; on_item may be
// empty.
StatusOr<EvalScore> eval_items(Engine& engine, const LoadedModel& m,
                               std::span<const EvalItem> items, const ContemplateOptions& o,
                               const EvalItemCallback& on_item = {});

}  // namespace muse::cli
