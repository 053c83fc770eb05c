// The engine against independent single-sequence runs: forked branches, prefix-cache hits,
// preemption by recompute and batching never change a sequence's tokens or logits; page
// accounting returns to zero; a random mix of submit/fork/cancel/step keeps the invariants.
// Models are small random-weight ones written by gen-model (llama, and MoE + MLA).
#include "runtime/engine.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "gguf/test_util.h"
#include "model/context.h"
#include "model/gen_model.h"

namespace muse {
namespace {

std::unique_ptr<Model> make_model(const testing::TempDir& dir, const GenModelOptions& o) {
  const std::string path = dir.file(o.arch + ".gguf");
  auto g = gen_model(o, path);
  EXPECT_TRUE(g.ok()) << g.status().message();
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(*m) : nullptr;
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t n, int64_t vocab) {
  std::uniform_int_distribution<int32_t> d(3, int32_t(vocab) - 1);
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int32_t& t : p) t = d(rng);
  return p;
}

SamplerParams sampling(uint64_t seed, float temperature = 0.9f) {
  return SamplerParams{
      .temperature = temperature, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = seed};
}

// What one sequence generates alone: ModelContext + Sampler, no engine.
std::vector<int32_t> run_alone(const Model& m, ThreadPool& pool, DType kv_type,
                               std::span<const int32_t> prompt, const SamplerParams& sp,
                               int n_gen) {
  auto ctx = ModelContext::create(m, pool, {.n_ctx = 512, .n_batch = 64, .kv_type = kv_type});
  EXPECT_TRUE(ctx.ok());
  auto sampler = Sampler::create(sp);
  EXPECT_TRUE(sampler.ok());
  for (int32_t t : prompt) sampler->accept(t);
  EXPECT_TRUE((*ctx)->eval(prompt).ok());
  std::vector<int32_t> out;
  for (int i = 0; i < n_gen; ++i) {
    auto r = sampler->sample((*ctx)->logits());
    EXPECT_TRUE(r.ok());
    out.push_back(r->token);
    sampler->accept(r->token);
    if (i + 1 < n_gen) {
      EXPECT_TRUE((*ctx)->eval({&r->token, 1}).ok());
    }
  }
  return out;
}

// Steps until idle; returns every sequence's generated tokens and finish reason.
struct Outcome {
  std::vector<int32_t> tokens;
  SeqFinish finish = SeqFinish::kNone;
};
std::map<SeqId, Outcome> drain(Engine& e, int max_steps = 10000) {
  std::map<SeqId, Outcome> out;
  for (int i = 0; i < max_steps && !e.idle(); ++i) {
    auto ev = e.step();
    EXPECT_TRUE(ev.ok()) << ev.status().message();
    if (!ev.ok()) break;
    for (const TokenEvent& t : *ev) {
      if (t.token >= 0) out[t.seq].tokens.push_back(t.token);
      if (t.finish != SeqFinish::kNone) out[t.seq].finish = t.finish;
    }
    EXPECT_TRUE(e.check_invariants()) << "after step " << i;
  }
  return out;
}

SeqId submit_held(Engine& e, const std::vector<int32_t>& prompt) {
  auto id = e.submit({.prompt = prompt, .gen = {.max_tokens = 0}});
  EXPECT_TRUE(id.ok()) << id.status().message();
  drain(e);
  EXPECT_FALSE(e.logits(*id).empty());
  return *id;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    llama_ = make_model(dir_, {.arch = "llama",
                               .name = "",
                               .n_embd = 64,
                               .n_layer = 2,
                               .n_head = 4,
                               .n_head_kv = 2,
                               .n_ff = 128,
                               .n_vocab = 300,
                               .seed = 3});
    ASSERT_NE(llama_, nullptr);
  }
  testing::TempDir dir_;
  ThreadPool pool_{2};
  std::unique_ptr<Model> llama_;
};

