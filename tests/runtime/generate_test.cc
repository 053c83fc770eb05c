// GenerationSession on stories260K: greedy determinism, prefix reuse across turns (same
// tokens as a cold run, fewer evaluated), stop strings cut the text, max_tokens and the
// callback's cancel end generation, and bad requests leave the session usable.
#include "runtime/generate.h"

#include <gtest/gtest.h>

#include "gguf/test_util.h"
#include "model/context.h"
#include "model/model.h"

namespace muse {
namespace {

GenerateOptions limit(int32_t max_tokens, std::vector<std::string> stop = {}) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.stop = std::move(stop);
  return o;
}

class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = testing::fixture("models/stories260K.gguf");
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture missing: " << path;
    auto m = Model::load(path);
    ASSERT_TRUE(m.ok());
    model_ = std::move(*m);
    auto t = Tokenizer::from_gguf(model_->gguf());
    ASSERT_TRUE(t.ok());
    tok_.emplace(std::move(*t));
    auto c = ModelContext::create(*model_, pool_, {.n_ctx = 256, .kv_type = DType::F32});
    ASSERT_TRUE(c.ok());
    ctx_ = std::move(*c);
  }
  Sampler greedy() { return std::move(*Sampler::create({.temperature = 0.0f})); }

  ThreadPool pool_{2};
  std::unique_ptr<Model> model_;
  std::optional<Tokenizer> tok_;
  std::unique_ptr<ModelContext> ctx_;
};

TEST_F(GenerateTest, PrefixReuseGivesColdRunTokens) {
  const auto p1 = tok_->encode("Once upon a time", true, false);
  GenerationSession s(*ctx_, *tok_);
  Sampler g = greedy();
  auto r1 = s.generate(p1, g, limit(12));
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  EXPECT_EQ(r1->stats.n_prompt_eval, int64_t(p1.size()));
  EXPECT_EQ(r1->tokens.size(), 12u);
  EXPECT_EQ(r1->finish, FinishReason::kLength);

  // Second turn: the first prompt + its reply + more text. Only the new tail is evaluated,
  // and the result equals a cold run of the same prompt on a fresh session.
  std::vector<int32_t> p2 = p1;
  p2.insert(p2.end(), r1->tokens.begin(), r1->tokens.end());
  const auto more = tok_->encode(" The end", false, false);
  p2.insert(p2.end(), more.begin(), more.end());
  Sampler g2 = greedy();
  auto r2 = s.generate(p2, g2, limit(10));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->stats.n_prompt_eval,
            int64_t(more.size() + 1));  // + the unevaluated last reply token

  auto cold_ctx = ModelContext::create(*model_, pool_, {.n_ctx = 256, .kv_type = DType::F32});
  GenerationSession cold(**cold_ctx, *tok_);
  Sampler g3 = greedy();
  auto r3 = cold.generate(p2, g3, limit(10));
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r2->tokens, r3->tokens);
  EXPECT_EQ(r2->text, r3->text);
}

TEST_F(GenerateTest, StopStringsMaxTokensAndCancel) {
  const auto p = tok_->encode("Once upon a time", true, false);
  GenerationSession s(*ctx_, *tok_);
  Sampler g = greedy();
  auto full = s.generate(p, g, limit(40));
  ASSERT_TRUE(full.ok());
  const size_t at = full->text.find("Lily");
  ASSERT_NE(at, std::string::npos) << full->text;

  Sampler g2 = greedy();
  auto stopped = s.generate(p, g2, limit(40, {"Lily"}));
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->text, full->text.substr(0, at));
  EXPECT_EQ(stopped->finish, FinishReason::kStop);

  Sampler g3 = greedy();
  std::string streamed;
  int calls = 0;
  auto cancelled = s.generate(p, g3, limit(40), [&](std::string_view piece) {
    streamed += piece;
    return ++calls < 3;
  });
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(cancelled->finish, FinishReason::kStop);
  EXPECT_EQ(streamed, cancelled->text);
  EXPECT_EQ(full->text.rfind(streamed, 0), 0u) << "streamed text is a prefix of the full text";
}

TEST_F(GenerateTest, BadRequestsAreErrorsAndSessionSurvives) {
  GenerationSession s(*ctx_, *tok_);
  Sampler g = greedy();
  EXPECT_FALSE(s.generate({}, g, {}).ok());
  std::vector<int32_t> too_long(300, 5);
  auto r = s.generate(too_long, g, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("context holds 256"), std::string::npos);
  EXPECT_FALSE(s.generate(std::vector<int32_t>{1, 9999}, g, {}).ok());
  EXPECT_FALSE(s.generate(std::vector<int32_t>{1}, g, limit(8, {""})).ok());
  auto ok = s.generate(tok_->encode("Once", true, false), g, limit(3));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->tokens.size(), 3u);
}

}  // namespace
}  // namespace muse
