// `muse train --recipe nano|smoke`: runs a training recipe (train/recipe.h) with a progress
// line, then writes the report: the loss curve (SVG) and held-out accuracy per gym task of
// the exported model, measured through the normal inference path.
#include <unistd.h>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/eval_run.h"
#include "cli/model_flags.h"
#include "gym/gym.h"
#include "reason/tasks.h"
#include "train/recipe.h"
#include "train/report.h"

namespace muse::cli {
namespace {

void print_help() {
  std::printf(
      "usage: muse train --recipe nano|smoke [--out FILE] [--work DIR] [--report DIR]\n"
      "                  [--eval-per-task N] [-t N]\n\n"
      "  --recipe NAME      nano: muse-nano (pretraining + SFT on the gym, ~1 h on 2 cores);\n"
      "                     smoke: a tiny model in seconds (CI)\n"
      "  --out FILE         the trained model (default models/muse-<recipe>.gguf)\n"
      "  --work DIR         checkpoints; an interrupted run resumes from here\n"
      "                     (default build/train-<recipe>)\n"
      "  --report DIR       loss.svg and report.md (default: the work directory)\n"
      "  --eval-per-task N  held-out questions per gym family and level for the report\n"
      "                     (default 25; 0 skips the evaluation)\n"
      "  -t, --threads N    worker threads (default: all cores)\n");
}

struct TaskScore {
  std::string task;
  cli::EvalScore score;
};

// Greedy accuracy on the first n held-out items of every family:level.
StatusOr<std::vector<TaskScore>> evaluate(const std::string& model_path, int threads, int64_t n) {
  ModelFlags flags;
  flags.model = model_path;
  flags.threads = threads;
  auto m = load_model(flags, /*quiet=*/true);
  if (!m.ok()) return m.status();
  auto engine = make_engine(*m, flags, 1);
  if (!engine.ok()) return engine.status();
  ContemplateOptions o;
  o.effort = Effort::kThinking;
  o.temperature = 0;
  o.thinking_budget = 512;
  std::vector<TaskScore> out;
  for (std::string_view family : gym_families()) {
    for (std::string_view level : gym_levels()) {
      const std::string task = "gym:" + std::string(family) + ":" + std::string(level);
      auto items = load_task(task, "", n);
      if (!items.ok()) return items.status();
      auto score = eval_items(**engine, *m, *items, o);
      if (!score.ok()) return score.status();
      std::fprintf(stderr, "  %-20s %5.1f %%  (%" PRId64 "/%" PRId64 ")\n", task.c_str(),
                   100.0 * score->accuracy(), score->correct, score->questions);
      out.push_back({task, *score});
    }
  }
  return out;
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) return Status::Error("cannot write " + path);
  return Status::Ok();
}

}  // namespace