// The acceptance: N branches forked from a prompt with fixed seeds produce exactly
// the tokens of N independent runs. The prompt ends mid-page, so every branch's first
// write copies the shared last page.
void check_fork_matches_alone(const Model& m, ThreadPool& pool, DType kv_type) {
  std::mt19937 rng(5);
  const std::vector<int32_t> prompt = random_prompt(rng, 37, m.config().n_vocab);
  constexpr int kBranches = 5, kGen = 24;
  auto e = Engine::create(m, pool, {.n_ctx = 512, .n_batch = 64, .kv_type = kv_type});
  ASSERT_TRUE(e.ok()) << e.status().message();
  const SeqId parent = submit_held(**e, prompt);
  std::vector<GenParams> gens;
  for (int i = 0; i < kBranches; ++i)
    gens.push_back({.sampling = sampling(100 + uint64_t(i)), .max_tokens = kGen});
  auto kids = (*e)->fork(parent, gens);
  ASSERT_TRUE(kids.ok()) << kids.status().message();
  ASSERT_TRUE((*e)->cancel(parent).ok());
  auto out = drain(**e);
  for (int i = 0; i < kBranches; ++i) {
    const Outcome& o = out[(*kids)[size_t(i)]];
    EXPECT_EQ(o.finish, SeqFinish::kLength);
    EXPECT_EQ(o.tokens, run_alone(m, pool, kv_type, prompt, gens[size_t(i)].sampling, kGen))
        << "branch " << i;
  }
  const EngineStats st = (*e)->stats();
  EXPECT_EQ(st.pages_referenced, 0);
  EXPECT_GE(st.cow_copies, kBranches - 1);
  EXPECT_TRUE((*e)->check_invariants());
}

TEST_F(EngineTest, ForkedBranchesMatchIndependentRuns) {
  check_fork_matches_alone(*llama_, pool_, DType::F32);
  check_fork_matches_alone(*llama_, pool_, DType::F16);
  check_fork_matches_alone(*llama_, pool_, DType::Q8_0);
}

TEST_F(EngineTest, ForkedBranchesMatchForMoeAndMla) {
  for (const char* arch : {"qwen2moe", "deepseek2"}) {
    auto m = make_model(dir_, {.arch = arch,
                               .name = "",
                               .n_embd = 64,
                               .n_layer = 2,
                               .n_head = 4,
                               .n_ff = 128,
                               .n_vocab = 300,
                               .seed = 4,
                               .n_expert = 4});
    ASSERT_NE(m, nullptr);
    SCOPED_TRACE(arch);
    check_fork_matches_alone(*m, pool_, DType::F32);
  }
}

// Two MLA prompts prefilled in one step, each long enough for the decompressed path, plus
// a short one on the absorbed path: every sequence's logits equal its own single run.
TEST_F(EngineTest, MixedMlaPathsInOneStepMatchSingleRuns) {
  auto m = make_model(dir_, {.arch = "deepseek2",
                             .name = "",
                             .n_embd = 64,
                             .n_layer = 2,
                             .n_head = 4,
                             .n_ff = 128,
                             .n_vocab = 300,
                             .seed = 5,
                             .n_expert = 4});
  ASSERT_NE(m, nullptr);
  std::mt19937 rng(13);
  auto e = Engine::create(*m, pool_, {.n_ctx = 256, .n_batch = 128, .kv_type = DType::F32});
  ASSERT_TRUE(e.ok());
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SeqId> ids;
  for (int64_t n : {40, 9, 50}) {
    prompts.push_back(random_prompt(rng, n, 300));
    auto id = (*e)->submit({.prompt = prompts.back(), .gen = {.max_tokens = 0}});
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  ASSERT_TRUE((*e)->step().ok());  // all three in one forward
  EXPECT_EQ((*e)->stats().steps, 1);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto ctx =
        ModelContext::create(*m, pool_, {.n_ctx = 256, .n_batch = 128, .kv_type = DType::F32});
    ASSERT_TRUE(ctx.ok());
    ASSERT_TRUE((*ctx)->eval(prompts[i]).ok());
    const auto got = (*e)->logits(ids[i]);
    const auto want = (*ctx)->logits();
    ASSERT_EQ(got.size(), want.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin())) << "prompt " << i;
  }
}

