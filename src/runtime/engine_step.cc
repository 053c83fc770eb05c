// One engine step: sample the sequences whose logits are ready, schedule a batch under the
// token budget (decode tokens first, oldest sequence first; then prefill chunks in
// submission order), make room in the paged cache (copy-on-write, preemption by
// recompute), run the forward, and publish full pages to the prefix cache.
#include <algorithm>
#include <cstring>

#include "runtime/engine.h"

namespace muse {

StatusOr<std::vector<TokenEvent>> Engine::step() {
  std::vector<TokenEvent> events;
  sample_ready(events);
  MUSE_RETURN_IF_ERROR(forward_batch(events));
  ++counters_.steps;
  return events;
}

void Engine::sample_ready(std::vector<TokenEvent>& events) {
  std::vector<Seq*> ready;
  for (SeqId id : live_) {
    Seq& s = *seqs_.at(id);
    if (s.state == State::kReady) ready.push_back(&s);
  }
  if (ready.empty()) return;
  // Samplers are independent: one pool task each.
  std::vector<StatusOr<SampleResult>> results(ready.size(), Status::Ok());
  const auto sample = [&](int64_t i, int) {
    results[size_t(i)] = ready[size_t(i)]->sampler.sample(ready[size_t(i)]->logits);
  };
  if (ready.size() == 1) {
    sample(0, 0);
  } else {
    pool_.run(int64_t(ready.size()), sample);
  }
  for (size_t i = 0; i < ready.size(); ++i) {
    Seq& s = *ready[i];
    if (!results[i].ok()) {
      // Non-finite logits: the model broke for this sequence. End it rather than stop all.
      finish(s, SeqFinish::kError, events);
      continue;
    }
    SampleResult r = std::move(*results[i]);
    const int32_t token = r.token;
    s.tokens.push_back(token);
    s.sampler.accept(token);
    ++s.n_generated;
    events.push_back(TokenEvent{.seq = s.id, .token = token, .sample = std::move(r)});
    const bool eog =
        !s.gen.ignore_eos && std::find(opts_.eog_tokens.begin(), opts_.eog_tokens.end(), token) !=
                                 opts_.eog_tokens.end();
    if (eog) {
      finish(s, SeqFinish::kStop, events);
    } else if ((s.gen.max_tokens >= 0 && s.n_generated >= s.gen.max_tokens) ||
               int64_t(s.tokens.size()) >= opts_.n_ctx) {
      finish(s, SeqFinish::kLength, events);
    } else {
      s.state = State::kDecoding;
    }
  }
}

void Engine::finish(Seq& s, SeqFinish why, std::vector<TokenEvent>& events) {
  if (!events.empty() && events.back().seq == s.id && events.back().finish == SeqFinish::kNone &&
      events.back().token >= 0) {
    events.back().finish = why;
  } else {
    events.push_back(TokenEvent{.seq = s.id, .token = -1, .sample = {}, .finish = why});
  }
  drop(s);
}

void Engine::reuse_prefix(Seq& s) {
  if (!opts_.prefix_cache) return;
  const int64_t ps = opts_.page_size;
  // At least one token stays uncached: its logits start generation.
  while ((s.n_hashed + 1) * ps <= int64_t(s.tokens.size()) - 1) {
    const std::span<const int32_t> chunk(&s.tokens[size_t(s.n_hashed * ps)], size_t(ps));
    const int32_t page = pages_.lookup(s.chain, chunk);
    if (page < 0) break;
    s.pages.push_back(page);
    s.chain = PageAllocator::hash_page(s.chain, chunk);
    ++s.n_hashed;
    s.n_cached += ps;
    counters_.prefix_hit_tokens += ps;
  }
}

void Engine::publish_full_pages(Seq& s) {
  if (!opts_.prefix_cache) return;
  const int64_t ps = opts_.page_size;
  while ((s.n_hashed + 1) * ps <= s.n_cached) {
    const std::span<const int32_t> chunk(&s.tokens[size_t(s.n_hashed * ps)], size_t(ps));
    pages_.publish(s.pages[size_t(s.n_hashed)], s.chain, chunk);
    s.chain = PageAllocator::hash_page(s.chain, chunk);
    ++s.n_hashed;
  }
}

void Engine::preempt(Seq& s) {
  for (int32_t page : s.pages) pages_.release(page);
  s.pages.clear();
  s.n_cached = 0;
  s.n_hashed = 0;
  s.chain = 0;
  s.state = State::kQueued;  // every token, generated ones included, is evaluated again
  ++counters_.preemptions;
}

Engine::Seq* Engine::preemption_victim(const Seq& keep, bool any_age) {
  Seq* victim = nullptr;
  for (SeqId id : live_) {
    Seq& s = *seqs_.at(id);
    if (&s == &keep || s.pages.empty() || (!any_age && s.order <= keep.order)) continue;
    if (std::find(batch_owner_.begin(), batch_owner_.end(), &s) != batch_owner_.end()) continue;
    if (victim == nullptr || s.order > victim->order) victim = &s;
  }
  return victim;
}

bool Engine::reserve(Seq& s, int64_t n, bool any_age) {
  const int64_t ps = opts_.page_size;
  const int64_t first = s.n_cached / ps, last = (s.n_cached + n - 1) / ps;
  const bool cow = s.n_cached % ps != 0 && pages_.refs(s.pages[size_t(first)]) > 1;
  const int64_t needed = (last + 1 - int64_t(s.pages.size())) + (cow ? 1 : 0);
  while (pages_.n_available() < needed) {
    Seq* victim = preemption_victim(s, any_age);
    if (victim == nullptr) return false;
    preempt(*victim);
  }
  if (cow) {
    // Another sequence shares this partly filled page: write into a private copy.
    const int32_t old = s.pages[size_t(first)];
    const int32_t page = pages_.allocate();
    const int64_t rows = s.n_cached % ps;
    kv_->copy_page(page, old, rows);
    pages_.set_fill(page, int32_t(rows));
    pages_.release(old);
    s.pages[size_t(first)] = page;
    ++counters_.cow_copies;
  }
  while (int64_t(s.pages.size()) <= last) s.pages.push_back(pages_.allocate());
  return true;
}

Status Engine::forward_batch(std::vector<TokenEvent>& events) {
  batch_tokens_.clear();
  batch_seqs_.clear();
  batch_owner_.clear();
  int64_t budget = opts_.n_batch;
  const auto add = [&](Seq& s, int64_t n) {
    batch_tokens_.insert(batch_tokens_.end(), s.tokens.begin() + s.n_cached,
                         s.tokens.begin() + s.n_cached + n);
    const bool last = s.n_cached + n == int64_t(s.tokens.size());
    batch_seqs_.push_back(SeqStep{.n_past = s.n_cached,
                                  .n_tokens = n,
                                  .pages = {},
                                  .logits = last ? LogitsMode::kLast : LogitsMode::kNone});
    batch_owner_.push_back(&s);
    budget -= n;
  };

  // Decode tokens first, oldest sequence first; when they exceed the budget, the start
  // rotates so every sequence advances.
  std::vector<Seq*> decoding;
  for (SeqId id : live_) {
    Seq& s = *seqs_.at(id);
    if (s.state == State::kDecoding) decoding.push_back(&s);
  }
  std::sort(decoding.begin(), decoding.end(),
            [](const Seq* a, const Seq* b) { return a->order < b->order; });
  if (int64_t(decoding.size()) > budget) {
    decode_cursor_ %= decoding.size();
    std::rotate(decoding.begin(), decoding.begin() + ptrdiff_t(decode_cursor_), decoding.end());
    decode_cursor_ += size_t(budget);
  }
  for (Seq* s : decoding) {
    if (budget == 0) break;
    if (s->state != State::kDecoding) continue;  // preempted for an older sequence
    if (!reserve(*s, 1)) {
      // Nothing younger to preempt. Alone, the sequence can never fit: it ends.
      if (batch_owner_.empty() && s->order == decoding.front()->order) {
        finish(*s, SeqFinish::kLength, events);
      }
      continue;
    }
    add(*s, 1);
  }

  // Then prompt chunks in submission order. A sequence not yet admitted (no pages) starts
  // only when the free pages cover its chunk plus one page per decoding sequence, so
  // admission does not immediately force a preemption; the first in line that does not fit
  // stops admission. When nothing else would run, it may preempt any sequence (held ones
  // included), so the engine never waits on itself.
  const int64_t ps = opts_.page_size;
  for (SeqId id : std::vector<SeqId>(live_)) {
    if (budget == 0) break;
    const auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;
    Seq& s = *it->second;
    if (s.state != State::kQueued) continue;
    if ((int64_t(s.tokens.size()) + ps) / ps > pages_.n_pages()) {
      // Its tokens and one generated position exceed the whole cache: it can never run.
      finish(s, SeqFinish::kLength, events);
      continue;
    }
    const bool admitted = !s.pages.empty() || s.n_cached > 0;
    if (!admitted) reuse_prefix(s);
    const int64_t n = std::min<int64_t>(budget, int64_t(s.tokens.size()) - s.n_cached);
    const bool alone = batch_owner_.empty() && decoding.empty();
    if (!admitted && !alone) {
      const int64_t needed = (s.n_cached + n + ps - 1) / ps - int64_t(s.pages.size());
      if (pages_.n_available() < needed + int64_t(decoding.size())) break;
    }
    if (!reserve(s, n, alone)) break;
    add(s, n);
  }
  if (batch_seqs_.empty()) return Status::Ok();

  for (size_t i = 0; i < batch_seqs_.size(); ++i) batch_seqs_[i].pages = batch_owner_[i]->pages;
  const int64_t V = model_.config().n_vocab;
  batch_logits_.resize(size_t(BatchForward::logit_rows(batch_seqs_) * V));
  MUSE_RETURN_IF_ERROR(forward_->run(*kv_, batch_tokens_, batch_seqs_, batch_logits_.data()));

  int64_t row = 0;
  for (size_t i = 0; i < batch_seqs_.size(); ++i) {
    Seq& s = *batch_owner_[i];
    const SeqStep& q = batch_seqs_[i];
    const int64_t end = s.n_cached + q.n_tokens;
    for (int64_t p = s.n_cached / ps; p * ps < end; ++p) {
      const int32_t page = s.pages[size_t(p)];
      pages_.set_fill(page,
                      int32_t(std::max<int64_t>(pages_.fill(page), std::min(ps, end - p * ps))));
    }
    if (s.state == State::kDecoding) {
      counters_.tokens_decoded += q.n_tokens;
    } else {
      counters_.tokens_prefilled += q.n_tokens;
    }
    s.n_cached = end;
    publish_full_pages(s);
    if (q.logits == LogitsMode::kNone) continue;
    s.logits.assign(batch_logits_.begin() + row * V, batch_logits_.begin() + (row + 1) * V);
    ++row;
    // max_tokens 0: a prompt held for forking.
    s.state = s.gen.max_tokens == 0 && s.n_generated == 0 ? State::kHeld : State::kReady;
  }
  return Status::Ok();
}

}  // namespace muse
