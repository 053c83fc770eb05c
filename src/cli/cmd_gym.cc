// `muse gym --spec easy --split train --n 1000 --seed 1 [--jsonl | --stats]`: the gym's
// items (gym/gym.h) as a training corpus. --jsonl prints one object per line with family,
// level, question, answer, trace, verbosity and steps; --stats prints a table of counts,
// steps and sizes per family and level instead of the items.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "gym/gym.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse gym [--spec S] [--split train|heldout] [--n N] [--seed S] [--jsonl|--stats]\n\n"
      "  --spec S      easy, medium, hard (families mixed) or <family>:<level>, family one of\n"
      "                arith, word, list, compare (default easy)\n"
      "  --split S     train (default; never yields a held-out question) or heldout (fixed,\n"
      "                %lld items per family and level; the seed is ignored)\n"
      "  --n N         items (default 1000 for train, all of heldout)\n"
      "  --seed S      train seed (default 1)\n"
      "  --jsonl       one JSON object per line: family, level, question, answer, trace,\n"
      "                verbosity, steps\n"
      "  --stats       per family and level: items, mean steps, mean characters\n",
      (long long)kGymHeldOutPerTask);
}

const char* style_name(int verbosity) {
  return verbosity == 0 ? "terse" : verbosity == 1 ? "normal" : "verbose";
}

void print_stats(const std::vector<GymItem>& items) {
  struct Sum {
    int64_t n = 0, steps = 0, question = 0, trace = 0;
  };
  std::map<std::string, Sum> by_task;
  for (const GymItem& g : items) {
    Sum& s = by_task[g.family + ":" + g.level];
    ++s.n;
    s.steps += g.steps;
    s.question += int64_t(g.question.size());
    s.trace += int64_t(g.trace.size());
  }
  std::printf("| task | items | steps | question chars | trace chars | total chars |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (const auto& [task, s] : by_task) {
    const double n = double(s.n);
    std::printf("| %s | %lld | %.2f | %.1f | %.1f | %.1f |\n", task.c_str(), (long long)s.n,
                s.steps / n, s.question / n, s.trace / n, (s.question + s.trace) / n);
  }
}

}  // namespace

int cmd_gym(int argc, char** argv) {
  std::string spec = "easy", split_name = "train";
  int64_t n = -1;
  uint64_t seed = 1;
  bool jsonl = false, stats = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "--spec" || a == "--split" || a == "--n" || a == "--seed") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "muse gym: %s needs a value\n", a.c_str());
        return 2;
      }
      const char* v = argv[++i];
      char* end = nullptr;
      if (a == "--spec") {
        spec = v;
      } else if (a == "--split") {
        split_name = v;
      } else if (a == "--n") {
        n = std::strtoll(v, &end, 10);
      } else {
        seed = std::strtoull(v, &end, 10);
      }
      if (end && (end == v || *end || *v == '-')) {
        std::fprintf(stderr, "muse gym: %s takes a non-negative integer (got '%s')\n", a.c_str(),
                     v);
        return 2;
      }
    } else if (a == "--jsonl") {
      jsonl = true;
    } else if (a == "--stats") {
      stats = true;
    } else {
      std::fprintf(stderr, "muse gym: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  const StatusOr<GymSplit> split = parse_gym_split(split_name);
  if (!split.ok()) {
    std::fprintf(stderr, "muse gym: %s\n", split.status().message().c_str());
    return 2;
  }
  if (n < 0) n = *split == GymSplit::kTrain ? 1000 : 0;
  const auto items = gym_generate(spec, *split, n, seed);
  if (!items.ok()) {
    std::fprintf(stderr, "muse gym: %s\n", items.status().message().c_str());
    return 2;
  }
  if (stats) {
    print_stats(*items);
    return 0;
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const GymItem& g = (*items)[i];
    if (jsonl) {
      const nlohmann::ordered_json j = {{"family", g.family},     {"level", g.level},
                                        {"question", g.question}, {"answer", g.answer},
                                        {"trace", g.trace},       {"verbosity", g.verbosity},
                                        {"steps", g.steps}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("### %zu %s:%s (%s, %d step%s)\n%s\n%s\n\n", i + 1, g.family.c_str(),
                  g.level.c_str(), style_name(g.verbosity), g.steps, g.steps == 1 ? "" : "s",
                  g.question.c_str(), g.trace.c_str());
    }
  }
  return 0;
}

}  // namespace muse::cli
