// Dataset readers: one JSON object per line; the fields differ per dataset. The gym's
// tasks are generated, not read.
#include "reason/tasks.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gym/gym.h"
#include "reason/answer.h"

namespace muse {
namespace {

constexpr const char* kBoxed =
    "\n\nPlease reason step by step, and put your final answer within \\boxed{}.";

struct Spec {
  std::string_view name;
  const char* file;
  const char* question;  // field of the question text
};
constexpr Spec kSpecs[] = {
    {"gsm8k", "gsm8k/test.jsonl", "question"},
    {"math500", "math500/test.jsonl", "problem"},
    {"aime24", "aime24/test.jsonl", "problem"},
    {"aime25", "aime25/test.jsonl", "question"},
    {"amc23", "amc23/test.jsonl", "problem"},
    {"arc", "arc/ARC-Challenge-Test.jsonl", "question"},
    {"arc-dev", "arc/ARC-Challenge-Dev.jsonl", "question"},
};

// A number answer as text: 70.0 -> "70".
std::string number_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  const double d = v.get<double>();
  char buf[64];
  if (std::floor(d) == d && std::fabs(d) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", d);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", d);
  }
  return buf;
}

StatusOr<EvalItem> parse_row(const Spec& s, const nlohmann::json& j) {
  EvalItem item;
  if (s.name == "arc" || s.name == "arc-dev") {
    const auto& q = j.at("question");
    std::string prompt = q.at("stem").get<std::string>() + "\n";
    for (const auto& c : q.at("choices"))
      prompt += c.at("label").get<std::string>() + ") " + c.at("text").get<std::string>() + "\n";
    item.prompt = prompt + "\nAnswer with the letter of the correct choice." + kBoxed;
    item.gold = normalize_answer(j.at("answerKey").get<std::string>());
    return item;
  }
  item.prompt = j.at(s.question).get<std::string>() + kBoxed;
  if (s.name == "gsm8k") {
    const std::string a = j.at("answer").get<std::string>();
    const size_t at = a.rfind("####");
    if (at == std::string::npos) return Errorf("answer has no '####'");
    item.gold = normalize_answer(a.substr(at + 4));
  } else {
    item.gold = normalize_answer(number_text(j.at("answer")));
  }
  return item;
}

// The gym's held-out split: the question as the model was trained to read it (no \boxed{}
// instruction: traces end in "Answer: X"), the gold already normalized.
StatusOr<std::vector<EvalItem>> load_gym(std::string_view spec, int64_t limit) {
  auto held = gym_generate(spec, GymSplit::kHeldOut, 0, 0);
  if (!held.ok()) return held.status().WithContext("task 'gym:" + std::string(spec) + "'");
  std::vector<EvalItem> items;
  for (GymItem& g : *held) {
    items.push_back({.prompt = std::move(g.question), .gold = std::move(g.answer)});
    if (limit > 0 && int64_t(items.size()) >= limit) break;
  }
  return items;
}

// A tuning split: `n` questions of the gym's train split from a fixed seed, for choosing
// reasoning settings without looking at the held-out questions (which it never yields).
StatusOr<std::vector<EvalItem>> load_gym_train(std::string_view spec, int64_t limit) {
  constexpr uint64_t kTuneSeed = 0x7E57;
  auto train = gym_generate(spec, GymSplit::kTrain, limit > 0 ? limit : 200, kTuneSeed);
  if (!train.ok()) return train.status().WithContext("task 'gym-train:" + std::string(spec) + "'");
  std::vector<EvalItem> items;
  for (GymItem& g : *train)
    items.push_back({.prompt = std::move(g.question), .gold = std::move(g.answer)});
  return items;
}

}  // namespace

std::vector<std::string_view> task_names() {
  std::vector<std::string_view> names;
  for (const Spec& s : kSpecs) names.push_back(s.name);
  return names;
}

StatusOr<std::vector<EvalItem>> load_task(std::string_view task, const std::string& datasets_dir,
                                          int64_t limit) {
  const Spec* spec = nullptr;
  for (const Spec& s : kSpecs)
    if (s.name == task) spec = &s;
  if (spec == nullptr) {
    if (task.starts_with("gym:")) return load_gym(task.substr(4), limit);
    if (task.starts_with("gym-train:")) return load_gym_train(task.substr(10), limit);
    std::string known;
    for (std::string_view n : task_names()) known += (known.empty() ? "" : ", ") + std::string(n);
    return Errorf(
        "unknown task '%s' (known: %s, gym:<level>, gym:<family>:<level>, "
        "gym-train:<level>)",
        std::string(task).c_str(), known.c_str());
  }
  const std::string path = datasets_dir + "/" + spec->file;
  std::ifstream in(path);
  if (!in) return Errorf("%s: cannot open (set --data to the datasets folder)", path.c_str());
  std::vector<EvalItem> items;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line == "\r") continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Errorf("%s:%lld: not valid JSON", path.c_str(), (long long)n);
    StatusOr<EvalItem> item = Errorf("missing field");
    try {
      item = parse_row(*spec, j);
    } catch (const nlohmann::json::exception& e) {
      item = Errorf("%s", e.what());
    }
    if (!item.ok())
      return Errorf("%s:%lld: %s", path.c_str(), (long long)n, item.status().message().c_str());
    items.push_back(std::move(*item));
    if (limit > 0 && int64_t(items.size()) >= limit) break;
  }
  if (items.empty()) return Errorf("%s: no items", path.c_str());
  return items;
}

}  // namespace muse
