// Contemplating mechanics with a scripted backend: every agent's tokens and confidences are
// chosen, so early stopping, consensus, weighted voting and budget forcing can be checked
// step by step; then once through the real engine on a random-weight model (every page is
// freed). The tokenizer is gen-model's byte-fallback SPM vocabulary: byte b is token 3 + b.
#include "reason/contemplate.h"

#include <gtest/gtest.h>

#include <map>

#include "gguf/test_util.h"
#include "reason/scripted_backend.h"

namespace muse {
namespace {

class ContemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = byte_vocab_model(dir_.file("m.gguf"));
    ASSERT_NE(model_, nullptr);
    auto t = Tokenizer::from_gguf(model_->gguf());
    ASSERT_TRUE(t.ok());
    tok_.emplace(std::move(*t));
  }
  ContemplateOptions options(int agents) {
    ContemplateOptions o;
    o.agents = agents;
    o.parallel = agents;  // all at once, unless a test staggers them
    o.thinking_budget = -1;
    o.max_answer_tokens = 1000;
    o.window = 4;
    o.warmup = 2;
    o.keep_percent = 100;
    o.consensus = 1.0;
    return o;
  }
  testing::TempDir dir_;
  std::unique_ptr<Model> model_;
  std::optional<Tokenizer> tok_;
  const std::vector<int32_t> prompt_ = {1, 50, 60};
};

TEST_F(ContemplateTest, LowConfidenceAgentStopsAtTheRightStep) {
  // Agents 0 and 1 finish first (the warm-up, 9 and 8 tokens) at confidence 5 throughout:
  // with keep 100 % the threshold is their lowest, 5. Agent 2 drops to confidence 1 at its
  // 10th token: its 4-token window averages (5 + 5 + 5 + 1) / 4 = 4 < 5 right then, so it
  // stops with 10 tokens.
  std::vector<Script> s = {
      {.text = "Answer:42", .conf = {5}},
      {.text = "Answer:7", .conf = {5}},
      {.text = "thinking-for-a-long-while</think>Answer:9", .conf = {5, 5, 5, 5, 5, 5, 5, 5, 5, 1}},
      {.text = "thinking-even-longer-here</think>Answer:42", .conf = {6}},
  };
  ScriptedBackend b(s);
  std::vector<ContemplateEvent> events;
  auto r = contemplate(b, *tok_, prompt_, options(4),
                       [&](const ContemplateEvent& e) { events.push_back(e); });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->threshold, 5.0);
  EXPECT_EQ(r->agents[2].status, AgentStatus::kStoppedConfidence);
  EXPECT_EQ(r->agents[2].tokens, 10);
  EXPECT_FALSE(r->agents[2].answer.has_value());  // stopped agents do not vote
  EXPECT_EQ(r->agents[3].status, AgentStatus::kFinished);
  // Votes: 42 from agents 0 (weight 5) and 3 (6), 7 from agent 1 (5).
  EXPECT_EQ(r->answer, "42");
  EXPECT_NEAR(r->share, 11.0 / 16.0, 1e-9);
  int stopped = 0;
  for (const auto& e : events)
    if (e.kind == ContemplateEvent::Kind::kAgentStopped) {
      ++stopped;
      EXPECT_EQ(e.agent, 2);
      EXPECT_EQ(e.reason, "low confidence");
    }
  EXPECT_EQ(stopped, 1);
  EXPECT_EQ(events.back().kind, ContemplateEvent::Kind::kFinal);
  EXPECT_EQ(b.pages_referenced(), 0);
}

TEST_F(ContemplateTest, ConsensusStopsTheRest) {
  std::vector<Script> s = {
      {.text = "Answer:42", .conf = {3}},
      {.text = "Answer:42.0", .conf = {4}},  // normalizes to 42
      {.text = "a-much-longer-chain-of-thought-Answer:13", .conf = {3}},
      {.text = "another-long-chain-of-thought-Answer:13", .conf = {3}},
  };
  ScriptedBackend b(s);
  auto o = options(4);
  o.consensus = 0.95;
  auto r = contemplate(b, *tok_, prompt_, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->answer, "42");
  EXPECT_EQ(r->share, 1.0);
  EXPECT_EQ(r->agents[2].status, AgentStatus::kStoppedConsensus);
  EXPECT_EQ(r->agents[3].status, AgentStatus::kStoppedConsensus);
  // Stopped right after the second agent finished (its 11th token).
  EXPECT_EQ(r->agents[2].tokens, 11);
  EXPECT_EQ(r->tokens, 9 + 11 + 11 + 11);
  EXPECT_EQ(b.pages_referenced(), 0);
}

