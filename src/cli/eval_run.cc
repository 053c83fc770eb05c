#include "cli/eval_run.h"

#include "cli/chat_prompt.h"
#include "reason/backend.h"

namespace muse::cli {

StatusOr<EvalScore> eval_items(Engine& engine, const LoadedModel& m,
                               std::span<const EvalItem> items, const ContemplateOptions& o,
                               const EvalItemCallback& on_item) {
  const Tokenizer& tok = *m.tokenizer;
  EngineBackend backend(engine);
  EvalScore score;
  for (size_t q = 0; q < items.size(); ++q) {
    const EvalItem& item = items[q];
    auto ids = chat_prompt_ids(m.model->gguf(), tok, "", item.prompt);
    if (!ids.ok()) return ids.status();
    ContemplateOptions oq = o;
    oq.seed = o.seed + 1000 * q;
    auto r = contemplate(backend, tok, *ids, oq);
    if (!r.ok()) return Errorf("question %zu: %s", q + 1, r.status().message().c_str());
    const bool ok = !r->answer.empty() && r->answer == item.gold;
    score.questions += 1;
    score.correct += ok;
    score.tokens += r->tokens;
    score.wall_s += r->wall_s;
    if (on_item) on_item(q, item, *r, ok);
  }
  return score;
}

}  // namespace muse::cli
