// The gym's contract: deterministic items, a fixed held-out split disjoint from training,
// traces whose every line re-verifies (tests/gym/trace_check.h reads them independently),
// answers that reason/answer.h extracts to the gold, levels that grow, and sizes a tiny
// model can afford.
#include "gym/gym.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "cli/run_util.h"
#include "gym/trace_check.h"
#include "reason/answer.h"

namespace muse {
namespace {

std::vector<GymItem> generate(std::string_view spec, GymSplit split, int64_t n, uint64_t seed) {
  auto items = gym_generate(spec, split, n, seed);
  EXPECT_TRUE(items.ok()) << items.status().message();
  return items.ok() ? std::move(*items) : std::vector<GymItem>{};
}

bool same(const GymItem& a, const GymItem& b) {
  return a.family == b.family && a.level == b.level && a.question == b.question &&
         a.answer == b.answer && a.trace == b.trace && a.verbosity == b.verbosity &&
         a.steps == b.steps;
}

// Held-out plus 1,000 train items of every family and level.
std::vector<GymItem> sample() {
  std::vector<GymItem> all = generate("easy", GymSplit::kHeldOut, 0, 0);
  for (const char* level : {"medium", "hard"}) {
    auto h = generate(level, GymSplit::kHeldOut, 0, 0);
    all.insert(all.end(), h.begin(), h.end());
  }
  for (std::string_view f : gym_families()) {
    for (std::string_view l : gym_levels()) {
      auto t = generate(std::string(f) + ":" + std::string(l), GymSplit::kTrain, 1000, 11);
      all.insert(all.end(), t.begin(), t.end());
    }
  }
  return all;
}

TEST(Gym, SameSeedSameItems) {
  const auto a = generate("medium", GymSplit::kTrain, 300, 5);
  const auto b = generate("medium", GymSplit::kTrain, 300, 5);
  const auto prefix = generate("medium", GymSplit::kTrain, 100, 5);
  const auto other = generate("medium", GymSplit::kTrain, 300, 6);
  ASSERT_EQ(a.size(), 300u);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(same(a[i], b[i])) << i;
    if (i < prefix.size()) {
      EXPECT_TRUE(same(a[i], prefix[i])) << i;
    }
    differ += a[i].question != other[i].question;
  }
  EXPECT_GT(differ, 250);
  std::map<std::string, int> families;
  for (const GymItem& g : a) ++families[g.family];
  EXPECT_EQ(families.size(), 4u);  // a level spec mixes the families
}

// Pinned from this implementation when the split was created: changing any generator moves
// the held-out split, which must then be a deliberate change (docs/gym.md).
TEST(Gym, HeldOutIsFixed) {
  const auto h = generate("hard", GymSplit::kHeldOut, 0, 0);
  ASSERT_EQ(h.size(), 4u * kGymHeldOutPerTask);
  uint64_t hash = 1469598103934665603ull;  // FNV-1a over every question and answer
  for (const GymItem& g : h)
    for (char c : g.question + "|" + g.answer + "\n") hash = (hash ^ uint8_t(c)) * 1099511628211ull;
  std::printf("held-out hard hash %016llx, first: %s\n", (unsigned long long)hash,
              h[0].question.c_str());
  EXPECT_EQ(hash, 0x9539fbef2ba5e025ull) << "held-out split changed";
  const auto again = generate("compare:hard", GymSplit::kHeldOut, 0, 999);  // seed ignored
  ASSERT_EQ(again.size(), size_t(kGymHeldOutPerTask));
  EXPECT_TRUE(same(again[0], h[3]));  // families interleave: arith, word, list, compare
  const auto first = generate("hard", GymSplit::kHeldOut, 7, 0);
  ASSERT_EQ(first.size(), 7u);
  EXPECT_TRUE(same(first[6], h[6]));
}

TEST(Gym, HeldOutIsDisjointFromTrain) {
  std::unordered_set<std::string> held;
  size_t n = 0;
  for (std::string_view l : gym_levels()) {
    for (const GymItem& g : generate(l, GymSplit::kHeldOut, 0, 0)) {
      held.insert(g.question);
      ++n;
    }
  }
  EXPECT_EQ(held.size(), n) << "held-out questions repeat";
  // The easy tasks have the smallest question spaces, so collisions would show there first.
  int64_t checked = 0;
  for (std::string_view l : gym_levels()) {
    for (uint64_t seed : {1, 2, 3}) {
      for (const GymItem& g : generate(l, GymSplit::kTrain, 4000, seed)) {
        EXPECT_FALSE(held.contains(g.question)) << g.question;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 36000);
}

TEST(Gym, EveryTraceLineVerifies) {
  int64_t solved = 0;
  for (const GymItem& g : sample()) {
    EXPECT_EQ(testing::verify_trace(g), "") << g.family << ":" << g.level << " " << g.question;
    EXPECT_GE(g.steps, 1) << g.question;
    if (auto want = testing::solve(g)) {
      EXPECT_EQ(*want, g.answer) << g.question;
      ++solved;
    } else {
      EXPECT_EQ(g.family, "word") << g.question;
    }
  }
  EXPECT_GT(solved, 7000);
}

// The verifier must be able to fail: a wrong last digit in a line that computes something
// (an equation, a rewrite, an insertion) is caught. Relation lines are left out: "2 != 5" is
// as true as "2 != 4".
TEST(Gym, VerifierCatchesACorruptedLine) {
  int64_t corrupted = 0;
  for (const GymItem& g : generate("hard", GymSplit::kHeldOut, 0, 0)) {
    const size_t end = g.trace.find("</think>");
    for (size_t begin = g.trace.find('\n') + 1; begin < end;) {
      const size_t nl = g.trace.find('\n', begin);
      const std::string line = g.trace.substr(begin, nl - begin);
      const size_t digit = g.trace.find_last_of("0123456789", nl);
      begin = nl + 1;
      if (line.find(" = ") == std::string::npos && !line.starts_with("insert ") &&
          !line.starts_with("Now: "))
        continue;
      GymItem bad = g;
      bad.trace[digit] = bad.trace[digit] == '9' ? '8' : char(bad.trace[digit] + 1);
      EXPECT_NE(testing::verify_trace(bad), "") << bad.trace;
      ++corrupted;
    }
  }
  EXPECT_GT(corrupted, 3000);
}

TEST(Gym, AnswersAreNormalizedAndExtracted) {
  for (const GymItem& g : sample()) {
    EXPECT_EQ(normalize_answer(g.answer), g.answer);
    const auto auto_answer = extract_answer(g.trace, AnswerFormat::kAuto);
    ASSERT_TRUE(auto_answer.has_value()) << g.trace;
    EXPECT_EQ(normalize_answer(*auto_answer), g.answer) << g.trace;
    EXPECT_EQ(after_think(g.trace), "\n\nAnswer: " + g.answer);
    EXPECT_TRUE(gym_check(g, g.trace)) << g.trace;
  }
}

TEST(Gym, CheckRejectsWrongAndUnfinishedAnswers) {
  const auto items = generate("hard", GymSplit::kHeldOut, 0, 0);
  for (const GymItem& g : items) {
    const bool numeric = g.answer.find_first_not_of("0123456789") == std::string::npos;
    const std::string wrong = numeric             ? std::to_string(std::stoll(g.answer) + 1)
                              : g.answer == "yes" ? "no"
                              : g.answer == "no"  ? "yes"
                                                  : g.answer + " 1";
    const std::string head = g.trace.substr(0, g.trace.rfind("Answer: "));
    EXPECT_FALSE(gym_check(g, head + "Answer: " + wrong)) << wrong;
    EXPECT_FALSE(gym_check(g, g.trace.substr(0, g.trace.find("</think>"))));  // never closed
    EXPECT_FALSE(gym_check(g, ""));
    EXPECT_TRUE(gym_check(g, head + "Answer: **" + g.answer + "**."));
  }
  GymItem g;
  g.answer = "42";
  EXPECT_TRUE(gym_check(g, "6 * 7 = 42"));  // no thinking, no marker: the last number
  EXPECT_TRUE(gym_check(g, "<think>\n40 + 2 = 42\n</think>\nso 42"));
  EXPECT_FALSE(gym_check(g, "<think>\n40 + 2 = 42\n</think>\nso 41"));
  EXPECT_FALSE(gym_check(g, "<think>\n40 + 2 = 42\n</think>\n"));  // the thinking does not count
  GymItem list;
  list.answer = "3 5 8 9";
  EXPECT_TRUE(gym_check(list, "</think>\nAnswer:  3 5  8 9"));
  EXPECT_FALSE(gym_check(list, "</think>\n3 5 8 9"));  // no last-number fallback for lists
}

TEST(Gym, HarderLevelsTakeMoreSteps) {
  for (std::string_view f : gym_families()) {
    double mean[3] = {};
    for (int l = 0; l < 3; ++l) {
      const auto items = generate(std::string(f) + ":" + std::string(gym_levels()[size_t(l)]),
                                  GymSplit::kTrain, 2000, 3);
      for (const GymItem& g : items) mean[l] += g.steps / double(items.size());
    }
    std::printf("%-8s mean steps easy %.2f medium %.2f hard %.2f\n", std::string(f).c_str(),
                mean[0], mean[1], mean[2]);
    EXPECT_LT(mean[0], mean[1]) << f;
    EXPECT_LT(mean[1], mean[2]) << f;
  }
}

TEST(Gym, VerbosityVariesAndTracesStayShort) {
  std::map<std::string, std::pair<double, int64_t>> chars;  // level -> (sum, count)
  int styles[3] = {};
  for (const GymItem& g : sample()) {
    auto& [sum, count] = chars[g.level];
    sum += double(g.question.size() + g.trace.size());
    ++count;
    ++styles[g.verbosity];
    const bool checks = g.trace.find("Check: ") != std::string::npos;
    EXPECT_EQ(checks, g.verbosity == 2) << g.trace;
    if (g.verbosity == 0) {
      EXPECT_EQ(g.trace.find("Now: "), std::string::npos) << g.trace;
    }
  }
  for (int s : styles) EXPECT_GT(s, 1000);
  for (const auto& [level, c] : chars)
    std::printf("%-6s mean chars of question + trace: %.1f\n", level.c_str(), c.first / c.second);
  EXPECT_LT(chars["easy"].first / chars["easy"].second, 200);
  EXPECT_LT(chars["hard"].first / chars["hard"].second, 600);
}

TEST(Gym, BadSpecsNameTheAcceptedOnes) {
  for (const char* spec : {"", "nope", "arith", "arith:", "foo:easy", "arith:easy:1", ":easy"}) {
    auto r = gym_generate(spec, GymSplit::kTrain, 1, 1);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_NE(r.status().message().find("easy, medium, hard"), std::string::npos);
    EXPECT_NE(r.status().message().find("compare"), std::string::npos);
  }
  EXPECT_FALSE(gym_generate("easy", GymSplit::kTrain, 0, 1).ok());
  EXPECT_FALSE(gym_generate("arith:easy", GymSplit::kHeldOut, kGymHeldOutPerTask + 1, 1).ok());
  EXPECT_TRUE(gym_generate("easy", GymSplit::kHeldOut, 4 * kGymHeldOutPerTask, 1).ok());
  EXPECT_FALSE(parse_gym_split("test").ok());
  EXPECT_EQ(*parse_gym_split("heldout"), GymSplit::kHeldOut);
}

TEST(Gym, CliPrintsJsonLines) {
  const auto r = testing::run_muse("gym --spec list:hard --n 5 --seed 2 --jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto want = generate("list:hard", GymSplit::kTrain, 5, 2);
  std::istringstream lines(r.out);
  size_t i = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_LT(i, want.size());
    EXPECT_EQ(j["question"], want[i].question);
    EXPECT_EQ(j["trace"], want[i].trace);
    EXPECT_EQ(j["answer"], want[i].answer);
    EXPECT_EQ(j["family"], "list");
  }
  EXPECT_EQ(i, 5u);
  const auto held = testing::run_muse("gym --spec easy --split heldout --stats");
  ASSERT_EQ(held.exit_code, 0) << held.err;
  EXPECT_NE(held.out.find("| word:easy | 200 |"), std::string::npos) << held.out;
  EXPECT_EQ(testing::run_muse("gym --spec nope").exit_code, 2);
  EXPECT_EQ(testing::run_muse("gym --n -3").exit_code, 2);
}

}  // namespace
}  // namespace muse
