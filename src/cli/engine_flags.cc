// Engine and Contemplating options from the shared command-line flags.
#include "cli/engine_flags.h"

namespace muse::cli {

StatusOr<std::unique_ptr<Engine>> make_engine(LoadedModel& m, const ModelFlags& f, int n_seqs) {
  EngineOptions eo{.n_ctx = m.ctx->n_ctx(), .n_batch = f.n_batch};
  eo.n_pages = (eo.n_ctx + eo.page_size - 1) / eo.page_size * (n_seqs + 1);
  if (auto kv = parse_kv_type(f.kv_type); kv.ok()) eo.kv_type = *kv;
  const Tokenizer& tok = *m.tokenizer;
  for (int32_t t = 0; t < tok.n_vocab(); ++t)
    if (tok.is_eog(t)) eo.eog_tokens.push_back(t);
  m.ctx.reset();
  return Engine::create(*m.model, *m.pool, eo);
}

void apply_sampling_flags(const ModelFlags& f, ContemplateOptions* o) {
  o->temperature = f.sampling.temperature;
  o->top_k = f.sampling.top_k;
  o->top_p = f.sampling.top_p;
  if (f.sampling.seed != SamplerParams::kRandomSeed) o->seed = f.sampling.seed;
}

}  // namespace muse::cli
