// gen-model's architecture tables. Names follow llama.cpp's LLM_ARCH_* tensor and key
// names (src/llama-arch.cpp) and shapes its loader (src/llama-model.cpp), in GGML order
// [ne0, ne1, ne2]; within a block, tensors are in the order llama.cpp's converters write.
#include "model/gen_model_arch.h"

namespace muse::gen_model_internal {
namespace {

using enum Dim;
using enum Kind;
using enum When;
using K = KeyValue;

// ---- llama ----

constexpr TensorSpec kLlamaHead[] = {
    {"token_embd.weight", kEmbd, kVocab, kOne, kWeight, kAlways},  // [n_embd, n_vocab]
    {"output_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},     // [n_embd]
    {"output.weight", kEmbd, kVocab, kOne, kWeight, kAlways},      // [n_embd, n_vocab]
};
constexpr TensorSpec kLlamaLayer[] = {
    {"attn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},       // [n_embd]
    {"attn_q.weight", kEmbd, kEmbd, kOne, kWeight, kAlways},       // [n_embd, n_embd]
    {"attn_k.weight", kEmbd, kEmbdKv, kOne, kWeight, kAlways},     // [n_embd, n_embd_kv]
    {"attn_v.weight", kEmbd, kEmbdKv, kOne, kWeight, kAlways},     // [n_embd, n_embd_kv]
    {"attn_output.weight", kEmbd, kEmbd, kOne, kWeight, kAlways},  // [n_embd, n_embd]
    {"ffn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},        // [n_embd]
    {"ffn_gate.weight", kEmbd, kFf, kOne, kWeight, kAlways},       // [n_embd, n_ff]
    {"ffn_up.weight", kEmbd, kFf, kOne, kWeight, kAlways},         // [n_embd, n_ff]
    {"ffn_down.weight", kFf, kEmbd, kOne, kWeight, kAlways},       // [n_ff, n_embd]
};
constexpr KeySpec kLlamaKeys[] = {
    {"vocab_size", K::kVocab, kAlways},
    {"context_length", K::kCtx, kAlways},
    {"embedding_length", K::kEmbd, kAlways},
    {"block_count", K::kLayer, kAlways},
    {"feed_forward_length", K::kFf, kAlways},
    {"attention.head_count", K::kHead, kAlways},
    {"attention.head_count_kv", K::kHeadKv, kAlways},
    {"rope.dimension_count", K::kHeadDim, kAlways},
    {"rope.freq_base", K::kRopeBase, kAlways},
    {"attention.layer_norm_rms_epsilon", K::kRmsEps, kAlways},
};

// ---- Shared by the MoE architectures: embeddings first, output last ----

constexpr TensorSpec kMoeHead[] = {
    {"token_embd.weight", kEmbd, kVocab, kOne, kWeight, kAlways},  // [n_embd, n_vocab]
};
constexpr TensorSpec kMoeTail[] = {
    {"output_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},  // [n_embd]
    {"output.weight", kEmbd, kVocab, kOne, kWeight, kAlways},   // [n_embd, n_vocab]
};

// ---- qwen2moe: GQA with q/k/v biases; routed experts plus one gated shared expert ----

constexpr TensorSpec kQwen2MoeLayer[] = {
    {"attn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},             // [n_embd]
    {"attn_q.weight", kEmbd, kEmbd, kOne, kWeight, kAlways},             // [n_embd, n_embd]
    {"attn_k.weight", kEmbd, kEmbdKv, kOne, kWeight, kAlways},           // [n_embd, n_embd_kv]
    {"attn_v.weight", kEmbd, kEmbdKv, kOne, kWeight, kAlways},           // [n_embd, n_embd_kv]
    {"attn_q.bias", kEmbd, kOne, kOne, kBias, kAlways},                  // [n_embd]
    {"attn_k.bias", kEmbdKv, kOne, kOne, kBias, kAlways},                // [n_embd_kv]
    {"attn_v.bias", kEmbdKv, kOne, kOne, kBias, kAlways},                // [n_embd_kv]
    {"attn_output.weight", kEmbd, kEmbd, kOne, kWeight, kAlways},        // [n_embd, n_embd]
    {"ffn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},              // [n_embd]
    {"ffn_gate_inp.weight", kEmbd, kExpert, kOne, kRouter, kAlways},     // [n_embd, n_expert]
    {"ffn_gate_exps.weight", kEmbd, kFfExp, kExpert, kWeight, kAlways},  // [n_embd, Fe, E]
    {"ffn_up_exps.weight", kEmbd, kFfExp, kExpert, kWeight, kAlways},    // [n_embd, Fe, E]
    {"ffn_down_exps.weight", kFfExp, kEmbd, kExpert, kWeight, kAlways},  // [Fe, n_embd, E]
    {"ffn_gate_inp_shexp.weight", kEmbd, kOne, kOne, kRouter, kAlways},  // [n_embd]
    {"ffn_gate_shexp.weight", kEmbd, kFfShexp, kOne, kWeight, kAlways},  // [n_embd, Fsh]
    {"ffn_up_shexp.weight", kEmbd, kFfShexp, kOne, kWeight, kAlways},    // [n_embd, Fsh]
    {"ffn_down_shexp.weight", kFfShexp, kEmbd, kOne, kWeight, kAlways},  // [Fsh, n_embd]
};
constexpr KeySpec kQwen2MoeKeys[] = {
    {"context_length", K::kCtx, kAlways},
    {"embedding_length", K::kEmbd, kAlways},
    {"block_count", K::kLayer, kAlways},
    {"feed_forward_length", K::kFf, kAlways},
    {"attention.head_count", K::kHead, kAlways},
    {"attention.head_count_kv", K::kHeadKv, kAlways},
    {"rope.freq_base", K::kRopeBase, kAlways},
    {"attention.layer_norm_rms_epsilon", K::kRmsEps, kAlways},
    {"expert_count", K::kExpertCount, kAlways},
    {"expert_used_count", K::kExpertUsed, kAlways},
    {"expert_feed_forward_length", K::kFfExp, kAlways},
    {"expert_shared_feed_forward_length", K::kFfShexp, kAlways},
};

// ---- qwen3moe: GQA without biases, RMS-normed q and k per head; routed experts only ----

constexpr TensorSpec kQwen3MoeLayer[] = {
    {"attn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},             // [n_embd]
    {"attn_q.weight", kEmbd, kEmbd, kOne, kWeight, kAlways},             // [n_embd, H * Dh]
    {"attn_k.weight", kEmbd, kEmbdKv, kOne, kWeight, kAlways},           // [n_embd, Hkv * Dh]
    {"attn_v.weight", kEmbd, kEmbdKv, kOne, kWeight, kAlways},           // [n_embd, Hkv * Dh]
    {"attn_q_norm.weight", kHeadDim, kOne, kOne, kNorm, kAlways},        // [Dh]
    {"attn_k_norm.weight", kHeadDim, kOne, kOne, kNorm, kAlways},        // [Dh]
    {"attn_output.weight", kEmbd, kEmbd, kOne, kWeight, kAlways},        // [H * Dh, n_embd]
    {"ffn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},              // [n_embd]
    {"ffn_gate_inp.weight", kEmbd, kExpert, kOne, kRouter, kAlways},     // [n_embd, n_expert]
    {"ffn_gate_exps.weight", kEmbd, kFfExp, kExpert, kWeight, kAlways},  // [n_embd, Fe, E]
    {"ffn_up_exps.weight", kEmbd, kFfExp, kExpert, kWeight, kAlways},    // [n_embd, Fe, E]
    {"ffn_down_exps.weight", kFfExp, kEmbd, kExpert, kWeight, kAlways},  // [Fe, n_embd, E]
};
constexpr KeySpec kQwen3MoeKeys[] = {
    {"context_length", K::kCtx, kAlways},
    {"embedding_length", K::kEmbd, kAlways},
    {"block_count", K::kLayer, kAlways},
    {"feed_forward_length", K::kFf, kAlways},
    {"attention.head_count", K::kHead, kAlways},
    {"attention.head_count_kv", K::kHeadKv, kAlways},
    {"rope.freq_base", K::kRopeBase, kAlways},
    {"attention.layer_norm_rms_epsilon", K::kRmsEps, kAlways},
    {"expert_count", K::kExpertCount, kAlways},
    {"expert_used_count", K::kExpertUsed, kAlways},
    {"expert_feed_forward_length", K::kFfExp, kAlways},
    {"attention.key_length", K::kHeadDim, kAlways},
    {"attention.value_length", K::kHeadDim, kAlways},
};

// ---- deepseek2 and muse: MLA (DeepSeek-V2), leading dense blocks, routed + shared
// experts (DeepSeek-V3's sigmoid gating adds the selection bias exp_probs_b) ----

constexpr TensorSpec kDeepseek2Layer[] = {
    {"attn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},            // [n_embd]
    {"attn_q_a.weight", kEmbd, kQLora, kOne, kWeight, kLowRankQ},       // [n_embd, q_lora]
    {"attn_q_a_norm.weight", kQLora, kOne, kOne, kNorm, kLowRankQ},     // [q_lora]
    {"attn_q_b.weight", kQLora, kMlaQ, kOne, kWeight, kLowRankQ},       // [q_lora, H*(nope+rope)]
    {"attn_q.weight", kEmbd, kMlaQ, kOne, kWeight, kFullRankQ},         // [n_embd, H*(nope+rope)]
    {"attn_kv_a_mqa.weight", kEmbd, kMlaKvA, kOne, kWeight, kAlways},   // [n_embd, kv_lora+rope]
    {"attn_kv_a_norm.weight", kKvLora, kOne, kOne, kNorm, kAlways},     // [kv_lora]
    {"attn_kv_b.weight", kKvLora, kMlaKvB, kOne, kWeight, kAlways},     // [kv_lora, H*(nope+v)]
    {"attn_output.weight", kMlaV, kEmbd, kOne, kWeight, kAlways},       // [H * v, n_embd]
    {"ffn_norm.weight", kEmbd, kOne, kOne, kNorm, kAlways},             // [n_embd]
    {"ffn_gate.weight", kEmbd, kFf, kOne, kWeight, kDenseBlock},        // [n_embd, n_ff]
    {"ffn_up.weight", kEmbd, kFf, kOne, kWeight, kDenseBlock},          // [n_embd, n_ff]
    {"ffn_down.weight", kFf, kEmbd, kOne, kWeight, kDenseBlock},        // [n_ff, n_embd]
    {"ffn_gate_inp.weight", kEmbd, kExpert, kOne, kRouter, kMoeBlock},  // [n_embd, E]
    {"exp_probs_b.bias", kExpert, kOne, kOne, kBias, kSigmoidBlock},    // [E]
    {"ffn_gate_exps.weight", kEmbd, kFfExp, kExpert, kWeight, kMoeBlock},     // [n_embd, Fe, E]
    {"ffn_up_exps.weight", kEmbd, kFfExp, kExpert, kWeight, kMoeBlock},       // [n_embd, Fe, E]
    {"ffn_down_exps.weight", kFfExp, kEmbd, kExpert, kWeight, kMoeBlock},     // [Fe, n_embd, E]
    {"ffn_gate_shexp.weight", kEmbd, kFfShexp, kOne, kWeight, kSharedBlock},  // [n_embd, Fsh]
    {"ffn_up_shexp.weight", kEmbd, kFfShexp, kOne, kWeight, kSharedBlock},    // [n_embd, Fsh]
    {"ffn_down_shexp.weight", kFfShexp, kEmbd, kOne, kWeight, kSharedBlock},  // [Fsh, n_embd]
};
constexpr KeySpec kDeepseek2Keys[] = {
    {"context_length", K::kCtx, kAlways},
    {"embedding_length", K::kEmbd, kAlways},
    {"block_count", K::kLayer, kAlways},
    {"feed_forward_length", K::kFf, kAlways},
    {"attention.head_count", K::kHead, kAlways},
    {"attention.head_count_kv", K::kHead, kAlways},  // MLA: every head has its own k and v
    {"rope.freq_base", K::kRopeBase, kAlways},
    {"attention.layer_norm_rms_epsilon", K::kRmsEps, kAlways},
    {"expert_count", K::kExpertCount, kAlways},
    {"expert_used_count", K::kExpertUsed, kAlways},
    {"expert_feed_forward_length", K::kFfExp, kAlways},
    {"leading_dense_block_count", K::kLeadingDense, kAlways},
    {"expert_shared_count", K::kExpertShared, kAlways},
    {"expert_weights_scale", K::kExpertWeightsScale, kAlways},
    {"expert_weights_norm", K::kExpertWeightsNorm, kAlways},
    {"expert_gating_func", K::kExpertGating, kAlways},
    {"attention.kv_lora_rank", K::kKvLora, kAlways},
    {"attention.q_lora_rank", K::kQLora, kLowRankQ},  // llama.cpp: absent means full rank
    {"rope.scaling.yarn_log_multiplier", K::kZero, kAlways},
    {"attention.key_length", K::kMlaKeyLength, kAlways},
    {"attention.value_length", K::kVHeadDim, kAlways},
    {"rope.dimension_count", K::kQkRope, kAlways},
};
// ARCHITECTURE.md section 5: deepseek2's blocks; q_lora_rank always present (0 = full rank).
constexpr KeySpec kMuseKeys[] = {
    {"context_length", K::kCtx, kAlways},
    {"embedding_length", K::kEmbd, kAlways},
    {"block_count", K::kLayer, kAlways},
    {"feed_forward_length", K::kFf, kAlways},
    {"attention.head_count", K::kHead, kAlways},
    {"attention.head_count_kv", K::kHead, kAlways},
    {"rope.freq_base", K::kRopeBase, kAlways},
    {"attention.layer_norm_rms_epsilon", K::kRmsEps, kAlways},
    {"expert_count", K::kExpertCount, kAlways},
    {"expert_used_count", K::kExpertUsed, kAlways},
    {"expert_feed_forward_length", K::kFfExp, kAlways},
    {"leading_dense_block_count", K::kLeadingDense, kAlways},
    {"expert_shared_count", K::kExpertShared, kAlways},
    {"expert_weights_scale", K::kExpertWeightsScale, kAlways},
    {"expert_weights_norm", K::kExpertWeightsNorm, kAlways},
    {"expert_gating_func", K::kExpertGating, kAlways},
    {"attention.kv_lora_rank", K::kKvLora, kAlways},
    {"attention.q_lora_rank", K::kQLora, kAlways},
    {"attention.key_length", K::kMlaKeyLength, kAlways},
    {"attention.value_length", K::kVHeadDim, kAlways},
    {"rope.dimension_count", K::kQkRope, kAlways},
};

constexpr GenArchSpec kArchs[] = {
    {"llama",
     kLlamaHead,
     kLlamaLayer,
     {},
     kLlamaKeys,
     Attention::kGqa,
     Ffn::kDense,
     SharedExperts::kNone},
    {"qwen2moe", kMoeHead, kQwen2MoeLayer, kMoeTail, kQwen2MoeKeys, Attention::kGqa, Ffn::kMoe,
     SharedExperts::kGated},
    {"qwen3moe", kMoeHead, kQwen3MoeLayer, kMoeTail, kQwen3MoeKeys, Attention::kGqa, Ffn::kMoe,
     SharedExperts::kNone},
    {"deepseek2", kMoeHead, kDeepseek2Layer, kMoeTail, kDeepseek2Keys, Attention::kMla,
     Ffn::kDenseThenMoe, SharedExperts::kCount},
    {"muse", kMoeHead, kDeepseek2Layer, kMoeTail, kMuseKeys, Attention::kMla, Ffn::kDenseThenMoe,
     SharedExperts::kCount},
};

}  // namespace

std::span<const GenArchSpec> gen_archs() { return kArchs; }

const GenArchSpec* find_gen_arch(std::string_view name) {
  for (const GenArchSpec& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

Shape resolve_shape(const GenArchSpec& arch, const GenModelOptions& o) {
  Shape s{};
  s.n_embd = o.n_embd;
  s.n_head = o.n_head;
  s.n_head_kv = o.n_head_kv ? o.n_head_kv : o.n_head;
  s.head_dim = o.n_embd / o.n_head;
  s.n_ff = o.n_ff;
  s.n_vocab = o.n_vocab;
  s.n_expert = o.n_expert;
  s.n_expert_used = o.n_expert_used;
  s.n_expert_shared = o.n_expert_shared >= 0                ? o.n_expert_shared
                      : arch.shared == SharedExperts::kNone ? 0
                                                            : 1;
  s.n_ff_exp = o.n_ff_exp ? o.n_ff_exp : o.n_ff / 4;
  s.n_ff_shexp = arch.shared == SharedExperts::kGated && o.n_ff_shexp
                     ? o.n_ff_shexp
                     : s.n_ff_exp * s.n_expert_shared;
  switch (arch.ffn) {
    case Ffn::kDense:
      s.n_leading_dense = INT64_MAX;
      break;
    case Ffn::kMoe:
      s.n_leading_dense = 0;
      break;
    case Ffn::kDenseThenMoe:
      s.n_leading_dense = o.n_leading_dense;
      break;
  }
  s.q_lora_rank = o.q_lora_rank;
  s.kv_lora_rank = o.kv_lora_rank ? o.kv_lora_rank : 4 * s.head_dim;
  s.qk_nope = o.qk_nope ? o.qk_nope : s.head_dim;
  s.qk_rope = o.qk_rope ? o.qk_rope : s.head_dim / 2;
  s.v_head_dim = o.v_head_dim ? o.v_head_dim : s.head_dim;
  return s;
}

int64_t resolve(Dim d, const Shape& s) {
  switch (d) {
    case kOne:
      return 1;
    case kEmbd:
      return s.n_embd;
    case kEmbdKv:
      return s.n_head_kv * s.head_dim;
    case kHeadDim:
      return s.head_dim;
    case kFf:
      return s.n_ff;
    case kVocab:
      return s.n_vocab;
    case kExpert:
      return s.n_expert;
    case kFfExp:
      return s.n_ff_exp;
    case kFfShexp:
      return s.n_ff_shexp;
    case kQLora:
      return s.q_lora_rank;
    case kMlaQ:
      return s.n_head * (s.qk_nope + s.qk_rope);
    case kMlaKvA:
      return s.kv_lora_rank + s.qk_rope;
    case kKvLora:
      return s.kv_lora_rank;
    case kMlaKvB:
      return s.n_head * (s.qk_nope + s.v_head_dim);
    case kMlaV:
      return s.n_head * s.v_head_dim;
  }
  return 1;
}

const char* dim_option(Dim d, const GenArchSpec& arch) {
  switch (d) {
    case kOne:
      return "1";
    case kEmbd:
      return "n_embd";
    case kEmbdKv:
      return "n_embd / n_head * n_head_kv";
    case kHeadDim:
      return "n_embd / n_head";
    case kFf:
      return "n_ff";
    case kVocab:
      return "n_vocab";
    case kExpert:
      return "n_expert";
    case kFfExp:
      return "n_ff_exp";
    case kFfShexp:
      return arch.shared == SharedExperts::kGated ? "n_ff_shexp" : "n_ff_exp * n_expert_shared";
    case kQLora:
      return "q_lora_rank";
    case kMlaQ:
      return "n_head * (qk_nope + qk_rope)";
    case kMlaKvA:
      return "kv_lora_rank + qk_rope";
    case kKvLora:
      return "kv_lora_rank";
    case kMlaKvB:
      return "n_head * (qk_nope + v_head_dim)";
    case kMlaV:
      return "n_head * v_head_dim";
  }
  return "?";
}

bool holds(When w, const Shape& s, const GenModelOptions& o, int64_t layer) {
  const bool moe_block = layer >= s.n_leading_dense;
  switch (w) {
    case kAlways:
      return true;
    case kDenseBlock:
      return !moe_block;
    case kMoeBlock:
      return moe_block;
    case kSharedBlock:
      return moe_block && s.n_expert_shared > 0;
    case kSigmoidBlock:
      return moe_block && o.expert_gating == ExpertGating::kSigmoid;
    case kLowRankQ:
      return s.q_lora_rank > 0;
    case kFullRankQ:
      return s.q_lora_rank == 0;
  }
  return false;
}

}  // namespace muse::gen_model_internal
