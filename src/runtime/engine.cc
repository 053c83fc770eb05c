// Engine construction and the sequence API: submit, fork, cancel, stats. The step itself
// (sampling, scheduling, paging, forward) is in engine_step.cc.
#include "runtime/engine.h"

#include <algorithm>
#include <unordered_map>

namespace muse {

StatusOr<std::unique_ptr<Engine>> Engine::create(const Model& model, ThreadPool& pool,
                                                 const EngineOptions& opts) {
  const ModelConfig& c = model.config();
  EngineOptions o = opts;
  if (o.n_ctx == 0) o.n_ctx = std::min<int64_t>(c.n_ctx_train, 4096);
  if (o.n_ctx < 2)
    return Errorf("engine: context size %lld must be at least 2", (long long)o.n_ctx);
  if (o.n_batch <= 0)
    return Errorf("engine: batch size %lld must be positive", (long long)o.n_batch);
  if (o.page_size <= 0)
    return Errorf("engine: page size %lld must be positive", (long long)o.page_size);
  const int64_t pages_per_ctx = (o.n_ctx + o.page_size - 1) / o.page_size;
  if (o.n_pages == 0) o.n_pages = 4 * pages_per_ctx;
  if (o.n_pages < 1) return Errorf("engine: %lld KV pages requested", (long long)o.n_pages);
  for (int32_t t : o.eog_tokens)
    if (t < 0 || t >= c.n_vocab)
      return Errorf("engine: end-of-generation token %d outside the vocabulary", t);
  KvCacheOptions kv = kv_cache_options(model, 1, o.kv_type, o.page_size);
  kv.n_pages = o.n_pages;
  MUSE_RETURN_IF_ERROR(validate_kv_cache_options(kv));
  auto forward = BatchForward::create(model, pool, o.n_batch, o.mla_mode);
  if (!forward.ok()) return forward.status();
  return std::unique_ptr<Engine>(
      new Engine(model, pool, o, std::make_unique<KvCache>(kv), std::move(*forward)));
}

Engine::Engine(const Model& model, ThreadPool& pool, const EngineOptions& opts,
               std::unique_ptr<KvCache> kv, std::unique_ptr<BatchForward> forward)
    : model_(model),
      pool_(pool),
      opts_(opts),
      kv_(std::move(kv)),
      forward_(std::move(forward)),
      pages_(opts.n_pages, opts.page_size) {}

Engine::~Engine() = default;

StatusOr<SeqId> Engine::submit(const Request& r) {
  const ModelConfig& c = model_.config();
  if (r.prompt.empty()) return Errorf("submit: empty prompt");
  if (int64_t(r.prompt.size()) >= opts_.n_ctx)
    return Errorf(
        "submit: prompt of %zu tokens does not fit the context of %lld (it must leave "
        "room for one generated token)",
        r.prompt.size(), (long long)opts_.n_ctx);
  for (size_t i = 0; i < r.prompt.size(); ++i)
    if (r.prompt[i] < 0 || r.prompt[i] >= c.n_vocab)
      return Errorf("submit: token id %d at position %zu is outside the vocabulary [0, %lld)",
                    r.prompt[i], i, (long long)c.n_vocab);
  if (r.gen.max_tokens < -1)
    return Errorf("submit: max_tokens must be >= -1 (got %d)", r.gen.max_tokens);
  auto sampler = Sampler::create(r.gen.sampling);
  if (!sampler.ok()) return sampler.status();

  auto s = std::make_unique<Seq>(std::move(*sampler));
  s->id = next_id_++;
  s->tokens = r.prompt;
  s->gen = r.gen;
  s->order = next_order_++;
  for (int32_t t : r.prompt) s->sampler.accept(t);
  const SeqId id = s->id;
  live_.push_back(id);
  seqs_.emplace(id, std::move(s));
  return id;
}

StatusOr<std::vector<SeqId>> Engine::fork(SeqId parent, std::span<const GenParams> gens) {
  const auto it = seqs_.find(parent);
  if (it == seqs_.end()) return Errorf("fork: no sequence %lld", (long long)parent);
  const Seq& p = *it->second;
  if (p.state != State::kReady && p.state != State::kHeld)
    return Errorf(
        "fork: sequence %lld has no logits to branch from (fork once its prompt is "
        "evaluated and before it samples)",
        (long long)parent);
  std::vector<Sampler> samplers;
  for (const GenParams& g : gens) {
    if (g.max_tokens < -1) return Errorf("fork: max_tokens must be >= -1 (got %d)", g.max_tokens);
    auto sampler = Sampler::create(g.sampling);
    if (!sampler.ok()) return sampler.status();
    samplers.push_back(std::move(*sampler));
  }
  std::vector<SeqId> ids;
  for (size_t i = 0; i < gens.size(); ++i) {
    auto s = std::make_unique<Seq>(std::move(samplers[i]));
    s->id = next_id_++;
    s->state = gens[i].max_tokens == 0 ? State::kHeld : State::kReady;
    s->tokens = p.tokens;
    s->n_cached = p.n_cached;
    s->pages = p.pages;
    for (int32_t page : s->pages) pages_.retain(page);
    s->n_hashed = p.n_hashed;
    s->chain = p.chain;
    s->logits = p.logits;
    s->gen = gens[i];
    s->order = next_order_++;
    for (int32_t t : s->tokens) s->sampler.accept(t);
    ids.push_back(s->id);
    live_.push_back(s->id);
    seqs_.emplace(s->id, std::move(s));
  }
  return ids;
}

Status Engine::append(SeqId seq, std::span<const int32_t> tokens) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return Errorf("append: no sequence %lld", (long long)seq);
  Seq& s = *it->second;
  if (tokens.empty()) return Errorf("append: no tokens");
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= model_.config().n_vocab)
      return Errorf("append: token id %d at position %zu is outside the vocabulary [0, %lld)",
                    tokens[i], i, (long long)model_.config().n_vocab);
  if (int64_t(s.tokens.size() + tokens.size()) >= opts_.n_ctx)
    return Errorf("append: %zu tokens after %zu do not fit the context of %lld", tokens.size(),
                  s.tokens.size(), (long long)opts_.n_ctx);
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  for (int32_t t : tokens) s.sampler.accept(t);
  s.logits.clear();
  s.state = State::kQueued;  // evaluated as a chunk; Ready (or Held) again after it
  return Status::Ok();
}

