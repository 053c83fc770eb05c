// Distill and refine with scripted agents: the workspace keeps one summary per distinct
// answer first and stays within its bounds; later rounds and the synthesizer see it in their
// prompt; the synthesizer's answer is final; every sequence is released.
#include "reason/refine.h"

#include <gtest/gtest.h>

#include "gguf/test_util.h"
#include "reason/scripted_backend.h"

namespace muse {
namespace {

class RefineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = byte_vocab_model(dir_.file("m.gguf"));
    ASSERT_NE(m, nullptr);
    auto t = Tokenizer::from_gguf(m->gguf());
    ASSERT_TRUE(t.ok());
    tok_.emplace(std::move(*t));
  }
  static ContemplateOptions options(int agents) {
    ContemplateOptions o;
    o.agents = agents;
    o.thinking_budget = -1;
    o.max_answer_tokens = 1000;
    o.window = 4;
    o.warmup = agents;  // no early stops: every agent votes
    o.keep_percent = 100;
    o.consensus = 1.0;
    return o;
  }
  testing::TempDir dir_;
  std::optional<Tokenizer> tok_;
};

// Same length, so the agents finish together; confidences differ.
const std::vector<Script> kRound1 = {
    {.text = "<think>2 + 5 = 7\nso 7</think>\n\nAnswer: 7", .conf = {5}},
    {.text = "<think>2 + 5 = 7\nyes 7</think>\n\nAnswer: 7", .conf = {4}},
    {.text = "<think>2 * 5 = 9\nso 9</think>\n\nAnswer: 9", .conf = {6}},
};

TEST_F(RefineTest, WorkspaceIsDiverseAndBounded) {
  ScriptedBackend b(kRound1);
  auto r = contemplate(b, *tok_, std::vector<int32_t>{1, 2}, options(3));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->answer, "7");  // weight 5 + 4 against 6
  const std::string ws = distill_workspace(*r, 2, 64);
  // The leading answer's most confident agent first, then the other answer.
  const size_t first = ws.find("[1]\n2 + 5 = 7\nso 7\nAnswer: 7");
  const size_t second = ws.find("[2]\n2 * 5 = 9\nso 9\nAnswer: 9");
  EXPECT_NE(first, std::string::npos) << ws;
  EXPECT_NE(second, std::string::npos) << ws;
  EXPECT_LT(first, second);
  EXPECT_EQ(ws.find("yes 7"), std::string::npos) << ws;  // two items only
  // Summaries keep the end of the thinking within the character bound.
  const std::string small = distill_workspace(*r, 1, 20);
  EXPECT_NE(small.find("so 7\nAnswer: 7"), std::string::npos) << small;
  EXPECT_EQ(small.find("2 + 5"), std::string::npos) << small;
  // Nothing to distill from agents without answers.
  ContemplateResult empty;
  EXPECT_EQ(distill_workspace(empty, 4, 100), "");
}

TEST_F(RefineTest, RoundsReadTheWorkspaceAndTheSynthesizerAnswers) {
  const std::vector<Script> round2 = {
      {.text = "<think>recheck 2 * 5\nis 10</think>\n\nAnswer: 10", .conf = {5}},
      {.text = "<think>recheck 2 + 5\nis 7.</think>\n\nAnswer: 7", .conf = {3}},
      {.text = "<think>recheck: 2 * 5\n= 10</think>\n\nAnswer: 10", .conf = {4}},
  };
  const std::vector<Script> synth = {
      {.text = "<think>both checked</think>\n\nAnswer: 10", .conf = {6}}};
  ScriptedBackend b(std::vector<std::vector<Script>>{kRound1, round2, synth});
  std::vector<std::string> seen;
  const PromptBuilder build = [&](const std::string& ws) -> StatusOr<std::vector<int32_t>> {
    seen.push_back(ws);
    return std::vector<int32_t>{1, 2, int32_t(seen.size())};
  };
  RefineOptions ro{.rounds = 2, .workspace_items = 3, .summary_chars = 200};
  int started = 0;
  auto r = contemplate_refine(b, *tok_, build, options(3), ro, [&](const ContemplateEvent& e) {
    started += e.kind == ContemplateEvent::Kind::kAgentStarted;
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(seen.size(), 3u);  // round 1, round 2, synthesizer
  EXPECT_EQ(seen[0], "");
  EXPECT_NE(seen[1].find("Answer: 9"), std::string::npos);   // round 1's workspace
  EXPECT_NE(seen[2].find("Answer: 10"), std::string::npos);  // round 2's
  EXPECT_EQ(seen[2], r->workspace);
  ASSERT_EQ(r->rounds.size(), 2u);
  EXPECT_EQ(r->rounds[0].answer, "7");
  EXPECT_EQ(r->rounds[1].answer, "10");
  EXPECT_EQ(r->answer, "10");
  EXPECT_NE(r->synthesis.find("both checked"), std::string::npos);
  EXPECT_EQ(started, 3 + 3 + 1);
  EXPECT_EQ(b.prompts_.size(), 3u);
  EXPECT_EQ(b.prompts_[2], (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r->tokens, r->rounds[0].tokens + r->rounds[1].tokens + int64_t(synth[0].text.size()));
  EXPECT_EQ(b.pages_referenced(), 0);  // every sequence released
  // Round seeds differ, so drafts are fresh samples.
  ASSERT_EQ(b.gens_.size(), 7u);
  EXPECT_NE(b.gens_[0].sampling.seed, b.gens_[3].sampling.seed);
  EXPECT_FLOAT_EQ(b.gens_[6].sampling.temperature, ro.synthesizer_temperature);
}

TEST_F(RefineTest, WithoutSynthesisTheLastVoteIsFinal) {
  ScriptedBackend b(kRound1);
  const PromptBuilder build = [](const std::string&) -> StatusOr<std::vector<int32_t>> {
    return std::vector<int32_t>{1};
  };
  auto r = contemplate_refine(b, *tok_, build, options(3), {.rounds = 1, .synthesize = false});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->answer, "7");
  EXPECT_TRUE(r->synthesis.empty());
}

TEST_F(RefineTest, ErrorsComeBack) {
  ScriptedBackend b(kRound1);
  const PromptBuilder failing = [](const std::string&) -> StatusOr<std::vector<int32_t>> {
    return Status::Error("template failed");
  };
  auto r = contemplate_refine(b, *tok_, failing, options(3), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "template failed");
  const PromptBuilder ok = [](const std::string&) -> StatusOr<std::vector<int32_t>> {
    return std::vector<int32_t>{1};
  };
  EXPECT_FALSE(contemplate_refine(b, *tok_, ok, options(3), {.rounds = 0}).ok());
  EXPECT_FALSE(contemplate_refine(b, *tok_, ok, options(3), {.summary_chars = 1}).ok());
}

}  // namespace
}  // namespace muse
