// The engine (ARCHITECTURE.md section 4): many sequences over one model and one paged KV
// cache, decoded together. Each `step` samples the next token of every sequence whose logits
// are ready, then runs one forward over a batch that mixes those sequences' new tokens with
// prefill chunks of queued prompts (continuous batching with a token budget per step).
//
//   Engine e = *Engine::create(model, pool, {.eog_tokens = ...});
//   SeqId s = *e.submit({.prompt = ids, .gen = {.max_tokens = 0}});  // prefill, then hold
//   while (!e.idle()) e.step();
//   auto branches = *e.fork(s, {p0, p1, p2});  // share every prompt page
//   e.cancel(s);
//   while (!e.idle()) for (const TokenEvent& ev : *e.step()) ...;
//
// Results do not depend on batching: a sequence's tokens are those of the same sequence run
// alone (per-token work is independent of the batch; see model/step.h).
// Not thread-safe: one thread drives the engine; the pool parallelizes inside a step.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "runtime/kv_pages.h"
#include "runtime/sampler.h"
#include "threading/thread_pool.h"

namespace muse {

using SeqId = int64_t;

struct EngineOptions {
  int64_t n_ctx = 0;      // positions per sequence; 0 = min(n_ctx_train, 4096)
  int64_t n_batch = 256;  // token budget of one step (all sequences)
  // Pages of the KV cache: the memory budget. 0 = enough for 4 full contexts.
  int64_t n_pages = 0;
  int64_t page_size = 16;  // positions per page, a multiple of 16
  DType kv_type = DType::F16;
  MlaMode mla_mode = MlaMode::kAuto;
  bool prefix_cache = true;              // reuse full pages of earlier prompts
  std::vector<int32_t> eog_tokens = {};  // end-of-generation ids (Tokenizer::is_eog)
};

// How a sequence generates; per sequence, so branches can differ (temperature, seed).
struct GenParams {
  SamplerParams sampling = {};
  // Tokens to generate. 0 = evaluate the prompt, then hold the sequence with its logits so
  // it can be forked (it finishes only when cancelled).
  int32_t max_tokens = 256;
  bool ignore_eos = false;
};

struct Request {
  std::vector<int32_t> prompt = {};  // at least one token, shorter than n_ctx
  GenParams gen = {};
};

enum class SeqFinish {
  kNone,
  kStop,       // an end-of-generation token
  kLength,     // max_tokens, the context, or a KV cache too small for the sequence alone
  kCancelled,  // cancel()
  kError,      // the model produced logits that cannot be sampled (NaN or +inf)
};

// One sampled token, or a sequence's end (token -1 when it ends without one).
struct TokenEvent {
  SeqId seq = -1;
  int32_t token = -1;
  SampleResult sample = {};  // logprob and top logprobs of `token`
  SeqFinish finish = SeqFinish::kNone;
};

struct EngineStats {
  int64_t n_pages = 0, page_size = 0;
  int64_t pages_referenced = 0;  // held by live sequences (shared pages once)
  int64_t pages_cached = 0;      // published in the prefix cache
  int64_t kv_positions = 0;      // rows held by referenced pages
  int64_t n_running = 0, n_queued = 0, n_held = 0;
  int64_t steps = 0;
  int64_t tokens_prefilled = 0, tokens_decoded = 0;  // through the model
  int64_t prefix_hit_tokens = 0;                     // prompt positions reused from the cache
  int64_t preemptions = 0;
  int64_t cow_copies = 0;
};

class Engine {
 public:
  static StatusOr<std::unique_ptr<Engine>> create(const Model& model, ThreadPool& pool,
                                                  const EngineOptions& opts = {});
  ~Engine();

  // Queues a sequence. Errors: empty prompt, prompt of n_ctx tokens or more, ids outside
  // the vocabulary, invalid sampler parameters.
  StatusOr<SeqId> submit(const Request& r);

  // New sequences that continue `parent` from its current state, one per entry of `gens`:
  // they share every page (a partial last page is copied on first write) and the logits the
  // parent holds, and each samples its own next token. The parent must have logits (its
  // prompt is evaluated and it is not waiting on a token it sampled).
  StatusOr<std::vector<SeqId>> fork(SeqId parent, std::span<const GenParams> gens);

