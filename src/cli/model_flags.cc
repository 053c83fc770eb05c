// Parsing of the shared model/sampling flags and model loading with timing on stderr.
#include "cli/model_flags.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "runtime/stop.h"

namespace muse::cli {
namespace {

bool to_int(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (!s[0] || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool to_float(const char* s, float* out) {
  char* end = nullptr;
  const float v = std::strtof(s, &end);
  if (!s[0] || *end || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace

const char* model_flags_help() {
  return "model:\n"
         "  -m, --model FILE        GGUF model\n"
         "  -t, --threads N         worker threads (default: all cores)\n"
         "  -c, --ctx-size N        context positions (default: the model's, at most 4096)\n"
         "  -b, --batch-size N      prompt tokens per forward step (default 256)\n"
         "  --kv-type T             KV cache precision: f16 (default), f32, q8_0\n"
         "  --no-mmap               read the model into memory instead of mapping it\n"
         "sampling:\n"
         "  -n, --max-tokens N      tokens to generate (default 256, -1 = until the context "
         "is full)\n"
         "  --temp T                temperature (default 0.8; 0 = greedy)\n"
         "  --top-k K               (default 40; 0 disables)\n"
         "  --top-p P               (default 0.95; 1 disables)\n"
         "  --min-p P               (default 0.05; 0 disables)\n"
         "  --repeat-penalty P      (default 1 = off), over --repeat-last-n N tokens (64)\n"
         "  --presence-penalty P    OpenAI-style, in [-2, 2] (default 0)\n"
         "  --frequency-penalty P   OpenAI-style, in [-2, 2] (default 0)\n"
         "  -s, --seed N            RNG seed (default: random, printed with -v)\n"
         "  --stop S                stop string (repeatable)\n"
         "  --ignore-eos            do not stop at end-of-generation tokens\n";
}

int parse_model_flag(const char* cmd, int argc, char** argv, int* i, ModelFlags* f) {
  const std::string a = argv[*i];
  auto value = [&]() -> const char* {
    if (*i + 1 >= argc) {
      std::fprintf(stderr, "muse %s: %s needs a value\n", cmd, a.c_str());
      return nullptr;
    }
    return argv[++*i];
  };
  auto bad = [&](const char* v, const char* what) {
    std::fprintf(stderr, "muse %s: %s takes %s (got '%s')\n", cmd, a.c_str(), what, v);
    return -1;
  };
  long n = 0;
  float x = 0;
  const char* v = nullptr;
  if (a == "-m" || a == "--model") {
    if (!(v = value())) return -1;
    f->model = v;
  } else if (a == "-t" || a == "--threads") {
    if (!(v = value())) return -1;
    if (!to_int(v, 1, 1024, &n)) return bad(v, "an integer from 1 to 1024");
    f->threads = int(n);
  } else if (a == "-c" || a == "--ctx-size") {
    if (!(v = value())) return -1;
    if (!to_int(v, 0, 1L << 24, &n)) return bad(v, "a size from 0 to 16777216");
    f->n_ctx = n;
  } else if (a == "-b" || a == "--batch-size") {
    if (!(v = value())) return -1;
    if (!to_int(v, 1, 65536, &n)) return bad(v, "an integer from 1 to 65536");
    f->n_batch = n;
  } else if (a == "--kv-type") {
    if (!(v = value())) return -1;
    f->kv_type = v;
  } else if (a == "--no-mmap") {
    f->no_mmap = true;
  } else if (a == "-n" || a == "--max-tokens") {
    if (!(v = value())) return -1;
    if (!to_int(v, -1, 1L << 30, &n)) return bad(v, "an integer >= -1");
    f->generate.max_tokens = int32_t(n);
  } else if (a == "--temp" || a == "--temperature") {
    if (!(v = value()) || !to_float(v, &x)) return v ? bad(v, "a number") : -1;
    f->sampling.temperature = x;
  } else if (a == "--top-k") {
    if (!(v = value())) return -1;
    if (!to_int(v, -1, 1L << 30, &n)) return bad(v, "an integer");
    f->sampling.top_k = int32_t(n);
  } else if (a == "--top-p") {
    if (!(v = value()) || !to_float(v, &x)) return v ? bad(v, "a number") : -1;
    f->sampling.top_p = x;
  } else if (a == "--min-p") {
    if (!(v = value()) || !to_float(v, &x)) return v ? bad(v, "a number") : -1;
    f->sampling.min_p = x;
  } else if (a == "--repeat-penalty") {
    if (!(v = value()) || !to_float(v, &x)) return v ? bad(v, "a number") : -1;
    f->sampling.repeat_penalty = x;
  } else if (a == "--repeat-last-n") {
    if (!(v = value())) return -1;
    if (!to_int(v, -1, 1L << 30, &n)) return bad(v, "an integer >= -1");
    f->sampling.repeat_last_n = int32_t(n);
  } else if (a == "--presence-penalty") {
    if (!(v = value()) || !to_float(v, &x)) return v ? bad(v, "a number") : -1;
    f->sampling.presence_penalty = x;
  } else if (a == "--frequency-penalty") {
    if (!(v = value()) || !to_float(v, &x)) return v ? bad(v, "a number") : -1;
    f->sampling.frequency_penalty = x;
  } else if (a == "-s" || a == "--seed") {
    if (!(v = value())) return -1;
    char* end = nullptr;
    const unsigned long long s = std::strtoull(v, &end, 10);
    if (!v[0] || *end || v[0] == '-') return bad(v, "a non-negative integer");
    f->sampling.seed = s;
  } else if (a == "--stop") {
    if (!(v = value())) return -1;
    f->generate.stop.push_back(v);
  } else if (a == "--ignore-eos") {
    f->generate.ignore_eos = true;
  } else {
    return 0;
  }
  return 1;
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("MUSE_MODEL"); env && *env) return env;
  const fs::path rel = "models/muse-nano.gguf";
  std::error_code ec;
  if (fs::exists(rel, ec)) return rel.string();
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path in_checkout = exe.parent_path().parent_path().parent_path() / rel;
    if (fs::exists(in_checkout, ec)) return in_checkout.string();
  }
  return "";
}

StatusOr<LoadedModel> load_model(const ModelFlags& flags, bool quiet) {
  ModelFlags f = flags;
  if (f.model.empty()) f.model = default_model_path();
  if (f.model.empty()) {
    return Errorf(
        "no model given (-m FILE), and the default models/muse-nano.gguf is not "
        "there (train it: muse train --recipe nano)");
  }
  MUSE_RETURN_IF_ERROR(validate(f.sampling));
  MUSE_RETURN_IF_ERROR(validate_stop_strings(f.generate.stop));
  auto kv_type = parse_kv_type(f.kv_type);
  if (!kv_type.ok()) return kv_type.status();

  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel m;
  MUSE_ASSIGN_OR_RETURN(m.model, Model::load(f.model, {.mmap = !f.no_mmap}));
  auto tok = Tokenizer::from_gguf(m.model->gguf());
  if (!tok.ok()) return tok.status().WithContext(f.model);
  m.tokenizer.emplace(std::move(*tok));
  m.pool = std::make_unique<ThreadPool>(f.threads);
  MUSE_ASSIGN_OR_RETURN(
      m.ctx, ModelContext::create(*m.model, *m.pool,
                                  {.n_ctx = f.n_ctx, .n_batch = f.n_batch, .kv_type = *kv_type}));
  if (!quiet) {
    const ModelConfig& c = m.model->config();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr,
                 "loaded %s: %s, %lld layers, n_embd %lld, vocab %lld, context %lld (%s KV, "
                 "%.1f MiB), %d threads, %.0f ms\n",
                 f.model.c_str(), c.arch.c_str(), (long long)c.n_layer, (long long)c.n_embd,
                 (long long)c.n_vocab, (long long)m.ctx->n_ctx(), f.kv_type.c_str(),
                 m.ctx->kv_cache().bytes() / 1048576.0, f.threads, s * 1e3);
    for (const std::string& w : m.tokenizer->warnings())
      std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  return m;
}

StatusOr<GenerateResult> generate_to_stdout(GenerationSession& session,
                                            std::span<const int32_t> prompt, Sampler& sampler,
                                            const GenerateOptions& opts) {
  auto result = session.generate(prompt, sampler, opts, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
  std::fflush(stdout);
  return result;
}

}  // namespace muse::cli
