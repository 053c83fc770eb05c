// `muse bench`: throughput of a model's weight matrices through the quantized kernels,
// judged against the machine's measured memory read bandwidth.
//
// Until the forward pass lands, this measures the part of a decode step that dominates it:
// one matvec through every 2-D weight matrix (what each generated token must stream from
// memory), and the same matrices with a batch of columns (prefill / batched decode).
// token_embd is a row lookup at decode time, so it is not streamed unless it is also the
// output matrix (tied embeddings).
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "kernels/membw.h"

namespace muse::cli {
namespace {

struct BenchOptions {
  std::string model;
  int threads = ThreadPool::default_threads();
  int batch = 16;
  int reps = 5;
  bool json = false;
  bool no_mmap = false;
};

void print_help() {
  std::printf(
      "usage: muse bench -m MODEL [-t THREADS] [-b BATCH] [-r REPS] [--no-mmap] [--json]\n\n"
      "Measures memory read bandwidth, then streams every weight matrix of MODEL through\n"
      "the quantized matvec (1 token, as in decode) and matmul (BATCH tokens), REPS times\n"
      "each, and reports medians. --no-mmap first copies the weights into anonymous memory\n"
      "(huge pages where the kernel allows) instead of reading the file mapping.\n");
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
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "muse bench: %s needs a value\n", what);
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (a == "-h" || a == "--help") {
      print_help();
      return 0;
    } else if (a == "-m" || a == "--model") {
      if (!(v = value("-m"))) return 2;
      o->model = v;
    } else if (a == "-t" || a == "--threads") {
      if (!(v = value("-t")) || !parse_int(v, 1, 1024, &o->threads)) {
        std::fprintf(stderr, "muse bench: -t takes a thread count from 1 to 1024\n");
        return 2;
      }
    } else if (a == "-b" || a == "--batch") {
      if (!(v = value("-b")) || !parse_int(v, 1, 4096, &o->batch)) {
        std::fprintf(stderr, "muse bench: -b takes a batch size from 1 to 4096\n");
        return 2;
      }
    } else if (a == "-r" || a == "--reps") {
      if (!(v = value("-r")) || !parse_int(v, 1, 1000, &o->reps)) {
        std::fprintf(stderr, "muse bench: -r takes a repetition count from 1 to 1000\n");
        return 2;
      }
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

struct Pass {
  int tokens;
  double seconds;  // median
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  BenchOptions opt;
  if (int rc = parse(argc, argv, &opt); rc >= 0) return rc;

  auto file = GgufFile::open(opt.model);
  if (!file.ok()) {
    std::fprintf(stderr, "muse bench: %s\n", file.status().message().c_str());
    return 1;
  }
  const bool has_output = file->find_tensor("output.weight") != nullptr;
  std::vector<QMatrix> mats;
  uint64_t weight_bytes = 0, macs_per_token = 0;
  int skipped = 0;
  for (const GgufTensor& t : file->tensors()) {
    if (t.n_dims != 2) continue;
    if (t.name == "token_embd.weight" && has_output) continue;
    const QMatrix m{t.dtype, t.data, t.ne[1], t.ne[0]};
    if (!check_matmul(m).ok()) {
      ++skipped;
      continue;
    }
    mats.push_back(m);
    weight_bytes += t.bytes;
    macs_per_token += uint64_t(t.ne[0]) * uint64_t(t.ne[1]);
  }
  if (mats.empty()) {
    std::fprintf(stderr, "muse bench: %s has no weight matrices the kernels support\n",
                 opt.model.c_str());
    return 1;
  }

  // --no-mmap: one anonymous, 2 MiB-aligned copy of all streamed matrices, so the kernel can
  // back it with transparent huge pages (a file mapping gets 4 KB pages).
  std::unique_ptr<uint8_t, decltype(&std::free)> copy(nullptr, &std::free);
  if (opt.no_mmap) {
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t total = (weight_bytes + mats.size() * 64 + kHuge - 1) / kHuge * kHuge;
    copy.reset(static_cast<uint8_t*>(std::aligned_alloc(kHuge, total)));
    if (!copy) {
      std::fprintf(stderr, "muse bench: cannot allocate %zu bytes for --no-mmap\n", total);
      return 1;
    }
    madvise(copy.get(), total, MADV_HUGEPAGE);
    size_t at = 0;
    for (QMatrix& m : mats) {
      const size_t bytes = row_bytes(m.type, m.n_k) * size_t(m.n_rows);
      std::memcpy(copy.get() + at, m.data, bytes);
      m.data = copy.get() + at;
      at += (bytes + 63) / 64 * 64;
    }
  }

  ThreadPool pool(opt.threads);
  const BandwidthResult bw = measure_read_bandwidth(pool);

  int64_t max_rows = 0, max_k = 0;
  for (const QMatrix& m : mats) {
    max_rows = std::max(max_rows, m.n_rows);
    max_k = std::max(max_k, m.n_k);
  }
  MatmulScratch scratch;
  auto run_pass = [&](int tokens) {
    std::vector<float> x(size_t(tokens) * max_k, 0.25f), y(size_t(tokens) * max_rows);
    std::vector<double> times;
    for (int rep = 0; rep < opt.reps + 1; ++rep) {  // rep 0 faults the mapping in
      const auto t0 = std::chrono::steady_clock::now();
      for (const QMatrix& m : mats) matmul(pool, scratch, m, x.data(), tokens, y.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (rep > 0) times.push_back(s);
    }
    return Pass{tokens, median(times)};
  };
  const Pass decode = run_pass(1);
  const Pass batch = run_pass(opt.batch);

  const auto arch = file->get_string_or("general.architecture", "?");
  const double gbs = double(weight_bytes) / decode.seconds / 1e9;
  const double decode_gmacs = double(macs_per_token) / decode.seconds / 1e9;
  const double batch_gmacs = double(macs_per_token) * batch.tokens / batch.seconds / 1e9;
  if (opt.json) {
    std::printf(
        "{\"model\": \"%s\", \"arch\": \"%s\", \"threads\": %d, \"bandwidth_gbs\": %.3f, "
        "\"weight_bytes\": %llu, \"matrices\": %zu, \"decode\": {\"tokens\": 1, \"ms\": %.4f, "
        "\"tps\": %.3f, \"gbs\": %.3f, \"bw_fraction\": %.4f, \"gmacs\": %.3f}, "
        "\"batch\": {\"tokens\": %d, \"ms\": %.4f, \"tps\": %.3f, \"gmacs\": %.3f}}\n",
        opt.model.c_str(), arch.ok() ? std::string(*arch).c_str() : "?", opt.threads,
        bw.bytes_per_second / 1e9, (unsigned long long)weight_bytes, mats.size(),
        decode.seconds * 1e3, 1.0 / decode.seconds, gbs, gbs * 1e9 / bw.bytes_per_second,
        decode_gmacs, batch.tokens, batch.seconds * 1e3, batch.tokens / batch.seconds, batch_gmacs);
    return 0;
  }
  std::printf("model      %s (%s)\n", opt.model.c_str(),
              arch.ok() ? std::string(*arch).c_str() : "?");
  std::printf("weights    %zu matrices, %.1f MiB streamed per token%s\n", mats.size(),
              weight_bytes / 1048576.0,
              skipped ? " (some matrices skipped: unsupported type)" : "");
  std::printf("threads    %d\n", opt.threads);
  std::printf("bandwidth  %.1f GB/s memory read (median of %d passes over %zu MiB)\n\n",
              bw.bytes_per_second / 1e9, bw.repetitions, bw.buffer_bytes >> 20);
  std::printf("| %-26s | %6s | %9s | %9s | %9s | %8s |\n", "test (weight matrices only)", "tokens",
              "ms", "t/s", "GMAC/s", "% of BW");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(28, '-').c_str(), std::string(8, '-').c_str(),
              std::string(11, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(10, '-').c_str());
  std::printf("| %-26s | %6d | %9.3f | %9.1f | %9.1f | %7.1f%% |\n", "matvec (decode step)", 1,
              decode.seconds * 1e3, 1.0 / decode.seconds, decode_gmacs,
              100.0 * gbs * 1e9 / bw.bytes_per_second);
  std::printf("| %-26s | %6d | %9.3f | %9.1f | %9.1f | %8s |\n", "matmul (batch)", batch.tokens,
              batch.seconds * 1e3, batch.tokens / batch.seconds, batch_gmacs, "-");
  std::printf("\nmedians of %d repetitions; attention, norms and sampling are not included.\n",
              opt.reps);
  return 0;
}

}  // namespace muse::cli
