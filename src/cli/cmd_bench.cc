// `muse bench`: llama-bench-like throughput of a model's real forward pass: prompt
// processing (pp: N tokens in one step) and text generation (tg: N single-token steps),
// medians over repetitions, with decode judged against the measured memory read bandwidth
// (weight bytes per token x tokens/s / bandwidth: the fraction of the physical limit).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kernels/membw.h"
#include "model/context.h"
#include "model/model.h"

namespace muse::cli {
namespace {

struct BenchOptions {
  std::string model;
  int threads = ThreadPool::default_threads();
  int n_prompt = 128;
  int n_gen = 32;
  int reps = 5;
  std::string kv_type = "f16";
  bool json = false;
  bool no_mmap = false;
};

void print_help() {
  std::printf(
      "usage: muse bench -m MODEL [-t THREADS] [-p N] [-n N] [-r REPS] [--kv-type T]\n"
      "                  [--no-mmap] [--json]\n\n"
      "Runs the model's forward pass: ppN processes N prompt tokens in one step (default\n"
      "128, 0 skips), tgN generates N tokens one step at a time (default 32, 0 skips).\n"
      "Each test runs REPS times (default 5) after a warm-up; medians are reported. The\n"
      "decode row compares weight bytes read per token x t/s with the memory read bandwidth\n"
      "measured first. --kv-type f16|f32|q8_0 (default f16); --no-mmap reads the file into\n"
      "memory instead of mapping it.\n\n"
      "muse bench -m MODEL --shared-prompt P [--branches 1,4,8,16] [--gen G] ...\n"
      "  measures parallel decoding instead (see muse bench --shared-prompt 1 --help).\n");
}

bool parse_int(const char* s, int lo, int hi, int* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (!s[0] || *end || v < lo || v > hi) return false;
  *out = int(v);
  return true;
}

int parse(int argc, char** argv, BenchOptions* o) {
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
    } else if (a == "-t" || a == "--threads") {
      if (!int_opt(1, 1024, &o->threads)) return 2;
    } else if (a == "-p" || a == "--n-prompt") {
      if (!int_opt(0, 1 << 20, &o->n_prompt)) return 2;
    } else if (a == "-n" || a == "--n-gen") {
      if (!int_opt(0, 1 << 20, &o->n_gen)) return 2;
    } else if (a == "-r" || a == "--reps") {
      if (!int_opt(1, 1000, &o->reps)) return 2;
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

struct Result {
  std::string test;
  int tokens;
  double seconds;  // median
  double bw_fraction = -1.0;
};

}  // namespace

int cmd_bench(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--shared-prompt") return cmd_bench_parallel(argc, argv);
  BenchOptions opt;
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
  const ModelWeights& w = m.weights();
  // A decode step reads every matrix once (of MoE layers only the routed experts);
  // token_embd only one row unless tied to the output.
  const uint64_t decode_bytes = w.n_bytes_per_token;
  const KvFootprint kv = kv_footprint(m, *kv_type);
  uint64_t n_params = 0;
  for (const GgufTensor& t : m.gguf().tensors()) n_params += uint64_t(t.n_elements());

  ThreadPool pool(opt.threads);
  const BandwidthResult bw = measure_read_bandwidth(pool);
  const int n_ctx = std::max(opt.n_prompt, opt.n_gen + 1);
  auto ctx = ModelContext::create(
      m, pool, {.n_ctx = n_ctx, .n_batch = std::max(opt.n_prompt, 1), .kv_type = *kv_type});
  if (!ctx.ok()) {
    std::fprintf(stderr, "muse bench: %s\n", ctx.status().message().c_str());
    return 1;
  }
  std::mt19937 rng(42);
  std::vector<int32_t> tokens(size_t(std::max(opt.n_prompt, opt.n_gen + 1)));
  for (int32_t& t : tokens) t = int32_t(rng() % uint32_t(c.n_vocab));

  auto timed = [&](auto&& body) {
    std::vector<double> times;
    for (int rep = 0; rep <= opt.reps; ++rep) {  // rep 0 warms caches and faults pages in
      (*ctx)->rewind(0);
      const auto t0 = std::chrono::steady_clock::now();
      if (Status s = body(); !s.ok()) {
        std::fprintf(stderr, "muse bench: %s\n", s.message().c_str());
        std::exit(1);
      }
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (rep > 0) times.push_back(sec);
    }
    return median(times);
  };
  std::vector<Result> results;
  if (opt.n_prompt > 0) {
    const double s = timed([&] {
      return (*ctx)->eval(std::span<const int32_t>(tokens.data(), size_t(opt.n_prompt)));
    });
    results.push_back({"pp" + std::to_string(opt.n_prompt), opt.n_prompt, s});
  }
  if (opt.n_gen > 0) {
    const double s = timed([&] {
      for (int i = 0; i < opt.n_gen; ++i)
        MUSE_RETURN_IF_ERROR((*ctx)->eval(std::span<const int32_t>(&tokens[size_t(i)], 1)));
      return Status::Ok();
    });
    Result r{"tg" + std::to_string(opt.n_gen), opt.n_gen, s};
    r.bw_fraction = double(decode_bytes) * opt.n_gen / s / bw.bytes_per_second;
    results.push_back(r);
  }

  const std::string file_type =
      std::string(dtype_name(w.layers.empty() ? w.output.w.type : w.layers[0].wo.w.type));
  if (opt.json) {
    std::printf(
        "{\"model\": \"%s\", \"arch\": \"%s\", \"type\": \"%s\", \"size_bytes\": %llu, "
        "\"n_params\": %llu, \"threads\": %d, \"kv_type\": \"%s\", "
        "\"bandwidth_gbs\": %.3f, \"decode_bytes_per_token\": %llu, "
        "\"kv_bytes_per_token\": %llu, \"results\": [",
        opt.model.c_str(), c.arch.c_str(), file_type.c_str(),
        (unsigned long long)m.gguf().file_size(), (unsigned long long)n_params, opt.threads,
        opt.kv_type.c_str(), bw.bytes_per_second / 1e9, (unsigned long long)decode_bytes,
        (unsigned long long)kv.bytes_per_token);
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      std::printf("%s{\"test\": \"%s\", \"tokens\": %d, \"ms\": %.3f, \"tps\": %.3f", i ? ", " : "",
                  r.test.c_str(), r.tokens, r.seconds * 1e3, r.tokens / r.seconds);
      if (r.bw_fraction >= 0) std::printf(", \"bw_fraction\": %.4f", r.bw_fraction);
      std::printf("}");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("model      %s (%s, %s, %.2f B params, %.1f MiB)\n", opt.model.c_str(),
              c.arch.c_str(), file_type.c_str(), n_params / 1e9, m.gguf().file_size() / 1048576.0);
  std::printf("threads    %d, KV cache %s, %llu bytes per token", opt.threads, opt.kv_type.c_str(),
              (unsigned long long)kv.bytes_per_token);
  if (kv.per_head_bytes_per_token != kv.bytes_per_token)
    std::printf(" (latent; per-head K/V would be %llu)",
                (unsigned long long)kv.per_head_bytes_per_token);
  std::printf("\n");
  std::printf("bandwidth  %.1f GB/s memory read (median of %d passes over %zu MiB)\n\n",
              bw.bytes_per_second / 1e9, bw.repetitions, bw.buffer_bytes >> 20);
  std::printf("| %-8s | %10s | %10s | %-32s |\n", "test", "ms", "t/s", "decode vs bandwidth");
  std::printf("|----------|------------|------------|----------------------------------|\n");
  for (const Result& r : results) {
    char note[64] = "";
    if (r.bw_fraction >= 0)
      std::snprintf(note, sizeof note, "%.1f MiB/token = %.0f%% of BW", decode_bytes / 1048576.0,
                    100.0 * r.bw_fraction);
    std::printf("| %-8s | %10.2f | %10.1f | %-32s |\n", r.test.c_str(), r.seconds * 1e3,
                r.tokens / r.seconds, note);
  }
  std::printf("\nmedians of %d repetitions after one warm-up.\n", opt.reps);
  return 0;
}

}  // namespace muse::cli