TEST_F(EngineTest, BatchedSubmissionsMatchIndependentRuns) {
  std::mt19937 rng(6);
  auto e = Engine::create(*llama_, pool_, {.n_ctx = 512, .n_batch = 48});
  ASSERT_TRUE(e.ok());
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SeqId> ids;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(random_prompt(rng, 5 + 13 * i, 300));  // several prefill chunks
    auto id = (*e)->submit({.prompt = prompts.back(),
                            .gen = {.sampling = sampling(7 + uint64_t(i)), .max_tokens = 10 + i}});
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  auto out = drain(**e);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(out[ids[size_t(i)]].tokens, run_alone(*llama_, pool_, DType::F16, prompts[size_t(i)],
                                                    sampling(7 + uint64_t(i)), 10 + i))
        << "sequence " << i;
  }
  EXPECT_EQ((*e)->stats().pages_referenced, 0);
}

TEST_F(EngineTest, PrefixCacheHitGivesColdLogits) {
  std::mt19937 rng(7);
  const std::vector<int32_t> prompt = random_prompt(rng, 50, 300);
  auto cold = Engine::create(*llama_, pool_, {.n_ctx = 256, .kv_type = DType::F32});
  auto warm = Engine::create(*llama_, pool_, {.n_ctx = 256, .kv_type = DType::F32});
  ASSERT_TRUE(cold.ok() && warm.ok());

  const SeqId a = submit_held(**warm, prompt);
  ASSERT_TRUE((*warm)->cancel(a).ok());
  EXPECT_EQ((*warm)->stats().pages_referenced, 0);
  EXPECT_EQ((*warm)->stats().pages_cached, 3);  // 3 full pages of 16

  // Same prompt: 48 positions come from the cache, the last 2 are evaluated.
  const SeqId b = submit_held(**warm, prompt);
  EXPECT_EQ((*warm)->stats().prefix_hit_tokens, 48);
  const SeqId c = submit_held(**cold, prompt);
  EXPECT_EQ((*cold)->stats().prefix_hit_tokens, 0);
  const std::vector<float> hit((*warm)->logits(b).begin(), (*warm)->logits(b).end());
  const std::vector<float> ref((*cold)->logits(c).begin(), (*cold)->logits(c).end());
  EXPECT_EQ(hit, ref);

  // A prompt sharing only its first 40 tokens reuses 2 pages.
  std::vector<int32_t> other(prompt.begin(), prompt.begin() + 40);
  other.push_back(7);
  other.push_back(8);
  const SeqId d = submit_held(**warm, other);
  EXPECT_EQ((*warm)->stats().prefix_hit_tokens, 48 + 32);
  const SeqId f = submit_held(**cold, other);
  const std::vector<float> hit2((*warm)->logits(d).begin(), (*warm)->logits(d).end());
  const std::vector<float> ref2((*cold)->logits(f).begin(), (*cold)->logits(f).end());
  EXPECT_EQ(hit2, ref2);

  for (SeqId s : {b, d}) ASSERT_TRUE((*warm)->cancel(s).ok());
  for (SeqId s : {c, f}) ASSERT_TRUE((*cold)->cancel(s).ok());
  EXPECT_EQ((*warm)->stats().pages_referenced, 0);
  EXPECT_TRUE((*warm)->check_invariants());
}

TEST_F(EngineTest, KvPositionsArePromptPlusBranchTokens) {
  std::mt19937 rng(8);
  constexpr int64_t P = 40, N = 4, G = 20, ps = 16;
  const std::vector<int32_t> prompt = random_prompt(rng, P, 300);
  auto e = Engine::create(*llama_, pool_, {.n_ctx = 256});
  ASSERT_TRUE(e.ok());
  const SeqId parent = submit_held(**e, prompt);
  std::vector<GenParams> gens(N, GenParams{.sampling = sampling(1), .max_tokens = -1});
  auto kids = (*e)->fork(parent, gens);
  ASSERT_TRUE(kids.ok());
  ASSERT_TRUE((*e)->cancel(parent).ok());
  // Each step samples one token per branch and evaluates it: G steps cache G positions.
  for (int i = 0; i < G; ++i) ASSERT_TRUE((*e)->step().ok());
  const EngineStats st = (*e)->stats();
  // P + N·G, plus page rounding: the prompt's partly filled last page is copied by the
  // first N - 1 branches that write into it; the last one then owns the original.
  EXPECT_EQ(st.cow_copies, N - 1);
  EXPECT_EQ(st.kv_positions, P + N * G + (N - 1) * (P % ps));
  for (SeqId k : *kids) ASSERT_TRUE((*e)->cancel(k).ok());
  EXPECT_EQ((*e)->stats().pages_referenced, 0);
}

