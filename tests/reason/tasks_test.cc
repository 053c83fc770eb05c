// Dataset readers on small files written here (the real datasets need not be present), and
// `muse eval` end to end on a random model.
#include "reason/tasks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_util.h"
#include "gguf/test_util.h"
#include "gym/gym.h"
#include "reason/answer.h"

namespace muse {
namespace {

void write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

class TasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write(dir_.file("gsm8k/test.jsonl"),
          R"({"question": "What is 2+2?", "answer": "2+2=<<2+2=4>>4\n#### 4"})"
          "\n"
          R"({"question": "Big?", "answer": "#### 1,234"})"
          "\n");
    write(dir_.file("aime25/test.jsonl"), R"({"id": "0", "question": "Q", "answer": 70.0})"
                                          "\n");
    write(
        dir_.file("arc/ARC-Challenge-Test.jsonl"),
        R"({"id":"x","question":{"stem":"Which?","choices":[{"text":"one","label":"A"},{"text":"two","label":"B"}]},"answerKey":"B"})"
        "\n");
    write(dir_.file("math500/test.jsonl"), "{\"problem\": \"P\"}\n");  // no answer
  }
  testing::TempDir dir_;
};

TEST_F(TasksTest, ReadsEachFormat) {
  auto g = load_task("gsm8k", dir_.path());
  ASSERT_TRUE(g.ok()) << g.status().message();
  ASSERT_EQ(g->size(), 2u);
  EXPECT_EQ((*g)[0].gold, "4");
  EXPECT_EQ((*g)[1].gold, "1234");
  EXPECT_NE((*g)[0].prompt.find("What is 2+2?"), std::string::npos);
  EXPECT_NE((*g)[0].prompt.find("\\boxed{}"), std::string::npos);
  auto a = load_task("aime25", dir_.path());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)[0].gold, "70");
  auto r = load_task("arc", dir_.path());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].gold, "b");
  EXPECT_NE((*r)[0].prompt.find("B) two"), std::string::npos);
  auto lim = load_task("gsm8k", dir_.path(), 1);
  ASSERT_TRUE(lim.ok());
  EXPECT_EQ(lim->size(), 1u);
}

TEST_F(TasksTest, GymTasksAreTheHeldOutSplit) {
  auto all = load_task("gym:easy", "/nonexistent");  // generated: no files needed
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->size(), 4u * kGymHeldOutPerTask);
  auto held = gym_generate("arith:hard", GymSplit::kHeldOut, 0, 0);
  ASSERT_TRUE(held.ok());
  auto arith = load_task("gym:arith:hard", dir_.path(), 5);
  ASSERT_TRUE(arith.ok()) << arith.status().message();
  ASSERT_EQ(arith->size(), 5u);
  for (size_t i = 0; i < arith->size(); ++i) {
    EXPECT_EQ((*arith)[i].prompt, (*held)[i].question);
    // The gold is what the vote's extractor makes of the trained response's answer line.
    const auto got = extract_answer((*held)[i].trace, AnswerFormat::kAuto);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ((*arith)[i].gold, normalize_answer(*got));
  }
}

TEST_F(TasksTest, ErrorsNameTheProblem) {
  auto m = load_task("math500", dir_.path());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("test.jsonl:1"), std::string::npos) << m.status().message();
  auto u = load_task("nope", dir_.path());
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("gsm8k"), std::string::npos);
  auto g = load_task("gym:nope", dir_.path());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("easy, medium, hard"), std::string::npos);
  EXPECT_FALSE(load_task("aime24", dir_.path()).ok());  // file missing
  write(dir_.file("amc23/test.jsonl"), "{not json\n");
  auto bad = load_task("amc23", dir_.path());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not valid JSON"), std::string::npos);
}

TEST_F(TasksTest, EvalCliRunsEveryMethod) {
  const std::string model = dir_.file("m.gguf");
  ASSERT_EQ(testing::run_muse("gen-model --arch llama --n-embd 64 --n-layer 2 --n-head 4 "
                              "--n-ff 128 -o " +
                              testing::shell_quote(model))
                .exit_code,
            0);
  for (const char* method : {"greedy", "single", "sc@2", "contemplate@3"}) {
    const auto r =
        testing::run_muse("eval -m " + testing::shell_quote(model) + " --task gsm8k --data " +
                          testing::shell_quote(dir_.path()) + " --method " + method +
                          " --budget 6 --answer-tokens 3 -s 1 --json");
    ASSERT_EQ(r.exit_code, 0) << method << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["questions"], 2);
    EXPECT_GE(j["accuracy"].get<double>(), 0.0);
    EXPECT_LE(j["accuracy"].get<double>(), 1.0);
    EXPECT_GT(j["tokens"].get<int>(), 0);
    EXPECT_TRUE(j.contains("wall_s"));
  }
  // Greedy on the gym's held-out items: no dataset files, and the same answers (the
  // per-question lines on stderr) whatever the seed.
  const std::string gym = "eval -m " + testing::shell_quote(model) +
                          " --task gym:list:easy --limit 4 --method greedy --budget 6 "
                          "--answer-tokens 3";
  const auto g1 = testing::run_muse(gym + " -s 1"), g2 = testing::run_muse(gym + " -s 2");
  ASSERT_EQ(g1.exit_code, 0) << g1.err;
  const auto answers = [](const std::string& err) {  // the lines after the load timing
    return err.substr(std::min(err.find("  1/4"), err.size()));
  };
  EXPECT_NE(g1.err.find("4/4"), std::string::npos) << g1.err;
  EXPECT_EQ(answers(g1.err), answers(g2.err));
  EXPECT_EQ(
      testing::run_muse("eval -m " + testing::shell_quote(model) + " --task gsm8k --method best@2")
          .exit_code,
      2);
  EXPECT_EQ(testing::run_muse("eval -m " + testing::shell_quote(model) + " --task nope --data " +
                              testing::shell_quote(dir_.path()))
                .exit_code,
            1);
}

}  // namespace
}  // namespace muse
