// `muse eval -m MODEL --task TASK --method greedy|single|sc@N|contemplate@N`: accuracy of one
// reasoning method on a dataset (reason/tasks.h), generated tokens and wall time, as a table
// or (--json) one object {"accuracy", "tokens", "questions", "wall_s"}.
//   greedy          one thinking chain at temperature 0 (deterministic; --temp is ignored)
//   single          one thinking chain sampled at --temp (budget forcing at --budget)
//   sc@N            self-consistency: N chains, majority vote, no early stop
//   contemplate@N   Contemplating: N agents, confidence early stop, consensus, weighted vote
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/eval_run.h"
#include "cli/model_flags.h"
#include "reason/contemplate.h"
#include "reason/tasks.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse eval -m MODEL --task TASK [--method M] [--budget T] [--limit N]\n"
      "                 [--data DIR] [--json] [model and sampling options]\n\n"
      "  --task TASK       gsm8k, math500, aime24, aime25, amc23, arc, arc-dev,\n"
      "                    gym:<level> or gym:<family>:<level> (the gym's held-out split)\n"
      "  --method M        single (default; one sample at --temp), greedy (temperature 0),\n"
      "                    sc@N (self-consistency), contemplate@N\n"
      "  --budget T        thinking tokens per chain before budget forcing (default 1024)\n"
      "  --answer-tokens N tokens after thinking ends (default 128)\n"
      "  --limit N         the first N questions\n"
      "  --data DIR        datasets folder (default ../shared/datasets)\n"
      "  --json            {\"accuracy\", \"tokens\", \"questions\", \"wall_s\"}\n\n%s",
      model_flags_help());
}

// "greedy" | "single" | "sc@N" | "contemplate@N" into options; false when malformed. Greedy's
// temperature is set after the sampling flags, which would otherwise overwrite it.
bool parse_method(const std::string& m, ContemplateOptions* o) {
  if (m == "single" || m == "greedy") {
    o->effort = Effort::kThinking;
    return true;
  }
  const size_t at = m.find('@');
  if (at == std::string::npos) return false;
  const std::string kind = m.substr(0, at);
  char* end = nullptr;
  const long n = std::strtol(m.c_str() + at + 1, &end, 10);
  if (*end || n < 1 || n > 256) return false;
  o->effort = Effort::kContemplating;
  o->agents = int(n);
  if (kind == "sc") {
    o->warmup = int(n);  // no early stop; consensus only once all are in
    o->keep_percent = 100;
    o->consensus = 1.0;
    o->confidence_weights = false;
    return true;
  }
  return kind == "contemplate";
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  ModelFlags flags;
  ContemplateOptions o;
  std::string task, method = "single", data = "../shared/datasets";
  long limit = 0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "--task" || a == "--method" || a == "--data" || a == "--limit" ||
               a == "--budget" || a == "--answer-tokens") {
      const char* v = value();
      if (!v) {
        std::fprintf(stderr, "muse eval: %s needs a value\n", a.c_str());
        return 2;
      }
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      const bool is_int = *v && !*end;
      if (a == "--task") {
        task = v;
      } else if (a == "--method") {
        method = v;
      } else if (a == "--data") {
        data = v;
      } else if (!is_int || (a == "--limit" && n < 0) || (a == "--budget" && n < -1) ||
                 (a == "--answer-tokens" && n < 1)) {
        std::fprintf(stderr, "muse eval: %s takes an integer (got '%s')\n", a.c_str(), v);
        return 2;
      } else if (a == "--limit") {
        limit = n;
      } else if (a == "--budget") {
        o.thinking_budget = int32_t(n);
      } else {
        o.max_answer_tokens = int32_t(n);
      }
    } else if (a == "--json") {
      json = true;
    } else if (int r = parse_model_flag("eval", argc, argv, &i, &flags); r != 1) {
      if (r == 0) std::fprintf(stderr, "muse eval: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (task.empty()) {
    std::fprintf(stderr, "muse eval: no task given (--task TASK, see --help)\n");
    return 2;
  }
  if (!parse_method(method, &o)) {
    std::fprintf(stderr,
                 "muse eval: --method takes greedy, single, sc@N or contemplate@N (got '%s')\n",
                 method.c_str());
    return 2;
  }
  apply_sampling_flags(flags, &o);
  if (method == "greedy") o.temperature = 0;
  if (Status s = validate(o); !s.ok()) {
    std::fprintf(stderr, "muse eval: %s\n", s.message().c_str());
    return 2;
  }
  auto items = load_task(task, data, limit);
  if (!items.ok()) {
    std::fprintf(stderr, "muse eval: %s\n", items.status().message().c_str());
    return 1;
  }
  auto m = load_model(flags, /*quiet=*/json);
  if (!m.ok()) {
    std::fprintf(stderr, "muse eval: %s\n", m.status().message().c_str());
    return 1;
  }
  auto engine = make_engine(*m, flags, o.effort == Effort::kContemplating ? o.agents : 1);
  if (!engine.ok()) {
    std::fprintf(stderr, "muse eval: %s\n", engine.status().message().c_str());
    return 1;
  }
  auto score = eval_items(**engine, *m, *items, o,
                          [&](size_t q, const EvalItem& item, const std::string& answer, bool ok) {
                            if (json) return;
                            std::fprintf(stderr, "  %zu/%zu  %s  gold %s  got %s\n", q + 1,
                                         items->size(), ok ? "ok " : "bad", item.gold.c_str(),
                                         answer.empty() ? "(none)" : answer.c_str());
                          });
  if (!score.ok()) {
    std::fprintf(stderr, "muse eval: %s\n", score.status().message().c_str());
    return 1;
  }
  const int64_t correct = score->correct, tokens = score->tokens;
  const double wall = score->wall_s;
  const double n = double(items->size());
  if (json) {
    nlohmann::ordered_json j;
    j["accuracy"] = correct / n;
    j["tokens"] = tokens;
    j["questions"] = items->size();
    j["wall_s"] = wall;
    j["task"] = task;
    j["method"] = method;
    j["correct"] = correct;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("| task | method | questions | accuracy | tokens / question | wall s |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  std::printf("| %s | %s | %zu | %.1f %% | %.0f | %.1f |\n", task.c_str(), method.c_str(),
              items->size(), 100.0 * correct / n, tokens / n, wall);
  return 0;
}

}  // namespace muse::cli