TEST_F(ContemplateTest, VotesAreConfidenceWeighted) {
  // Two agents say A at confidence 1, one says B at confidence 3: B wins 3 to 2.
  std::vector<Script> s = {
      {.text = "Answer:A", .conf = {1}},
      {.text = "Answer:A", .conf = {1}},
      {.text = "Answer:B", .conf = {3}},
  };
  ScriptedBackend b(s);
  auto o = options(3);
  o.warmup = 3;  // no early stops, no consensus before all are in
  auto r = contemplate(b, *tok_, prompt_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->answer, "b");  // normalized: non-numeric answers are lowercased
  EXPECT_NEAR(r->share, 0.6, 1e-9);
  ASSERT_EQ(r->tally.size(), 2u);
  EXPECT_EQ(r->tally[1].votes, 2);
  // keep_percent 33 keeps ceil(0.99) = 1 trace, the most confident: B alone.
  o.keep_percent = 33;
  ScriptedBackend b2(s);
  auto r2 = contemplate(b2, *tok_, prompt_, o);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->answer, "b");
  EXPECT_EQ(r2->share, 1.0);
}

TEST_F(ContemplateTest, BudgetForcingYieldsAWellFormedAnswer) {
  std::vector<Script> s = {
      {.text = "thinking-forever-and-never-closing", .conf = {2}, .after_append = "17"}};
  ScriptedBackend b(s);
  auto o = options(1);
  o.effort = Effort::kThinking;
  o.thinking_budget = 6;
  auto r = contemplate(b, *tok_, prompt_, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->agents.size(), 1u);
  EXPECT_TRUE(r->agents[0].forced);
  EXPECT_EQ(r->agents[0].tokens, 6 + 2);
  EXPECT_NE(r->agents[0].text.find("</think>\n\nAnswer: 17"), std::string::npos)
      << r->agents[0].text;
  EXPECT_EQ(r->answer, "17");
  ASSERT_EQ(b.appended_.size(), 1u);
  EXPECT_EQ(b.pages_referenced(), 0);
}

// Roles: agent i gets role i % n's text appended to its branch and its temperature; agents
// sample with seed + i.
TEST_F(ContemplateTest, RolesGiveEachAgentItsPromptAndTemperature) {
  std::vector<Script> s = {{.text = "Answer:1", .conf = {2}}};
  ScriptedBackend b(s);
  auto o = options(3);
  o.seed = 40;
  o.roles = {{.prompt = "Be brief.", .temperature = 0.2f}, {.prompt = "", .temperature = -1}};
  auto r = contemplate(b, *tok_, prompt_, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(b.gens_.size(), 3u);
  EXPECT_EQ(b.gens_[0].sampling.temperature, 0.2f);
  // -1: the default, agent 1's rung of the temperature ladder.
  EXPECT_EQ(b.gens_[1].sampling.temperature, o.temperature * 2.0f / 3.0f);
  EXPECT_EQ(b.gens_[2].sampling.temperature, 0.2f);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(b.gens_[i].sampling.seed, 40 + i);
    EXPECT_EQ(b.gens_[i].sampling.n_logprobs, SamplerParams::kMaxLogprobs);
  }
  // Agents 0 and 2 got the role text; agent 1's role is empty.
  const std::vector<int32_t> role = tok_->encode("Be brief.", false, true);
  ASSERT_EQ(b.appended_.size(), 2u);
  for (const auto& [seq, ids] : b.appended_) EXPECT_EQ(ids, role);
  EXPECT_EQ(r->answer, "1");
}