int cmd_train(int argc, char** argv) {
  std::string recipe_name, out, work, report_dir;
  int threads = ThreadPool::default_threads();
  long eval_n = 25, stop_after = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    auto need = [&]() {
      if (!v) std::fprintf(stderr, "muse train: %s needs a value\n", a.c_str());
      ++i;
      return v != nullptr;
    };
    auto integer = [&](long* dst, long min) {
      if (!need()) return false;
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (!*v || *end || n < min) {
        std::fprintf(stderr, "muse train: %s takes an integer >= %ld (got '%s')\n", a.c_str(), min,
                     v);
        return false;
      }
      *dst = n;
      return true;
    };
    long t = 0;
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "--recipe") {
      if (!need()) return 2;
      recipe_name = v;
    } else if (a == "--out") {
      if (!need()) return 2;
      out = v;
    } else if (a == "--work") {
      if (!need()) return 2;
      work = v;
    } else if (a == "--report") {
      if (!need()) return 2;
      report_dir = v;
    } else if (a == "--eval-per-task") {
      if (!integer(&eval_n, 0)) return 2;
    } else if (a == "--stop-after") {  // testing resume: stop with a checkpoint at this step
      if (!integer(&stop_after, 1)) return 2;
    } else if (a == "-t" || a == "--threads") {
      if (!integer(&t, 1)) return 2;
      threads = int(t);
    } else {
      std::fprintf(stderr, "muse train: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (recipe_name.empty()) {
    std::fprintf(stderr, "muse train: no recipe given (--recipe nano|smoke)\n");
    return 2;
  }
  auto recipe = find_recipe(recipe_name);
  if (!recipe.ok()) {
    std::fprintf(stderr, "muse train: %s\n", recipe.status().message().c_str());
    return 2;
  }
  if (out.empty()) out = "models/muse-" + recipe_name + ".gguf";
  if (work.empty()) work = "build/train-" + recipe_name;
  if (report_dir.empty()) report_dir = work;

  const bool tty = isatty(fileno(stderr));
  RecipeRunOptions ro{
      .out_path = out, .work_dir = work, .n_threads = threads, .stop_after = stop_after};
  int64_t last_printed = -1;
  ro.progress = [&](const ProgressInfo& p) {
    // A redrawn line on a terminal; one line per 50 steps in a log.
    if (tty) {
      std::fprintf(stderr, "\r%s\033[K", progress_line(p).c_str());
      if (p.step == p.total) std::fprintf(stderr, "\n");
    } else if (p.step / 50 != last_printed / 50 || p.step == p.total) {
      std::fprintf(stderr, "%s\n", progress_line(p, 0).c_str());
      last_printed = p.step;
    }
  };
  ro.log = [&](const std::string& line) {
    std::fprintf(stderr, "%smuse train: %s\n", tty ? "\r\033[K" : "", line.c_str());
  };
  std::fprintf(stderr, "muse train: recipe %s, %d threads, work %s\n", recipe_name.c_str(), threads,
               work.c_str());
  auto result = run_recipe(*recipe, ro);
  if (!result.ok()) {
    std::fprintf(stderr, "\nmuse train: %s\n", result.status().message().c_str());
    return 1;
  }
  if (!result->finished) {
    std::fprintf(stderr, "muse train: stopped at step %" PRId64 "; run again to resume\n",
                 result->steps);
    return 0;
  }
  std::fprintf(stderr,
               "muse train: wrote %s (%" PRId64 " parameters, %.1f MB) after %" PRId64
               " steps, %" PRId64 " trained tokens, %.0f s\n",
               out.c_str(), result->n_params, double(result->exported.n_bytes) / 1e6, result->steps,
               result->tokens, result->train_s);

  // The report.
  std::error_code ec;
  std::filesystem::create_directories(report_dir, ec);
  SvgChartOptions chart{.title = "muse-" + recipe_name + " training loss",
                        .x_label = "step",
                        .y_label = "cross-entropy (nats/token)",
                        .log_y = true};
  for (const auto& [step, name] : result->phase_starts)
    if (step > 0) chart.markers.emplace_back(step, name + " starts");
  const std::string svg = report_dir + "/loss.svg";
  if (Status s = write_file(svg, loss_chart_svg(result->loss, chart)); !s.ok()) {
    std::fprintf(stderr, "muse train: %s\n", s.message().c_str());
    return 1;
  }
  std::string md = "# muse-" + recipe_name + " training report\n\n";
  char line[512];
  std::snprintf(
      line, sizeof line,
      "- model: `%s`, %" PRId64 " parameters, vocabulary %" PRId64 ", %.1f MB\n- steps: %" PRId64
      ", trained tokens: %" PRId64 ", documents too long for a row: %" PRId64
      "\n- training time: %.0f s (%d threads)\n\n"
      "![loss](loss.svg)\n\n",
      out.c_str(), result->n_params, result->n_vocab, double(result->exported.n_bytes) / 1e6,
      result->steps, result->tokens, result->skipped_docs, result->train_s, threads);
  md += line;
  for (const LossSeries& s : result->loss) {
    if (s.points.empty()) continue;
    std::snprintf(line, sizeof line, "- %s: first loss %.3f, last %.3f\n", s.label.c_str(),
                  s.points.front().second, s.points.back().second);
    md += line;
  }
  if (eval_n > 0) {
    std::fprintf(stderr, "muse train: held-out accuracy (greedy, %ld per task)\n", eval_n);
    auto scores = evaluate(out, threads, eval_n);
    if (!scores.ok()) {
      std::fprintf(stderr, "muse train: evaluation: %s\n", scores.status().message().c_str());
      return 1;
    }
    md +=
        "\n## Held-out accuracy (greedy)\n\n| task | accuracy | questions | tokens / question |\n"
        "|---|---:|---:|---:|\n";
    for (const TaskScore& t : *scores) {
      std::snprintf(line, sizeof line, "| %s | %.1f %% | %" PRId64 " | %.0f |\n", t.task.c_str(),
                    100.0 * t.score.accuracy(), t.score.questions,
                    double(t.score.tokens) / double(std::max<int64_t>(1, t.score.questions)));
      md += line;
    }
  }
  if (Status s = write_file(report_dir + "/report.md", md); !s.ok()) {
    std::fprintf(stderr, "muse train: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "muse train: report in %s/report.md\n", report_dir.c_str());
  return 0;
}

}  // namespace muse::cli
