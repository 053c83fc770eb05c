// `muse quantize IN OUT TYPE [--threads N] [--pure] [--allow-requantize]`: flags ->
// QuantizeOptions -> quant/quantize_model. One progress line per tensor on stderr, the
// summary on stdout. Exit codes: 0 written; 1 the model could not be read, converted or
// written, or TYPE is not a known mix; 2 usage error (missing argument, unknown flag).
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "quant/quantize_model.h"
#include "threading/thread_pool.h"

namespace muse::cli {
namespace {

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: muse quantize IN OUT TYPE [options]\n\n"
               "Converts the F32/F16/BF16 weight matrices of GGUF model IN into TYPE and writes\n"
               "OUT, choosing each tensor's type with llama-quantize's rules (norms and other\n"
               "1-D tensors are copied; see src/quant/quantize_model.cc). TYPE is one of:\n");
  for (const QuantMixInfo& m : quant_mixes())
    std::fprintf(out, "  %-8s %s\n", std::string(m.name).c_str(),
                 std::string(m.description).c_str());
  std::fprintf(out,
               "  (Q4_K and Q5_K mean Q4_K_M and Q5_K_M)\n\n"
               "  --threads N          worker threads (default %d)\n"
               "  --pure               every matrix gets TYPE's base type (no upgrades)\n"
               "  --allow-requantize   convert tensors that are already quantized\n",
               ThreadPool::default_threads());
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f MiB", double(bytes) / double(1 << 20));
  return buf;
}

std::string shape_text(const TensorPlan& p) {
  std::string s = "[";
  for (int d = 0; d < p.n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(p.ne[d]);
  }
  return s + "]";
}

void print_progress(const QuantizeProgress& q) {
  const TensorPlan& p = *q.tensor;
  const int width = int(std::to_string(q.count).size());
  std::fprintf(stderr, "[%*zu/%zu] %-36s %-16s %-5s -> %-5s %10s -> %10s %6.2f s%s%s\n", width,
               q.index + 1, q.count, p.name.c_str(), shape_text(p).c_str(),
               std::string(dtype_name(p.src_type)).c_str(),
               std::string(dtype_name(p.dst_type)).c_str(), mib(p.src_bytes).c_str(),
               mib(p.dst_bytes).c_str(), q.seconds, p.note.empty() ? "" : "  ", p.note.c_str());
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  std::vector<std::string> positional;
  QuantizeOptions opts;
  int threads = ThreadPool::default_threads();
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      print_usage(stdout);
      return 0;
    }
    if (flag == "--pure") {
      opts.pure = true;
    } else if (flag == "--allow-requantize") {
      opts.allow_requantize = true;
    } else if (flag == "--threads" || flag.rfind("--threads=", 0) == 0) {
      std::string value;
      if (flag.size() > 9) {
        value = flag.substr(10);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        std::fprintf(stderr, "muse quantize: --threads needs a value\n");
        return 2;
      }
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || errno != 0 || *end != '\0' || v < 1 || v > 1024) {
        std::fprintf(stderr, "muse quantize: --threads: invalid value '%s'\n", value.c_str());
        return 2;
      }
      threads = int(v);
    } else if (flag.size() > 1 && flag[0] == '-') {
      std::fprintf(stderr, "muse quantize: unknown option '%s'\n", flag.c_str());
      print_usage(stderr);
      return 2;
    } else {
      positional.push_back(flag);
    }
  }
  if (positional.size() != 3) {
    std::fprintf(stderr, "muse quantize: expected IN OUT TYPE, got %zu argument%s\n",
                 positional.size(), positional.size() == 1 ? "" : "s");
    print_usage(stderr);
    return 2;
  }
  const std::string& in = positional[0];
  const std::string& out = positional[1];
  const std::optional<QuantMix> mix = quant_mix_from_name(positional[2]);
  if (!mix) {
    std::string names;
    for (const QuantMixInfo& m : quant_mixes()) {
      names += ' ';
      names += m.name;
    }
    std::fprintf(stderr, "muse quantize: unknown type '%s' (use%s, Q4_K or Q5_K)\n",
                 positional[2].c_str(), names.c_str());
    return 1;
  }
  opts.mix = *mix;

  ThreadPool pool(threads);
  StatusOr<QuantizeSummary> s = quantize_model(in, out, opts, pool, print_progress);
  if (!s.ok()) {
    std::fprintf(stderr, "muse quantize: %s\n", s.status().message().c_str());
    return 1;
  }
  const double bpw = s->n_elements ? 8.0 * double(s->out_data_bytes) / double(s->n_elements) : 0;
  std::printf("wrote %s (%s): %" PRId64 " tensors, %" PRId64
              " converted, %s -> %s, %.2f bits per "
              "weight, %.2f s with %d threads\n",
              out.c_str(), std::string(quant_mix_info(opts.mix).name).c_str(), s->n_tensors,
              s->n_converted, mib(s->in_file_bytes).c_str(), mib(s->out_file_bytes).c_str(), bpw,
              s->seconds, threads);
  return 0;
}

}  // namespace muse::cli
