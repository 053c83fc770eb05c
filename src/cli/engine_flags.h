// What `contemplate` and `eval` share on top of model_flags.h: an engine for the loaded
// model sized for n_seqs parallel sequences, and the sampling flags as Contemplating options.
#pragma once

#include <memory>

#include "cli/model_flags.h"
#include "reason/contemplate.h"
#include "runtime/engine.h"

namespace muse::cli {

// An engine over m's model and pool with the flags' context, batch and KV type, the
// tokenizer's end-of-generation tokens, and pages for n_seqs + 1 full contexts (the held
// prompt and its branches). Drops m.ctx: the engine has its own cache.
StatusOr<std::unique_ptr<Engine>> make_engine(LoadedModel& m, const ModelFlags& f, int n_seqs);

// --temp, --top-k, --top-p and -s into o (the seed only when one was given).
void apply_sampling_flags(const ModelFlags& f, ContemplateOptions* o);

}  // namespace muse::cli
