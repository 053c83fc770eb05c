// `muse bench --shared-prompt P --branches 1,4,8,16 --gen G`: the parallel runtime's
// throughput, as Contemplating uses it. For each branch count N: one P-token prompt is
// prefilled (prefix cache cleared, so it is cold), N branches are forked from it and each
// generates G tokens, all decoded together in one batch per step. Reports prefill t/s, time
// to first token, aggregate decode t/s (N·G tokens over the decode time) and the KV
// positions held at the peak (P + N·(G-1) plus page rounding: the last sampled token is
// never evaluated). Comparable to llama.cpp's `llama-batched-bench -pps`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "model/context.h"
#include "model/model.h"
#include "runtime/engine.h"

namespace muse::cli {
namespace {

struct Options {
  std::string model;
  int threads = ThreadPool::default_threads();
  int n_prompt = 256;
  int n_gen = 64;
  std::vector<int> branches = {1, 4, 8, 16};
  int reps = 3;
  int page_size = 16;
  std::string kv_type = "f16";
  bool json = false;
  bool no_mmap = false;
};

void print_help() {
  std::printf(
      "usage: muse bench -m MODEL --shared-prompt P [--branches N1,N2,...] [--gen G]\n"
      "                  [-t THREADS] [-r REPS] [--kv-type T] [--page-size S] [--no-mmap]\n"
      "                  [--json]\n\n"
      "Parallel decoding through the engine: a cold P-token prompt (default 256) is\n"
      "prefilled once, then N branches (default 1,4,8,16) forked from it generate G tokens\n"
      "each (default 64; temperature 0.8, top-k 40, seeds 1..N, end-of-generation ignored),\n"
      "decoded together. Per N: prefill t/s, time to first token, aggregate decode t/s\n"
      "(N*G / decode time) and KV positions at the peak. Medians of REPS runs (default 3)\n"
      "after a warm-up. --json prints {\"results\": [{\"branches\": n, \"prefill_tps\": ..,\n"
      "\"decode_tps\": .., \"kv_positions\": ..}, ...]} with more fields.\n");
}

bool parse_int(const char* s, int lo, int hi, int* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (!s[0] || *end || v < lo || v > hi) return false;
  *out = int(v);
  return true;
}

bool parse_list(const std::string& s, std::vector<int>* out) {
  out->clear();
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = std::min(s.find(',', start), s.size());
    int v = 0;
    if (!parse_int(s.substr(start, comma - start).c_str(), 1, 256, &v)) return false;
    out->push_back(v);
    start = comma + 1;
  }
  return !out->empty();
}

int parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto int_opt = [&](int lo, int hi, int* out) {
      const char* v = value();
      if (v && parse_int(v, lo, hi, out)) return true;
      std::fprintf(stderr, "muse bench: %s takes an integer from %d to %d\n", a.c_str(), lo, hi);
      return false;
    };
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "-m" || a == "--model") {
      const char* v = value();
      if (!v) {
        std::fprintf(stderr, "muse bench: -m needs a value\n");
        return 2;
      }
      o->model = v;
    } else if (a == "--shared-prompt") {
      if (!int_opt(1, 1 << 16, &o->n_prompt)) return 2;
    } else if (a == "--gen" || a == "-n") {
      if (!int_opt(1, 1 << 16, &o->n_gen)) return 2;
    } else if (a == "--branches") {
      const char* v = value();
      if (!v || !parse_list(v, &o->branches)) {
        std::fprintf(stderr, "muse bench: --branches takes a list like 1,4,8,16 (each 1..256)\n");
        return 2;
      }
    } else if (a == "-t" || a == "--threads") {
      if (!int_opt(1, 1024, &o->threads)) return 2;
    } else if (a == "-r" || a == "--reps") {
      if (!int_opt(1, 1000, &o->reps)) return 2;
    } else if (a == "--page-size") {
      if (!int_opt(16, 4096, &o->page_size)) return 2;
    } else if (a == "--kv-type") {
      const char* v = value();
      if (!v) {
        std::fprintf(stderr, "muse bench: --kv-type needs a value\n");
        return 2;
      }
      o->kv_type = v;
    } else if (a == "--json") {
      o->json = true;
    } else if (a == "--no-mmap") {
      o->no_mmap = true;
    } else {
      std::fprintf(stderr, "muse bench: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (o->model.empty()) {
    std::fprintf(stderr, "muse bench: no model given (-m MODEL)\n");
    return 2;
  }
  return -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Run {
  double prefill_s = 0, ttft_s = 0, decode_s = 0;
  int64_t kv_positions = 0, kv_pages = 0;
};

// One prompt, N branches of G tokens. Errors end the process: a benchmark has no recovery.
Run run_once(Engine& e, const std::vector<int32_t>& prompt, int n_branches, int n_gen) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "muse bench: %s\n", s.message().c_str());
    std::exit(1);
  };
  using Clock = std::chrono::steady_clock;
  e.clear_prefix_cache();
  Run r;
  const auto t0 = Clock::now();
  auto parent = e.submit({.prompt = prompt, .gen = {.max_tokens = 0}});
  if (!parent.ok()) fail(parent.status());
  while (!e.idle())
    if (auto ev = e.step(); !ev.ok()) fail(ev.status());
  const auto t1 = Clock::now();
  std::vector<GenParams> gens;
  for (int i = 0; i < n_branches; ++i)
    gens.push_back(
        {.sampling = {.seed = uint64_t(i + 1)}, .max_tokens = n_gen, .ignore_eos = true});
  auto kids = e.fork(*parent, gens);
  if (!kids.ok()) fail(kids.status());
  if (Status s = e.cancel(*parent); !s.ok()) fail(s);
  bool first = true;
  while (!e.idle()) {
    auto ev = e.step();
    if (!ev.ok()) fail(ev.status());
    if (first && !ev->empty()) {
      r.ttft_s = std::chrono::duration<double>(Clock::now() - t0).count();
      first = false;
    }
    const EngineStats st = e.stats();
    if (st.kv_positions > r.kv_positions) {
      r.kv_positions = st.kv_positions;
      r.kv_pages = st.pages_referenced;
    }
  }
  const auto t2 = Clock::now();
  r.prefill_s = std::chrono::duration<double>(t1 - t0).count();
  r.decode_s = std::chrono::duration<double>(t2 - t1).count();
  return r;
}

}  // namespace