TEST_F(EngineTest, PreemptionByRecomputeKeepsTokens) {
  std::mt19937 rng(9);
  // 10 pages of 16 = 160 positions for 4 sequences that need 4 x (30 + 40) = 280.
  auto e = Engine::create(*llama_, pool_, {.n_ctx = 128, .n_batch = 64, .n_pages = 10});
  ASSERT_TRUE(e.ok());
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SeqId> ids;
  for (int i = 0; i < 4; ++i) {
    prompts.push_back(random_prompt(rng, 30, 300));
    auto id = (*e)->submit({.prompt = prompts.back(),
                            .gen = {.sampling = sampling(20 + uint64_t(i)), .max_tokens = 40}});
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  auto out = drain(**e);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(out[ids[size_t(i)]].finish, SeqFinish::kLength);
    EXPECT_EQ(out[ids[size_t(i)]].tokens, run_alone(*llama_, pool_, DType::F16, prompts[size_t(i)],
                                                    sampling(20 + uint64_t(i)), 40))
        << "sequence " << i;
  }
  EXPECT_GT((*e)->stats().preemptions, 0);
  EXPECT_EQ((*e)->stats().pages_referenced, 0);
}

TEST_F(EngineTest, SequenceLargerThanTheCacheEndsWithLength) {
  std::mt19937 rng(10);
  auto e = Engine::create(*llama_, pool_, {.n_ctx = 256, .n_pages = 3});
  ASSERT_TRUE(e.ok());
  // Prompt fits (3 pages = 48 positions), generation runs out of pages.
  auto a = (*e)->submit({.prompt = random_prompt(rng, 40, 300), .gen = {.max_tokens = 100}});
  ASSERT_TRUE(a.ok());
  auto out = drain(**e);
  EXPECT_EQ(out[*a].finish, SeqFinish::kLength);
  EXPECT_EQ(out[*a].tokens.size(), 48u - 40u + 1u);  // positions 40..47, then one more sample
  // Prompt alone is larger than the cache.
  auto b = (*e)->submit({.prompt = random_prompt(rng, 100, 300), .gen = {.max_tokens = 5}});
  ASSERT_TRUE(b.ok());
  out = drain(**e);
  EXPECT_EQ(out[*b].finish, SeqFinish::kLength);
  EXPECT_TRUE(out[*b].tokens.empty());
  EXPECT_EQ((*e)->stats().pages_referenced, 0);
  EXPECT_TRUE((*e)->check_invariants());
}

