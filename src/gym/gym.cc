// Specs, splits and the checker. Item i of a train run draws from `Rng(mix(seed, i))`; the
// held-out split is 200 items per family and level from a fixed seed, built once per
// process, and its questions (all levels together) are what the train split skips.
#include "gym/gym.h"

#include <algorithm>
#include <array>
#include <span>
#include <unordered_set>

#include "gym/families.h"
#include "reason/answer.h"

namespace muse {
namespace {

using gym::Level;
using gym::Rng;

constexpr std::array<std::string_view, 4> kFamilies = {"arith", "word", "list", "compare"};
constexpr std::array<std::string_view, 3> kLevels = {"easy", "medium", "hard"};
using Maker = gym::Problem (*)(Level, Rng&, int);
constexpr std::array<Maker, 4> kMakers = {gym::make_arith, gym::make_word, gym::make_list,
                                          gym::make_compare};

constexpr uint64_t kHeldOutSeed = 0x6d7573652d67796dull;  // "muse-gym"
constexpr int64_t kMaxItems = 100'000'000;

struct Spec {
  int family = -1;  // -1: the families mixed
  int level = 0;
};

int index_of(std::span<const std::string_view> names, std::string_view name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return int(i);
  return -1;
}

StatusOr<Spec> parse_spec(std::string_view text) {
  Spec spec;
  std::string_view level = text;
  if (const size_t colon = text.find(':'); colon != std::string_view::npos) {
    spec.family = index_of(kFamilies, text.substr(0, colon));
    level = text.substr(colon + 1);
  }
  spec.level = index_of(kLevels, level);
  if (spec.level < 0 || (spec.family < 0 && level.size() != text.size())) {
    return Errorf(
        "unknown gym spec '%.*s' (expected easy, medium, hard, or <family>:<level> with "
        "family arith, word, list or compare)",
        int(std::min<size_t>(text.size(), 64)), text.data());
  }
  return spec;
}

// A quarter terse, half normal, a quarter verbose.
int draw_verbosity(Rng& rng) {
  const int64_t r = rng.uniform(0, 3);
  return r == 0 ? gym::kTerse : r == 3 ? gym::kVerbose : gym::kNormal;
}

GymItem make_item(int family, int level, Rng& rng) {
  const int verbosity = draw_verbosity(rng);
  gym::Problem p = kMakers[size_t(family)](Level(level), rng, verbosity);
  return GymItem{.family = std::string(kFamilies[size_t(family)]),
                 .level = std::string(kLevels[size_t(level)]),
                 .question = std::move(p.question),
                 .answer = std::move(p.answer),
                 .trace = std::move(p.trace),
                 .verbosity = verbosity,
                 .steps = p.steps};
}

struct HeldOut {
  std::vector<GymItem> items[kFamilies.size()][kLevels.size()];
  std::unordered_set<std::string> questions;  // of every family and level
};

// Unique questions across the whole split, so a question held out at one level is also
// kept out of every other level's training data.
const HeldOut& held_out() {
  static const HeldOut h = [] {
    HeldOut h;
    for (size_t f = 0; f < kFamilies.size(); ++f) {
      for (size_t l = 0; l < kLevels.size(); ++l) {
        const uint64_t stream = gym::mix(gym::mix(kHeldOutSeed, f), l);
        std::vector<GymItem>& items = h.items[f][l];
        for (uint64_t j = 0; int64_t(items.size()) < kGymHeldOutPerTask; ++j) {
          Rng rng(gym::mix(stream, j));
          GymItem item = make_item(int(f), int(l), rng);
          if (h.questions.insert(item.question).second) items.push_back(std::move(item));
        }
      }
    }
    return h;
  }();
  return h;
}

bool is_integer(std::string_view s) {
  if (s.starts_with('-')) s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

StatusOr<GymSplit> parse_gym_split(std::string_view name) {
  if (name == "train") return GymSplit::kTrain;
  if (name == "heldout" || name == "held-out") return GymSplit::kHeldOut;
  return Errorf("unknown gym split '%.*s' (expected train or heldout)",
                int(std::min<size_t>(name.size(), 64)), name.data());
}

std::vector<std::string_view> gym_families() { return {kFamilies.begin(), kFamilies.end()}; }
std::vector<std::string_view> gym_levels() { return {kLevels.begin(), kLevels.end()}; }

StatusOr<std::vector<GymItem>> gym_generate(std::string_view spec_text, GymSplit split, int64_t n,
                                            uint64_t seed) {
  StatusOr<Spec> spec = parse_spec(spec_text);
  if (!spec.ok()) return spec.status();
  const HeldOut& h = held_out();
  std::vector<GymItem> items;
  if (split == GymSplit::kHeldOut) {
    const size_t l = size_t(spec->level);
    const int64_t size = kGymHeldOutPerTask * (spec->family < 0 ? int64_t(kFamilies.size()) : 1);
    if (n < 0 || n > size) {
      return Errorf("held-out '%s' has %lld items (asked for %lld)", std::string(spec_text).c_str(),
                    (long long)size, (long long)n);
    }
    for (int64_t i = 0; i < kGymHeldOutPerTask; ++i) {
      for (size_t f = 0; f < kFamilies.size(); ++f) {
        if (spec->family < 0 || size_t(spec->family) == f)
          items.push_back(h.items[f][l][size_t(i)]);
      }
    }
    if (n > 0) items.resize(size_t(n));
    return items;
  }
  if (n < 1 || n > kMaxItems)
    return Errorf("train items must be in [1, %lld] (got %lld)", (long long)kMaxItems,
                  (long long)n);
  items.reserve(size_t(n));
  for (uint64_t j = 0; int64_t(items.size()) < n; ++j) {
    Rng rng(gym::mix(seed, j));
    const int family =
        spec->family >= 0 ? spec->family : int(rng.uniform(0, int64_t(kFamilies.size()) - 1));
    GymItem item = make_item(family, spec->level, rng);
    if (!h.questions.contains(item.question)) items.push_back(std::move(item));
  }
  return items;
}

std::string gym_extract(std::string_view output, bool numeric) {
  if (output.find("<think>") != std::string_view::npos &&
      output.find("</think>") == std::string_view::npos)
    return "";
  if (auto a = extract_answer(output, AnswerFormat::kAnswerColon)) return normalize_answer(*a);
  if (numeric) {
    if (auto a = extract_answer(output, AnswerFormat::kLastNumber)) return normalize_answer(*a);
  }
  return "";
}

bool gym_check(const GymItem& item, std::string_view model_output) {
  const std::string got = gym_extract(model_output, is_integer(item.answer));
  return !got.empty() && got == item.answer;
}

}  // namespace muse