int cmd_bench_parallel(int argc, char** argv) {
  Options opt;
  if (int rc = parse(argc, argv, &opt); rc >= 0) return rc;
  auto kv_type = parse_kv_type(opt.kv_type);
  if (!kv_type.ok()) {
    std::fprintf(stderr, "muse bench: %s\n", kv_type.status().message().c_str());
    return 2;
  }
  auto model = Model::load(opt.model, {.mmap = !opt.no_mmap});
  if (!model.ok()) {
    std::fprintf(stderr, "muse bench: %s\n", model.status().message().c_str());
    return 1;
  }
  const Model& m = **model;
  const ModelConfig& c = m.config();
  const int max_branches = *std::max_element(opt.branches.begin(), opt.branches.end());
  const int64_t n_ctx = opt.n_prompt + opt.n_gen + 1;
  const int64_t pages_per_seq = (n_ctx + opt.page_size - 1) / opt.page_size;
  ThreadPool pool(opt.threads);
  auto engine = Engine::create(m, pool,
                               {.n_ctx = n_ctx,
                                .n_batch = std::max(opt.n_prompt, max_branches),
                                .n_pages = pages_per_seq * (max_branches + 1),
                                .page_size = opt.page_size,
                                .kv_type = *kv_type});
  if (!engine.ok()) {
    std::fprintf(stderr, "muse bench: %s\n", engine.status().message().c_str());
    return 1;
  }
  std::mt19937 rng(42);
  std::vector<int32_t> prompt(size_t(opt.n_prompt));
  for (int32_t& t : prompt) t = int32_t(rng() % uint32_t(c.n_vocab));

  struct Row {
    int branches;
    double prefill_tps, ttft_ms, decode_tps;
    int64_t kv_positions, kv_pages;
  };
  std::vector<Row> rows;
  for (int n : opt.branches) {
    std::vector<double> prefill, ttft, decode;
    Run last;
    for (int rep = 0; rep <= opt.reps; ++rep) {  // rep 0 warms caches and faults pages in
      last = run_once(**engine, prompt, n, opt.n_gen);
      if (rep == 0) continue;
      prefill.push_back(opt.n_prompt / last.prefill_s);
      ttft.push_back(last.ttft_s * 1e3);
      decode.push_back(double(n) * opt.n_gen / last.decode_s);
    }
    rows.push_back(
        {n, median(prefill), median(ttft), median(decode), last.kv_positions, last.kv_pages});
  }

  const size_t kv_bytes = (*engine)->kv_cache().bytes_per_token();
  if (opt.json) {
    std::printf(
        "{\"model\": \"%s\", \"threads\": %d, \"kv_type\": \"%s\", \"shared_prompt\": %d, "
        "\"gen\": %d, \"page_size\": %d, \"kv_bytes_per_token\": %zu, \"results\": [",
        opt.model.c_str(), opt.threads, opt.kv_type.c_str(), opt.n_prompt, opt.n_gen, opt.page_size,
        kv_bytes);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::printf(
          "%s{\"branches\": %d, \"prefill_tps\": %.2f, \"ttft_ms\": %.2f, \"decode_tps\": %.2f, "
          "\"kv_positions\": %lld, \"kv_pages\": %lld}",
          i ? ", " : "", r.branches, r.prefill_tps, r.ttft_ms, r.decode_tps,
          (long long)r.kv_positions, (long long)r.kv_pages);
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("model      %s (%s)\n", opt.model.c_str(), c.arch.c_str());
  std::printf("threads    %d, KV cache %s, %zu bytes per position, pages of %d\n", opt.threads,
              opt.kv_type.c_str(), kv_bytes, opt.page_size);
  std::printf("prompt    %d shared tokens, %d generated per branch\n\n", opt.n_prompt, opt.n_gen);
  std::printf(
      "| branches | prefill t/s | TTFT ms | decode t/s (all) | per branch | KV positions "
      "| KV MiB |\n");
  std::printf(
      "|---------:|------------:|--------:|-----------------:|-----------:|-------------:"
      "|-------:|\n");
  for (const Row& r : rows) {
    std::printf("| %8d | %11.1f | %7.1f | %16.1f | %10.1f | %12lld | %6.2f |\n", r.branches,
                r.prefill_tps, r.ttft_ms, r.decode_tps, r.decode_tps / r.branches,
                (long long)r.kv_positions, double(r.kv_positions) * kv_bytes / 1048576.0);
  }
  std::printf("\nmedians of %d repetitions after one warm-up; KV positions at the peak.\n",
              opt.reps);
  return 0;
}

}  // namespace muse::cli