// Budget forcing: tokens appended to a held or running sequence are evaluated like a prompt
// chunk and generation resumes after them, exactly as if they had been in the prompt.
TEST_F(EngineTest, AppendedTokensActLikePromptTokens) {
  std::mt19937 rng(14);
  const std::vector<int32_t> prompt = random_prompt(rng, 21, 300);
  const std::vector<int32_t> forced = {5, 6, 7, 8, 9};
  auto e = Engine::create(*llama_, pool_, {.n_ctx = 256, .kv_type = DType::F32});
  ASSERT_TRUE(e.ok());
  const SeqId held = submit_held(**e, prompt);
  ASSERT_TRUE((*e)->append(held, forced).ok());
  EXPECT_TRUE((*e)->logits(held).empty());  // stale logits are gone
  drain(**e);
  std::vector<int32_t> full = prompt;
  full.insert(full.end(), forced.begin(), forced.end());
  auto ctx = ModelContext::create(*llama_, pool_, {.n_ctx = 256, .kv_type = DType::F32});
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->eval(full).ok());
  const auto got = (*e)->logits(held);
  ASSERT_EQ(got.size(), (*ctx)->logits().size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), (*ctx)->logits().begin()));

  // Mid-generation: 3 sampled tokens, then the forced ones, then 4 more sampled.
  auto id =
      (*e)->submit({.prompt = prompt, .gen = {.sampling = sampling(0, 0.0f), .max_tokens = 7}});
  ASSERT_TRUE(id.ok());
  std::vector<int32_t> generated;
  while (generated.size() < 3) {
    auto ev = (*e)->step();
    ASSERT_TRUE(ev.ok());
    for (const TokenEvent& t : *ev)
      if (t.seq == *id) generated.push_back(t.token);
  }
  ASSERT_TRUE((*e)->append(*id, forced).ok());
  EXPECT_EQ((*e)->tokens(*id).size(), prompt.size() + 3 + forced.size());
  auto out = drain(**e);
  std::vector<int32_t> p2 = prompt;
  p2.insert(p2.end(), generated.begin(), generated.end());
  p2.insert(p2.end(), forced.begin(), forced.end());
  auto ref = run_alone(*llama_, pool_, DType::F16, p2, sampling(0, 0.0f), 4);
  EXPECT_EQ(out[*id].tokens, ref);
  EXPECT_EQ(out[*id].finish, SeqFinish::kLength);

  EXPECT_FALSE((*e)->append(12345, forced).ok());
  EXPECT_FALSE((*e)->append(held, {}).ok());
  const std::vector<int32_t> bad = {300};
  EXPECT_FALSE((*e)->append(held, bad).ok());
  const std::vector<int32_t> huge(300, 5);
  EXPECT_FALSE((*e)->append(held, huge).ok());
  ASSERT_TRUE((*e)->cancel(held).ok());
  EXPECT_EQ((*e)->stats().pages_referenced, 0);
}

TEST_F(EngineTest, BadRequestsAreRejectedAndChangeNothing) {
  auto e = Engine::create(*llama_, pool_, {.n_ctx = 64});
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE((*e)->submit({.prompt = {}}).ok());
  EXPECT_FALSE((*e)->submit({.prompt = std::vector<int32_t>(64, 5)}).ok());
  EXPECT_FALSE((*e)->submit({.prompt = {1, 300}}).ok());
  EXPECT_FALSE((*e)->submit({.prompt = {1, -1}}).ok());
  EXPECT_FALSE((*e)->submit({.prompt = {1, 2}, .gen = {.sampling = {.temperature = -1}}}).ok());
  EXPECT_FALSE((*e)->submit({.prompt = {1, 2}, .gen = {.max_tokens = -2}}).ok());
  EXPECT_FALSE((*e)->cancel(12345).ok());
  const std::vector<GenParams> one(1);
  EXPECT_FALSE((*e)->fork(12345, one).ok());
  auto q = (*e)->submit({.prompt = {1, 2, 3}, .gen = {.max_tokens = 2}});
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE((*e)->fork(*q, one).ok());  // not evaluated yet
  EXPECT_TRUE((*e)->idle() == false);
  auto out = drain(**e);
  EXPECT_EQ(out[*q].tokens.size(), 2u);
  EXPECT_TRUE((*e)->idle());
  EXPECT_FALSE(Engine::create(*llama_, pool_, {.n_batch = 0}).ok());
  EXPECT_FALSE(Engine::create(*llama_, pool_, {.page_size = 8}).ok());
  EXPECT_FALSE(Engine::create(*llama_, pool_, {.eog_tokens = {300}}).ok());
}

TEST_F(EngineTest, EndOfGenerationTokenStops) {
  std::mt19937 rng(11);
  const std::vector<int32_t> prompt = random_prompt(rng, 10, 300);
  const auto ref = run_alone(*llama_, pool_, DType::F16, prompt, sampling(0, 0.0f), 8);
  // Declare the 4th greedy token end-of-generation: the sequence stops right there.
  auto e = Engine::create(*llama_, pool_, {.eog_tokens = {ref[3]}});
  ASSERT_TRUE(e.ok());
  auto id = (*e)->submit({.prompt = prompt, .gen = {.sampling = sampling(0, 0.0f)}});
  ASSERT_TRUE(id.ok());
  auto out = drain(**e);
  const auto stop = std::find(ref.begin(), ref.end(), ref[3]);
  EXPECT_EQ(out[*id].tokens, std::vector<int32_t>(ref.begin(), stop + 1));
  EXPECT_EQ(out[*id].finish, SeqFinish::kStop);
}