  // Appends forced tokens to a live sequence (budget forcing: an end-of-thinking delimiter
  // and an answer prefix). Logits the sequence held are dropped, the tokens are evaluated
  // like a prompt chunk at the next steps, and sampling resumes after them; they enter the
  // sampler's penalty history and do not count against max_tokens. Errors: unknown id,
  // empty list, ids outside the vocabulary, or no room left in the context.
  Status append(SeqId seq, std::span<const int32_t> tokens);

  // Ends a sequence at once, releasing its pages; its events stop. Unknown id: error.
  Status cancel(SeqId seq);

  // One scheduling round: samples every sequence with ready logits (events in submission
  // order), then runs one forward step. Errors come only from the model (invalid state is
  // prevented before); a failed step leaves every sequence as it was.
  StatusOr<std::vector<TokenEvent>> step();

  // No sequence has work left (held sequences wait for fork/cancel and do not count).
  bool idle() const;
  bool contains(SeqId seq) const { return seqs_.count(seq) != 0; }
  // The sequence evaluated its prompt with max_tokens 0 and waits for fork or cancel.
  bool held(SeqId seq) const;
  // Tokens of a live sequence: prompt then generated.
  std::span<const int32_t> tokens(SeqId seq) const;
  // Logits a ready or held sequence will sample from (empty otherwise).
  std::span<const float> logits(SeqId seq) const;
  EngineStats stats() const;
  const EngineOptions& options() const { return opts_; }
  const KvCache& kv_cache() const { return *kv_; }
  // Drops the unreferenced pages of the prefix cache (benchmarks measure cold prompts).
  void clear_prefix_cache() { pages_.clear_cache(); }
  // Page accounting of the cache and every sequence agrees (tests).
  bool check_invariants() const;

 private:
  enum class State {
    kQueued,    // tokens not all in the cache: waits for prefill (or recompute)
    kReady,     // logits of the last token are held: samples at the next step
    kDecoding,  // sampled a token that the next forward evaluates
    kHeld,      // max_tokens 0: prompt evaluated, logits held until fork or cancel
  };
  struct Seq {
    explicit Seq(Sampler s) : sampler(std::move(s)) {}
    SeqId id = -1;
    State state = State::kQueued;
    std::vector<int32_t> tokens;  // prompt + generated
    int64_t n_cached = 0;         // positions whose K/V are in pages
    std::vector<int32_t> pages;   // page table
    int64_t n_hashed = 0;         // leading pages published (or found) in the prefix cache
    uint64_t chain = 0;           // hash of page n_hashed - 1
    std::vector<float> logits;    // of the last token, in kReady / kHeld
    Sampler sampler;
    GenParams gen;
    int64_t n_generated = 0;
    uint64_t order = 0;  // admission order: later ones are preempted first
  };

  Engine(const Model& model, ThreadPool& pool, const EngineOptions& opts,
         std::unique_ptr<KvCache> kv, std::unique_ptr<BatchForward> forward);

  void sample_ready(std::vector<TokenEvent>& events);
  void finish(Seq& s, SeqFinish why, std::vector<TokenEvent>& events);
  void drop(Seq& s);  // releases pages, forgets the sequence
  void reuse_prefix(Seq& s);
  // Makes positions [n_cached, n_cached + n) writable; false when the pages ran out.
  bool reserve(Seq& s, int64_t n, bool any_age = false);
  void preempt(Seq& s);
  // The most recently admitted sequence with pages outside the current batch; only younger
  // than `keep` unless `any_age`.
  Seq* preemption_victim(const Seq& keep, bool any_age = false);
  void publish_full_pages(Seq& s);
  Status forward_batch(std::vector<TokenEvent>& events);

  const Model& model_;
  ThreadPool& pool_;
  EngineOptions opts_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<BatchForward> forward_;
  PageAllocator pages_;
  std::unordered_map<SeqId, std::unique_ptr<Seq>> seqs_;
  std::vector<SeqId> live_;  // submission order
  SeqId next_id_ = 1;
  uint64_t next_order_ = 1;
  size_t decode_cursor_ = 0;  // round-robin start when decodes exceed the budget
  EngineStats counters_;
  // Scratch of one step.
  std::vector<int32_t> batch_tokens_;
  std::vector<SeqStep> batch_seqs_;
  std::vector<Seq*> batch_owner_;
  std::vector<float> batch_logits_;
};

}  // namespace muse
