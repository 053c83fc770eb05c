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
#include <string_view>

#include "cli/commands.h"
#include "model/gen_model.h"

namespace muse::cli {
namespace {

void print_usage(FILE* out) {
  const GenModelOptions d;
  std::string archs;
  for (std::string_view a : gen_model_archs()) {
    if (!archs.empty()) archs += ' ';
    archs += a;
  }
  std::fprintf(out,
               "usage: muse gen-model -o FILE [options]\n\n"
               "Writes a random-weight GGUF model (weights ~ N(0, 1/fan_in), norms = 1, biases\n"
               "~ N(0, 0.01^2)) with a small SPM tokenizer. Output depends only on the options,\n"
               "not on --threads.\n\n"
               "  -o, --output FILE    where to write the model (required)\n"
               "  --arch NAME          %s (default %s)\n"
               "  --name TEXT          general.name (default muse-gen-<arch>)\n"
               "  --n-embd N           hidden size (default %" PRId64
               ")\n"
               "  --n-layer N          blocks (default %" PRId64
               ")\n"
               "  --n-head N           query heads (default %" PRId64
               ")\n"
               "  --n-head-kv N        key/value heads (default: n-head; MLA ignores it)\n"
               "  --n-ff N             FFN hidden size; of the leading dense blocks for\n"
               "                       deepseek2/muse (default %" PRId64
               ")\n"
               "  --n-vocab N          vocabulary size, >= 259 (default %" PRId64
               ")\n"
               "  --n-ctx N            context length key (default %" PRId64
               ")\n"
               "  --type T             weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1\n"
               "                       q2_K q3_K q4_K q5_K q6_K (default f32). Norms, biases and\n"
               "                       routers stay f32; rows that are not whole q4_K/q5_K/q6_K\n"
               "                       blocks fall back to q5_0/q5_1/q8_0 as in llama-quantize\n"
               "  --seed N             random seed (default %" PRIu64
               ")\n"
               "  --rope-freq-base X   (default %g)\n"
               "  --rms-eps X          (default %g)\n"
               "  --threads N          worker threads (default %d)\n\n"
               "mixture of experts (qwen2moe, qwen3moe, deepseek2, muse):\n"
               "  --n-expert N         routed experts (default %" PRId64
               ")\n"
               "  --n-expert-used N    experts per token (default %" PRId64
               ")\n"
               "  --n-expert-shared N  shared experts (default 1; qwen3moe has none: 0)\n"
               "  --n-ff-exp N         hidden size of one expert (default n-ff / 4)\n"
               "  --n-ff-shexp N       qwen2moe shared expert width (default n-ff-exp *\n"
               "                       n-expert-shared)\n"
               "  --n-leading-dense N  deepseek2/muse: dense FFN blocks first (default %" PRId64
               ")\n"
               "  --expert-gating G    softmax or sigmoid (sigmoid adds exp_probs_b;\n"
               "                       deepseek2/muse only; default softmax)\n"
               "  --expert-weights-norm   renormalise the chosen experts' weights\n"
               "                       (deepseek2/muse; default off)\n"
               "  --expert-weights-scale X  routed output scale (deepseek2/muse; default %g)\n\n"
               "multi-head latent attention (deepseek2, muse; Dh = n-embd / n-head):\n"
               "  --q-lora-rank N      low-rank q (attn_q_a/attn_q_b); 0: full-rank attn_q\n"
               "                       (default %" PRId64
               ")\n"
               "  --kv-lora-rank N     latent width (default 4 * Dh)\n"
               "  --qk-nope N          per-head q/k width without RoPE (default Dh)\n"
               "  --qk-rope N          per-head q/k width with RoPE, even (default Dh / 2)\n"
               "  --v-head-dim N       per-head value width (default Dh)\n",
               archs.c_str(), d.arch.c_str(), d.n_embd, d.n_layer, d.n_head, d.n_ff, d.n_vocab,
               d.n_ctx, d.seed, double(d.rope_freq_base), double(d.rms_norm_eps), d.n_threads,
               d.n_expert, d.n_expert_used, d.n_leading_dense, double(d.expert_weights_scale),
               d.q_lora_rank);
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
    if (flag == "--expert-weights-norm") {  // the one flag without a value
      o.expert_weights_norm = true;
      continue;
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
    } else if (flag == "--n-expert") {
      ok = parse_int(v, &o.n_expert);
    } else if (flag == "--n-expert-used") {
      ok = parse_int(v, &o.n_expert_used);
    } else if (flag == "--n-expert-shared") {
      ok = parse_int(v, &o.n_expert_shared) && o.n_expert_shared >= 0;
    } else if (flag == "--n-ff-exp") {
      ok = parse_int(v, &o.n_ff_exp);
    } else if (flag == "--n-ff-shexp") {
      ok = parse_int(v, &o.n_ff_shexp);
    } else if (flag == "--n-leading-dense") {
      ok = parse_int(v, &o.n_leading_dense);
    } else if (flag == "--q-lora-rank") {
      ok = parse_int(v, &o.q_lora_rank);
    } else if (flag == "--kv-lora-rank") {
      ok = parse_int(v, &o.kv_lora_rank);
    } else if (flag == "--qk-nope") {
      ok = parse_int(v, &o.qk_nope);
    } else if (flag == "--qk-rope") {
      ok = parse_int(v, &o.qk_rope);
    } else if (flag == "--v-head-dim") {
      ok = parse_int(v, &o.v_head_dim);
    } else if (flag == "--expert-weights-scale") {
      ok = parse_float(v, &o.expert_weights_scale);
    } else if (flag == "--expert-weights-norm") {  // --expert-weights-norm=true|false
      ok = value == "true" || value == "false" || value == "1" || value == "0";
      o.expert_weights_norm = value == "true" || value == "1";
    } else if (flag == "--expert-gating") {
      if (value == "softmax") {
        o.expert_gating = ExpertGating::kSoftmax;
      } else if (value == "sigmoid") {
        o.expert_gating = ExpertGating::kSigmoid;
      } else {
        std::fprintf(stderr,
                     "muse gen-model: unknown --expert-gating '%s' (use softmax or "
                     "sigmoid)\n",
                     v);
        return 2;
      }
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
  std::string fallback;
  if (s->n_fallback > 0) {
    fallback = "; " + std::to_string(s->n_fallback) + " with rows not whole " +
               std::string(dtype_name(o.type)) + " blocks in a fallback type";
  }
  std::printf("wrote %s: %s, %" PRId64 " tensors, %" PRId64 " parameters, %" PRIu64
              " bytes of weights (%s%s), %.2f s\n",
              output.c_str(), o.arch.c_str(), s->n_tensors, s->n_params, s->n_bytes,
              std::string(dtype_name(o.type)).c_str(), fallback.c_str(), secs);
  return 0;
}

}  // namespace muse::cli