TEST_F(ContemplateTest, TemperaturesClimbALadderToTheBase) {
  std::vector<Script> s = {{.text = "Answer:1", .conf = {2}}};
  auto o = options(4);
  o.temperature = 0.8f;
  ScriptedBackend b(s);
  ASSERT_TRUE(contemplate(b, *tok_, prompt_, o).ok());
  ASSERT_EQ(b.gens_.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(b.gens_[i].sampling.temperature, 0.8f * float(i + 1) / 4.0f) << i;
  o.temperature_ladder = false;  // plain self-consistency: every agent at the base
  ScriptedBackend flat(s);
  ASSERT_TRUE(contemplate(flat, *tok_, prompt_, o).ok());
  for (const GenParams& g : flat.gens_) EXPECT_EQ(g.sampling.temperature, 0.8f);
  // One agent (thinking, or contemplating with one agent) samples at the base.
  o = options(1);
  o.temperature = 0.8f;
  ScriptedBackend one(s);
  ASSERT_TRUE(contemplate(one, *tok_, prompt_, o).ok());
  EXPECT_EQ(one.gens_.at(0).sampling.temperature, 0.8f);
}

TEST_F(ContemplateTest, ParallelStartsTheNextAgentWhenOneEnds) {
  // Two at a time: agent 2 starts the step after agent 1 (4 tokens) ends, agent 3 after
  // agent 0 (6 tokens). Every agent runs its own script whatever fork call started it.
  std::vector<Script> s = {
      {.text = "Ans:11", .conf = {5}},
      {.text = "A:22", .conf = {5}},
      {.text = "Answer:33", .conf = {5}},
      {.text = "Answer:44", .conf = {5}},
  };
  ScriptedBackend b(s);
  auto o = options(4);
  o.parallel = 2;
  o.warmup = 4;  // no early stop and no consensus: all four run
  std::vector<int> started;
  auto r = contemplate(b, *tok_, prompt_, o, [&](const ContemplateEvent& e) {
    if (e.kind == ContemplateEvent::Kind::kAgentStarted) started.push_back(e.agent);
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_EQ(b.started_at_.size(), 4u);
  // Steps taken before each fork: the scripted prompt needs none.
  EXPECT_EQ(b.started_at_[0], 0);
  EXPECT_EQ(b.started_at_[1], 0);
  EXPECT_EQ(b.started_at_[2], 4);
  EXPECT_EQ(b.started_at_[3], 6);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r->agents[size_t(i)].status, AgentStatus::kFinished) << i;
    ASSERT_TRUE(r->agents[size_t(i)].answer.has_value()) << i;
    EXPECT_EQ(*r->agents[size_t(i)].answer, std::to_string(11 * (i + 1)));
  }
  EXPECT_EQ(r->tokens, 6 + 4 + 9 + 9);
  EXPECT_EQ(b.pages_referenced(), 0);
}

TEST_F(ContemplateTest, ByDefaultAQuarterOfTheAgentsDecodeAtOnce) {
  std::vector<Script> s;
  for (int i = 0; i < 8; ++i) s.push_back({.text = "Answer:" + std::to_string(i), .conf = {5}});
  ScriptedBackend b(s);
  auto o = options(8);
  o.parallel = 0;
  o.warmup = 8;
  auto r = contemplate(b, *tok_, prompt_, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // Every script is 8 tokens: 2 of 8 agents at a time, in waves at steps 0, 8, 16, 24.
  EXPECT_EQ(b.started_at_, (std::vector<int>{0, 0, 8, 8, 16, 16, 24, 24}));
  EXPECT_EQ(r->tokens, 8 * 8);
  EXPECT_EQ(b.pages_referenced(), 0);
}

TEST_F(ContemplateTest, ADecidedVoteLeavesLaterAgentsUnstarted) {
  // Agents 0 and 1 agree; with consensus at 2 finished, agents 2 and 3 never start, and
  // the held prompt is released.
  std::vector<Script> s = {
      {.text = "Answer:42", .conf = {5}},
      {.text = "Answer:42", .conf = {5}},
      {.text = "Answer:13", .conf = {5}},
  };
  ScriptedBackend b(s);
  auto o = options(4);
  o.parallel = 2;
  o.consensus = 0.95;
  auto r = contemplate(b, *tok_, prompt_, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->answer, "42");
  ASSERT_EQ(r->agents.size(), 4u);
  EXPECT_EQ(r->agents[2].status, AgentStatus::kNotStarted);
  EXPECT_EQ(r->agents[3].status, AgentStatus::kNotStarted);
  EXPECT_EQ(r->agents[3].tokens, 0);
  EXPECT_EQ(b.gens_.size(), 2u);
  EXPECT_EQ(r->tokens, 9 + 9);
  EXPECT_EQ(b.pages_referenced(), 0);
}

TEST_F(ContemplateTest, ALaterWaveThatCannotStartLeavesTheVoteToTheFinished) {
  // The second fork fails (as when the held prompt was preempted): agents 0 and 1 still
  // vote, the rest never start, and every sequence, the held prompt included, is freed.
  std::vector<Script> s = {
      {.text = "Answer:42", .conf = {5}},
      {.text = "Answer:42", .conf = {4}},
  };
  ScriptedBackend b(s);
  b.fail_fork_call_ = 2;
  auto o = options(4);
  o.parallel = 2;
  o.warmup = 4;  // no consensus: agents 2 and 3 would start
  auto r = contemplate(b, *tok_, prompt_, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->answer, "42");
  EXPECT_EQ(r->agents[0].status, AgentStatus::kFinished);
  EXPECT_EQ(r->agents[1].status, AgentStatus::kFinished);
  EXPECT_EQ(r->agents[2].status, AgentStatus::kNotStarted);
  EXPECT_EQ(r->agents[3].status, AgentStatus::kNotStarted);
  EXPECT_EQ(b.pages_referenced(), 0);
  // The first wave failing is an error, and frees everything too.
  ScriptedBackend first(s);
  first.fail_fork_call_ = 1;
  EXPECT_FALSE(contemplate(first, *tok_, prompt_, o).ok());
  EXPECT_EQ(first.pages_referenced(), 0);
}

TEST_F(ContemplateTest, BadOptionsAreRejected) {
  ScriptedBackend b({{.text = "x", .conf = {1}}});
  auto o = options(0);
  EXPECT_FALSE(contemplate(b, *tok_, prompt_, o).ok());
  o = options(2);
  o.consensus = 0;
  EXPECT_FALSE(contemplate(b, *tok_, prompt_, o).ok());
  o = options(2);
  o.keep_percent = 120;
  EXPECT_FALSE(contemplate(b, *tok_, prompt_, o).ok());
  o = options(2);
  o.think_end = "";
  EXPECT_FALSE(contemplate(b, *tok_, prompt_, o).ok());
  EXPECT_EQ(b.pages_referenced(), 0);
}

// Through the real engine on a random model: runs, reports, and frees every page.
TEST_F(ContemplateTest, RealEngineFreesEveryPage) {
  ThreadPool pool(2);
  std::vector<int32_t> eog;
  for (int32_t t = 0; t < tok_->n_vocab(); ++t)
    if (tok_->is_eog(t)) eog.push_back(t);
  auto e = Engine::create(*model_, pool, {.n_ctx = 256, .eog_tokens = eog});
  ASSERT_TRUE(e.ok());
  EngineBackend b(**e);
  auto o = options(4);
  o.thinking_budget = 12;
  o.max_answer_tokens = 6;
  o.answer_format = AnswerFormat::kExact;
  int tokens = 0;
  auto r = contemplate(b, *tok_, prompt_, o, [&](const ContemplateEvent& ev) {
    if (ev.kind == ContemplateEvent::Kind::kToken) ++tokens;
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->agents.size(), 4u);
  EXPECT_GT(r->tokens, 0);
  EXPECT_LE(r->tokens, 4 * (12 + 6));
  EXPECT_EQ((*e)->stats().pages_referenced, 0);
  EXPECT_TRUE((*e)->check_invariants());
}

// Staggered through the real engine: later agents fork from the held prompt after decode
// steps, and every agent's tokens are those of the same agent started at once (same seed,
// same temperature, same prompt pages).
TEST_F(ContemplateTest, RealEngineStaggeredAgentsMatchAllAtOnce) {
  ThreadPool pool(2);
  std::vector<int32_t> eog;
  for (int32_t t = 0; t < tok_->n_vocab(); ++t)
    if (tok_->is_eog(t)) eog.push_back(t);
  auto run = [&](int parallel) {
    auto e = Engine::create(*model_, pool, {.n_ctx = 256, .eog_tokens = eog});
    EXPECT_TRUE(e.ok());
    EngineBackend b(**e);
    auto o = options(4);
    o.parallel = parallel;
    o.warmup = 4;  // all four run to the end
    o.thinking_budget = 12;
    o.max_answer_tokens = 6;
    o.answer_format = AnswerFormat::kExact;
    auto r = contemplate(b, *tok_, prompt_, o);
    EXPECT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ((*e)->stats().pages_referenced, 0);
    EXPECT_TRUE((*e)->check_invariants());
    return *r;
  };
  const ContemplateResult staggered = run(1), together = run(4);
  ASSERT_EQ(staggered.agents.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(staggered.agents[i].status, AgentStatus::kFinished) << i;
    EXPECT_EQ(staggered.agents[i].text, together.agents[i].text) << i;
  }
  EXPECT_EQ(staggered.tokens, together.tokens);
}

}  // namespace
}  // namespace muse
