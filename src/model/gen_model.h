// Random-weight GGUF models with real structure (`muse gen-model`): the tensors and keys
// llama.cpp expects for an architecture, a small valid SPM tokenizer, Gaussian weights.
// Invariants: output is a pure function of the options (thread count does not change a
// byte); memory stays bounded by one tensor, generated and quantized while the file is written.
//
// Dimension glossary (GGML order, ne0 first): D n_embd, H n_head, Hkv n_head_kv, Dh = D / H,
// F n_ff (dense FFN), E n_expert, Fe n_ff_exp (one routed expert), Fsh the shared expert(s),
// V n_vocab; MLA: q_lora_rank, kv_lora_rank, qk_nope + qk_rope per query/key head,
// v_head_dim per value head.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "model/arch/arch.h"  // ExpertGating

namespace muse {

struct GenModelOptions {
  std::string arch = "llama";
  std::string name;         // general.name; empty means "muse-gen-<arch>"
  int64_t n_embd = 256;     // hidden size
  int64_t n_layer = 2;      // transformer blocks
  int64_t n_head = 4;       // query heads
  int64_t n_head_kv = 0;    // key/value heads; 0 means n_head (no GQA; MLA ignores it)
  int64_t n_ff = 768;       // FFN hidden size (deepseek2/muse: of the leading dense blocks)
  int64_t n_vocab = 512;    // at least 259: 3 specials + 256 byte tokens
  int64_t n_ctx = 2048;     // context_length key
  DType type = DType::F32;  // of 2-D and 3-D weights; norms, biases and routers stay F32
  uint64_t seed = 1;
  float rope_freq_base = 10000.0f;
  float rms_norm_eps = 1e-5f;
  int n_threads = 2;  // generation/quantization workers; does not affect output

  // Mixture of experts (qwen2moe, qwen3moe, deepseek2, muse); other architectures ignore it.
  int64_t n_expert = 8;          // routed experts per MoE block
  int64_t n_expert_used = 2;     // experts chosen per token
  int64_t n_expert_shared = -1;  // always-on experts; -1: 1, or 0 for qwen3moe (it has none)
  int64_t n_ff_exp = 0;          // hidden size of one routed expert; 0: n_ff / 4
  int64_t n_ff_shexp = 0;        // qwen2moe's shared expert width; 0: n_ff_exp * n_expert_shared
  int64_t n_leading_dense = 1;   // deepseek2/muse: blocks 0 .. n-1 have a dense FFN
  ExpertGating expert_gating = ExpertGating::kSoftmax;  // sigmoid: deepseek2/muse only
  bool expert_weights_norm = false;   // deepseek2/muse: renormalise the top-k weights
  float expert_weights_scale = 1.0f;  // deepseek2/muse: routed output scale

  // Multi-head latent attention (deepseek2, muse); 0 picks the default shown.
  int64_t q_lora_rank = 0;   // 0: full-rank attn_q, no attn_q_a/attn_q_b
  int64_t kv_lora_rank = 0;  // 0: 4 * Dh
  int64_t qk_nope = 0;       // 0: Dh
  int64_t qk_rope = 0;       // 0: Dh / 2
  int64_t v_head_dim = 0;    // 0: Dh
};

struct GenModelSummary {
  int64_t n_tensors = 0;
  int64_t n_params = 0;
  uint64_t n_bytes = 0;    // tensor data, without header and padding
  int64_t n_fallback = 0;  // weights stored in a fallback type (rows not whole K-quant blocks)
};

// Architectures gen-model can write: llama, qwen2moe, qwen3moe, deepseek2, muse.
std::vector<std::string_view> gen_model_archs();

// Weight types gen-model can quantize to (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1,
// q2_K .. q6_K).
bool gen_model_type_allowed(DType t);

// Checks shapes against the architecture and the weight type; the message names the
// option at fault ("n_head 7 does not divide n_embd 256"). A weight whose rows are not
// whole blocks of `type` takes the type `muse quantize` would give it (q4_K -> q5_0,
// q5_K -> q5_1, q6_K -> q8_0, as llama-quantize does); when there is no such block type
// (rows not a multiple of 32, or q2_K/q3_K) it is an error.
Status validate_gen_model(const GenModelOptions& opts);

class GgufWriter;

// One tensor of the model gen-model writes, in file order.
struct GenTensorInfo {
  std::string name;
  int64_t ne[3] = {1, 1, 1};       // GGML order: ne[0] is the contiguous (input) dimension
  DType type = DType::F32;         // as written: --type or its fallback for weights, else F32
  bool is_norm = false;            // initialised to ones
  bool is_weight = false;          // a matrix (or stack of expert matrices) quantized to --type
  bool is_selection_bias = false;  // exp_probs_b: shifts expert selection, has no gradient
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2]; }
};

// The tensors `gen_model(opts, ...)` writes; the options must pass validate_gen_model.
StatusOr<std::vector<GenTensorInfo>> gen_model_tensors(const GenModelOptions& opts);

// What a trained model supplies in place of random values.
struct GenModelData {
  // fp32 values of the named tensor in GGML order (n_elements() floats); called once per
  // tensor while the file is written. Unset: Gaussian weights as usual.
  std::function<std::span<const float>(const std::string& name)> tensor;
  // Writes every tokenizer.* key (the trained vocabulary and chat template). Unset: the
  // small SPM tokenizer of random models.
  std::function<void(GgufWriter*)> tokenizer;
};

// Validates, then writes the model to `path` (atomically: via `<path>.tmp`).
StatusOr<GenModelSummary> gen_model(const GenModelOptions& opts, const std::string& path,
                                    const GenModelData& data = {});

}  // namespace muse
