// Dataset readers on small files written here (the real datasets need not be present), and
// `muse eval` end to end on a random model.
#include "reason/tasks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_util.h"
#include "gguf/test_util.h"

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

TEST_F(TasksTest, ErrorsNameTheProblem) {
  auto m = load_task("math500", dir_.path());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("test.jsonl:1"), std::string::npos) << m.status().message();
  auto u = load_task("nope", dir_.path());
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("gsm8k"), std::string::npos);
  EXPECT_FALSE(load_task("gym:easy", dir_.path()).ok());
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
  for (const char* method : {"single", "sc@2", "contemplate@3"}) {
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
