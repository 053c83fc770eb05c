// gen-model's architectures as data: for each, the tensors (names, symbolic GGML shapes,
// how they are initialised and stored, when they exist) and the hyperparameter keys.
// gen_model.cc interprets the tables; adding an architecture is adding tables and one
// registry line in gen_model_arch.cc. Internal to model/gen_model*.cc.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "model/gen_model.h"

namespace muse::gen_model_internal {

// Every dimension an architecture can name, resolved once from the options (the glossary
// is in gen_model.h). Derived defaults (n_ff_exp 0 = n_ff / 4, ...) are applied here.
struct Shape {
  int64_t n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
  int64_t n_expert, n_expert_used, n_expert_shared, n_ff_exp, n_ff_shexp, n_leading_dense;
  int64_t q_lora_rank, kv_lora_rank, qk_nope, qk_rope, v_head_dim;
};

// Symbolic dimensions of tensors.
enum class Dim {
  kOne,
  kEmbd,     // D
  kEmbdKv,   // Hkv * Dh
  kHeadDim,  // Dh
  kFf,       // F
  kVocab,    // V
  kExpert,   // E
  kFfExp,    // Fe
  kFfShexp,  // Fsh (qwen2moe: n_ff_shexp; deepseek2: Fe * n_expert_shared)
  kQLora,    // q_lora_rank
  kMlaQ,     // H * (qk_nope + qk_rope)
  kMlaKvA,   // kv_lora_rank + qk_rope: the latent plus the shared rope key
  kKvLora,   // kv_lora_rank
  kMlaKvB,   // H * (qk_nope + v_head_dim)
  kMlaV,     // H * v_head_dim
};

// How a tensor is initialised and stored.
enum class Kind {
  kNorm,    // ones, F32
  kBias,    // N(0, 0.01^2), F32
  kWeight,  // N(0, 1/ne0), in --type (or its row-length fallback)
  kRouter,  // N(0, 1/ne0), F32: llama-quantize never quantizes what picks the experts
};

// When a tensor exists (per block) or a key is written.
enum class When {
  kAlways,
  kDenseBlock,    // block < n_leading_dense
  kMoeBlock,      // block >= n_leading_dense
  kSharedBlock,   // a MoE block, and n_expert_shared > 0
  kSigmoidBlock,  // a MoE block, and sigmoid gating (the selection bias exp_probs_b)
  kLowRankQ,      // q_lora_rank > 0
  kFullRankQ,     // q_lora_rank == 0
};

struct TensorSpec {
  const char* name;  // full name, or the part after "blk.N." for per-block tensors
  Dim ne0;           // contiguous dim (the input dim of a weight matrix)
  Dim ne1;           // kOne for vectors
  Dim ne2;           // the expert index of stacked expert weights, else kOne
  Kind kind;
  When when;
};

// What a key holds; the writer knows each one's GGUF type (u32, f32 or bool).
enum class KeyValue {
  kCtx,
  kEmbd,
  kLayer,
  kFf,
  kHead,
  kHeadKv,
  kHeadDim,
  kRopeBase,
  kRmsEps,
  kVocab,
  kExpertCount,
  kExpertUsed,
  kFfExp,
  kFfShexp,
  kLeadingDense,
  kExpertShared,
  kExpertWeightsScale,  // f32
  kExpertWeightsNorm,   // bool
  kExpertGating,        // u32: ExpertGating
  kQLora,
  kKvLora,
  kMlaKeyLength,  // qk_nope + qk_rope
  kVHeadDim,
  kQkRope,
  kZero,  // f32 0 (deepseek2's rope.scaling.yarn_log_multiplier)
};

struct KeySpec {
  const char* suffix;  // written as "<arch>.<suffix>"
  KeyValue value;
  When when;  // kAlways or kLowRankQ
};

enum class Attention { kGqa, kMla };
enum class Ffn {
  kDense,
  kMoe,           // every block
  kDenseThenMoe,  // n_leading_dense dense blocks, then MoE blocks
};
enum class SharedExperts {
  kNone,   // (qwen3moe) n_expert_shared must be 0
  kGated,  // (qwen2moe) exactly one, n_ff_shexp wide, behind a sigmoid gate; required
  kCount,  // (deepseek2) n_expert_shared of width Fe, fused into one FFN; may be 0
};

struct GenArchSpec {
  std::string_view name;
  std::span<const TensorSpec> head;   // written before the blocks
  std::span<const TensorSpec> layer;  // per block, prefixed "blk.N."
  std::span<const TensorSpec> tail;   // written after the blocks
  std::span<const KeySpec> keys;
  Attention attention;
  Ffn ffn;
  SharedExperts shared;

  bool has_key(KeyValue v) const {
    for (const KeySpec& k : keys)
      if (k.value == v) return true;
    return false;
  }
};

std::span<const GenArchSpec> gen_archs();
const GenArchSpec* find_gen_arch(std::string_view name);

// Resolves derived defaults; only meaningful for options that passed the range checks.
Shape resolve_shape(const GenArchSpec& arch, const GenModelOptions& o);
int64_t resolve(Dim d, const Shape& s);
// How the options spell a dimension, for error messages: "kv_lora_rank", "n_head * v_head_dim".
const char* dim_option(Dim d, const GenArchSpec& arch);
// Whether a tensor or key with condition `w` exists in block `layer`.
bool holds(When w, const Shape& s, const GenModelOptions& o, int64_t layer);

}  // namespace muse::gen_model_internal