Status Engine::cancel(SeqId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return Errorf("cancel: no sequence %lld", (long long)seq);
  drop(*it->second);
  return Status::Ok();
}

void Engine::drop(Seq& s) {
  for (int32_t page : s.pages) pages_.release(page);
  const SeqId id = s.id;
  live_.erase(std::find(live_.begin(), live_.end(), id));
  seqs_.erase(id);  // destroys s
}

bool Engine::idle() const {
  for (const auto& [id, s] : seqs_)
    if (s->state != State::kHeld) return false;
  return true;
}

bool Engine::held(SeqId seq) const {
  const auto it = seqs_.find(seq);
  return it != seqs_.end() && it->second->state == State::kHeld;
}

std::span<const int32_t> Engine::tokens(SeqId seq) const {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return {};
  return it->second->tokens;
}

std::span<const float> Engine::logits(SeqId seq) const {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return {};
  const Seq& s = *it->second;
  if (s.state != State::kReady && s.state != State::kHeld) return {};
  return s.logits;
}

EngineStats Engine::stats() const {
  EngineStats st = counters_;
  st.n_pages = pages_.n_pages();
  st.page_size = pages_.page_size();
  st.pages_referenced = pages_.n_referenced();
  st.pages_cached = pages_.n_cached();
  st.kv_positions = pages_.referenced_rows();
  for (const auto& [id, s] : seqs_) {
    if (s->state == State::kQueued)
      ++st.n_queued;
    else if (s->state == State::kHeld)
      ++st.n_held;
    else
      ++st.n_running;
  }
  return st;
}

bool Engine::check_invariants() const {
  if (!pages_.check_invariants()) return false;
  std::unordered_map<int32_t, int32_t> refs;
  const int64_t ps = opts_.page_size;
  for (const auto& [id, s] : seqs_) {
    // Pages cover the cached positions; a failed step may leave pages reserved ahead.
    const int64_t pages = int64_t(s->pages.size());
    if (pages < (s->n_cached + ps - 1) / ps || pages > (int64_t(s->tokens.size()) + ps - 1) / ps)
      return false;
    if (s->n_cached > int64_t(s->tokens.size())) return false;
    for (size_t i = 0; i < s->pages.size(); ++i) {
      ++refs[s->pages[i]];
      const int64_t rows = std::clamp<int64_t>(s->n_cached - int64_t(i) * ps, 0, ps);
      if (pages_.fill(s->pages[i]) < rows) return false;
    }
  }
  for (int32_t p = 0; p < pages_.n_pages(); ++p) {
    const auto it = refs.find(p);
    if (pages_.refs(p) != (it == refs.end() ? 0 : it->second)) return false;
  }
  return true;
}

}  // namespace muse