// Random submit / fork / cancel / step with a tight page budget (preemption, prefix hits,
// copy-on-write): invariants hold after every operation, greedy sequences generate exactly
// what they generate alone, and cancelling everything returns every page.
TEST_F(EngineTest, RandomOperationsKeepInvariants) {
  std::mt19937 rng(12);
  auto e = Engine::create(*llama_, pool_, {.n_ctx = 128, .n_batch = 40, .n_pages = 24});
  ASSERT_TRUE(e.ok());
  const std::vector<int32_t> shared = random_prompt(rng, 35, 300);
  struct Expect {
    std::vector<int32_t> prompt;
    int n_gen;
  };
  std::map<SeqId, Expect> greedy;
  std::map<SeqId, Outcome> got;
  std::vector<SeqId> alive;
  for (int op = 0; op < 300; ++op) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    if (kind <= 2) {  // submit: greedy, sometimes sharing a prefix, sometimes held
      std::vector<int32_t> p =
          random_prompt(rng, std::uniform_int_distribution<int>(1, 50)(rng), 300);
      if (kind == 0) p.insert(p.begin(), shared.begin(), shared.end());
      const int n_gen = std::uniform_int_distribution<int>(0, 20)(rng);
      auto id =
          (*e)->submit({.prompt = p, .gen = {.sampling = sampling(0, 0.0f), .max_tokens = n_gen}});
      ASSERT_TRUE(id.ok()) << id.status().message();
      alive.push_back(*id);
      if (n_gen > 0) greedy[*id] = {p, n_gen};
    } else if (kind == 3 && !alive.empty()) {  // fork something that has logits
      const SeqId s = alive[std::uniform_int_distribution<size_t>(0, alive.size() - 1)(rng)];
      if ((*e)->contains(s) && !(*e)->logits(s).empty()) {
        std::vector<GenParams> g(std::uniform_int_distribution<size_t>(1, 3)(rng),
                                 GenParams{.sampling = sampling(uint64_t(op)), .max_tokens = 8});
        auto kids = (*e)->fork(s, g);
        ASSERT_TRUE(kids.ok()) << kids.status().message();
        alive.insert(alive.end(), kids->begin(), kids->end());
      }
    } else if (kind == 4 && !alive.empty()) {  // cancel
      const size_t i = std::uniform_int_distribution<size_t>(0, alive.size() - 1)(rng);
      if ((*e)->contains(alive[i])) {
        ASSERT_TRUE((*e)->cancel(alive[i]).ok());
      }
      greedy.erase(alive[i]);
      alive.erase(alive.begin() + ptrdiff_t(i));
    } else {
      auto ev = (*e)->step();
      ASSERT_TRUE(ev.ok()) << ev.status().message();
      for (const TokenEvent& t : *ev) {
        if (t.token >= 0) got[t.seq].tokens.push_back(t.token);
        if (t.finish != SeqFinish::kNone) got[t.seq].finish = t.finish;
      }
    }
    ASSERT_TRUE((*e)->check_invariants()) << "op " << op;
  }
  for (const auto& [id, o] : drain(**e)) {
    got[id].tokens.insert(got[id].tokens.end(), o.tokens.begin(), o.tokens.end());
    if (o.finish != SeqFinish::kNone) got[id].finish = o.finish;
  }
  int checked = 0;
  for (const auto& [id, x] : greedy) {
    if (got[id].finish != SeqFinish::kLength) continue;  // cancelled while running
    EXPECT_EQ(got[id].tokens,
              run_alone(*llama_, pool_, DType::F16, x.prompt, sampling(0, 0.0f), x.n_gen))
        << "sequence " << id;
    ++checked;
  }
  EXPECT_GT(checked, 5);
  for (SeqId s : alive) {
    if ((*e)->contains(s)) {
      ASSERT_TRUE((*e)->cancel(s).ok());
    }
  }
  const EngineStats st = (*e)->stats();
  EXPECT_EQ(st.pages_referenced, 0);
  EXPECT_GT(st.preemptions + st.prefix_hit_tokens + st.cow_copies, 0);
  EXPECT_TRUE((*e)->check_invariants());
}

}  // namespace
}  // namespace muse
