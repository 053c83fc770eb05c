// `muse eval -m MODEL --task TASK --method greedy|single|sc@N|contemplate@N`: accuracy of one
// reasoning method on a dataset (reason/tasks.h), generated tokens and wall time, as a table
// or (--json) one object {"accuracy", "tokens", "questions", "wall_s"}.
//   greedy          one thinking chain at temperature 0 (deterministic; --temp is ignored)
//   single          one thinking chain sampled at --temp (budget forcing at --budget)
//   sc@N            self-consistency: N chains, majority vote, no early stop
//   contemplate@N   Contemplating: N agents, confidence early stop, consensus, weighted vote
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/contemplate_flags.h"
#include "cli/engine_flags.h"
#include "cli/eval_run.h"
#include "cli/model_flags.h"
#include "reason/contemplate.h"
#include "reason/tasks.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse eval -m MODEL --task TASK [--method M] [--limit N] [--data DIR] [--json]\n"
      "                 [Contemplating options] [model and sampling options]\n\n"
      "  --task TASK       gsm8k, math500, aime24, aime25, amc23, arc, arc-dev,\n"
      "                    gym:<level> or gym:<family>:<level> (the gym's held-out split),\n"
      "                    gym-train:<level> (train-split questions for tuning settings)\n"
      "  --method M        single (default; one sample at --temp), greedy (temperature 0),\n"
      "                    sc@N (self-consistency), contemplate@N\n"
      "  --limit N         the first N questions (gym-train: N questions, default 200)\n"
      "  --traces FILE     one JSON line per question: the answer, and per agent its status,\n"
      "                    answer, tokens and token confidences (for studying the method)\n"
      "  --data DIR        datasets folder (default ../shared/datasets)\n"
      "  --json            {\"accuracy\", \"tokens\", \"questions\", \"wall_s\"}\n\n"
      "Contemplating options (sc@N fixes its own: no early stop, plain vote, no ladder):\n%s\n"
      "Model and sampling options:\n%s",
      contemplate_flags_help(), model_flags_help());
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
    o->temperature_ladder = false;  // every chain at --temp
    o->parallel = int(n);           // all chains at once
    return true;
  }
  return kind == "contemplate";
}

// One question of --traces: its outcome, and per agent what it did and its C_t sequence
// (rounded to 1e-4, which is finer than any threshold the method compares them with).
std::string trace_line(size_t q, const EvalItem& item, const ContemplateResult& r, bool ok) {
  nlohmann::ordered_json j;
  j["q"] = q;
  j["gold"] = item.gold;
  j["answer"] = r.answer;
  j["correct"] = ok;
  j["share"] = r.share;
  j["tokens"] = r.tokens;
  j["threshold"] = r.threshold;
  j["wall_s"] = r.wall_s;
  nlohmann::ordered_json agents = nlohmann::ordered_json::array();
  for (const AgentReport& a : r.agents) {
    nlohmann::ordered_json ja;
    ja["id"] = a.id;
    ja["status"] = agent_status_name(a.status);
    ja["answer"] = a.answer ? nlohmann::ordered_json(*a.answer) : nlohmann::ordered_json();
    ja["tokens"] = a.tokens;
    ja["forced"] = a.forced;
    ja["confidence"] = a.confidence;
    nlohmann::ordered_json conf = nlohmann::ordered_json::array();
    for (float c : a.token_confidences) conf.push_back(std::round(double(c) * 1e4) / 1e4);
    ja["token_confidences"] = std::move(conf);
    agents.push_back(std::move(ja));
  }
  j["agents"] = std::move(agents);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  ModelFlags flags;
  ContemplateOptions o;
  std::string task, method = "single", data = "../shared/datasets", traces_path;
  std::string policy_flag;  // the last Contemplating policy flag given (--parallel, ...)
  long limit = 0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "--task" || a == "--method" || a == "--data" || a == "--limit" ||
               a == "--traces") {
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
      } else if (a == "--traces") {
        traces_path = v;
      } else if (!is_int || n < 0) {
        std::fprintf(stderr, "muse eval: --limit takes an integer >= 0 (got '%s')\n", v);
        return 2;
      } else {
        limit = n;
      }
    } else if (a == "--json") {
      json = true;
    } else if (int c = parse_contemplate_flag("eval", argc, argv, &i, &o); c != 0) {
      if (c == -1) return 2;
      if (a != "--budget" && a != "--answer-tokens" && a != "--format" && a != "--think-end")
        policy_flag = a;  // applies to contemplate@N only
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
  if (!policy_flag.empty() && !method.starts_with("contemplate@")) {
    std::fprintf(stderr, "muse eval: %s applies to contemplate@N only (%s fixes its own policy)\n",
                 policy_flag.c_str(), method.c_str());
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
  // Opened before the slow part, so a bad path fails at once.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> traces(nullptr, &std::fclose);
  if (!traces_path.empty()) {
    traces.reset(std::fopen(traces_path.c_str(), "w"));
    if (!traces) {
      std::fprintf(stderr, "muse eval: cannot write %s: %s\n", traces_path.c_str(),
                   std::strerror(errno));
      return 1;
    }
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
  auto score =
      eval_items(**engine, *m, *items, o,
                 [&](size_t q, const EvalItem& item, const ContemplateResult& r, bool ok) {
                   if (traces)
                     std::fprintf(traces.get(), "%s\n", trace_line(q, item, r, ok).c_str());
                   if (json) return;
                   std::fprintf(stderr, "  %zu/%zu  %s  gold %s  got %s\n", q + 1, items->size(),
                                ok ? "ok " : "bad", item.gold.c_str(),
                                r.answer.empty() ? "(none)" : r.answer.c_str());
                 });
  if (traces && std::fclose(traces.release()) != 0 && score.ok())
    score = Errorf("%s: write failed: %s", traces_path.c_str(), std::strerror(errno));
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
