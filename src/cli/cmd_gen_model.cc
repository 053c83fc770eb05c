// `muse gen-model`: flags -> GenModelOptions -> model/gen_model. Flags take `--flag value`
// or `--flag=value`; every number is parsed strictly so `--n-embd 1k` is an error, not 1.
// Exit codes: 0 written, 1 the model could not be made or written, 2 usage error.
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "model/gen_model.h"

namespace muse::cli {
namespace {

void print_usage(FILE* out) {
  const GenModelOptions d;
  std::fprintf(out,
               "usage: muse gen-model -o FILE [options]\n\n"
               "Writes a random-weight GGUF model (weights ~ N(0, 1/fan_in), norms = 1) with a\n"
               "small SPM tokenizer. Output depends only on the options, not on --threads.\n\n"
               "  -o, --output FILE    where to write the model (required)\n"
               "  --arch NAME          architecture (default %s)\n"
               "  --name TEXT          general.name (default muse-gen-<arch>)\n"
               "  --n-embd N           hidden size (default %" PRId64
               ")\n"
               "  --n-layer N          blocks (default %" PRId64
               ")\n"
               "  --n-head N           query heads (default %" PRId64
               ")\n"
               "  --n-head-kv N        key/value heads (default: n-head)\n"
               "  --n-ff N             FFN hidden size (default %" PRId64
               ")\n"
               "  --n-vocab N          vocabulary size, >= 259 (default %" PRId64
               ")\n"
               "  --n-ctx N            context length key (default %" PRId64
               ")\n"
               "  --type T             2-D weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1\n"
               "                       q2_K q3_K q4_K q5_K q6_K (default f32)\n"
               "  --seed N             random seed (default %" PRIu64
               ")\n"
               "  --rope-freq-base X   (default %g)\n"
               "  --rms-eps X          (default %g)\n"
               "  --threads N          worker threads (default %d)\n",
               d.arch.c_str(), d.n_embd, d.n_layer, d.n_head, d.n_ff, d.n_vocab, d.n_ctx, d.seed,
               double(d.rope_freq_base), double(d.rms_norm_eps), d.n_threads);
}

bool parse_int(const char* s, int64_t* out) {
  if (!*s) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_u64(const char* s, uint64_t* out) {
  if (!*s || *s == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_float(const char* s, float* out) {
  if (!*s) return false;
  char* end = nullptr;
  errno = 0;
  const float v = std::strtof(s, &end);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int cmd_gen_model(int argc, char** argv) {
  GenModelOptions o;
  std::string output;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      print_usage(stdout);
      return 0;
    }
    std::string value;
    const size_t eq = flag.find('=');
    if (flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "muse gen-model: %s needs a value\n", flag.c_str());
      return 2;
    }
    const char* v = value.c_str();
    bool ok = true;
    int64_t threads = o.n_threads;
    if (flag == "-o" || flag == "--output") {
      output = value;
    } else if (flag == "--arch") {
      o.arch = value;
    } else if (flag == "--name") {
      o.name = value;
    } else if (flag == "--n-embd") {
      ok = parse_int(v, &o.n_embd);
    } else if (flag == "--n-layer") {
      ok = parse_int(v, &o.n_layer);
    } else if (flag == "--n-head") {
      ok = parse_int(v, &o.n_head);
    } else if (flag == "--n-head-kv") {
      ok = parse_int(v, &o.n_head_kv);
    } else if (flag == "--n-ff") {
      ok = parse_int(v, &o.n_ff);
    } else if (flag == "--n-vocab") {
      ok = parse_int(v, &o.n_vocab);
    } else if (flag == "--n-ctx") {
      ok = parse_int(v, &o.n_ctx);
    } else if (flag == "--seed") {
      ok = parse_u64(v, &o.seed);
    } else if (flag == "--rope-freq-base") {
      ok = parse_float(v, &o.rope_freq_base);
    } else if (flag == "--rms-eps") {
      ok = parse_float(v, &o.rms_norm_eps);
    } else if (flag == "--threads") {
      ok = parse_int(v, &threads) && threads > 0 && threads <= 1024;
      o.n_threads = int(threads);
    } else if (flag == "--type") {
      const std::optional<DType> t = dtype_from_name(value);
      if (!t || !gen_model_type_allowed(*t)) {
        std::fprintf(stderr,
                     "muse gen-model: unknown --type '%s' (use f32 f16 bf16 q8_0 q4_0 q4_1 "
                     "q5_0 q5_1 q2_K q3_K q4_K q5_K q6_K)\n",
                     v);
        return 2;
      }
      o.type = *t;
    } else {
      std::fprintf(stderr, "muse gen-model: unknown option '%s'\n", flag.c_str());
      print_usage(stderr);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "muse gen-model: %s: invalid value '%s'\n", flag.c_str(), v);
      return 2;
    }
  }
  if (output.empty()) {
    std::fprintf(stderr, "muse gen-model: -o FILE is required\n");
    print_usage(stderr);
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  StatusOr<GenModelSummary> s = gen_model(o, output);
  if (!s.ok()) {
    std::fprintf(stderr, "muse gen-model: %s\n", s.status().message().c_str());
    return 1;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: %s, %" PRId64 " tensors, %" PRId64 " parameters, %" PRIu64
              " bytes of weights (%s), %.2f s\n",
              output.c_str(), o.arch.c_str(), s->n_tensors, s->n_params, s->n_bytes,
              std::string(dtype_name(o.type)).c_str(), secs);
  return 0;
}

}  // namespace muse::cli
