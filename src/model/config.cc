// GGUF → ModelConfig through one table of (key, member, requirement) entries.
#include "model/config.h"

#include <algorithm>
#include <cstdio>

#include "kernels/attention.h"

#include <cmath>
#include <string>
#include <variant>

namespace muse {
namespace {

enum class Need { kRequired, kOptional };

// Calls v(key_suffix, member pointer, need) for every numeric field, in display order.
// Keys follow llama.cpp's `LLM_KV_*` names with the `<arch>.` prefix left out.
template <class Visitor>
void visit_config_fields(ModelConfig& c, Visitor&& v) {
  v("context_length", &c.n_ctx_train, Need::kRequired);
  v("embedding_length", &c.n_embd, Need::kRequired);
  v("block_count", &c.n_layer, Need::kRequired);
  v("feed_forward_length", &c.n_ff, Need::kRequired);
  v("attention.head_count", &c.n_head, Need::kRequired);
  v("attention.head_count_kv", &c.n_head_kv, Need::kOptional);
  v("attention.key_length", &c.head_dim_k, Need::kOptional);
  v("attention.value_length", &c.head_dim_v, Need::kOptional);
  v("attention.layer_norm_rms_epsilon", &c.rms_eps, Need::kRequired);
  v("rope.dimension_count", &c.n_rot, Need::kOptional);
  v("rope.freq_base", &c.rope_freq_base, Need::kOptional);
  v("rope.scaling.factor", &c.rope_scaling_factor, Need::kOptional);
  v("rope.scaling.attn_factor", &c.rope_attn_factor, Need::kOptional);
  v("rope.scaling.original_context_length", &c.rope_n_ctx_orig, Need::kOptional);
  v("rope.scaling.yarn_beta_fast", &c.yarn_beta_fast, Need::kOptional);
  v("rope.scaling.yarn_beta_slow", &c.yarn_beta_slow, Need::kOptional);
  v("rope.scaling.yarn_log_multiplier", &c.rope_yarn_log_mul, Need::kOptional);
  v("expert_count", &c.n_expert, Need::kOptional);
  v("expert_used_count", &c.n_expert_used, Need::kOptional);
  v("leading_dense_block_count", &c.n_leading_dense, Need::kOptional);
  v("expert_feed_forward_length", &c.n_ff_exp, Need::kOptional);
  v("expert_shared_count", &c.n_expert_shared, Need::kOptional);
  v("expert_shared_feed_forward_length", &c.n_ff_shexp, Need::kOptional);
  v("expert_group_count", &c.n_expert_groups, Need::kOptional);
  v("expert_group_used_count", &c.n_group_used, Need::kOptional);
  v("expert_weights_norm", &c.expert_weights_norm, Need::kOptional);
  v("expert_weights_scale", &c.expert_weights_scale, Need::kOptional);
  v("attention.q_lora_rank", &c.q_lora_rank, Need::kOptional);
  v("attention.kv_lora_rank", &c.kv_lora_rank, Need::kOptional);
}

template <class Visitor>
void visit_config_fields(const ModelConfig& c, Visitor&& v) {
  visit_config_fields(const_cast<ModelConfig&>(c), [&](const char* key, auto* member, Need need) {
    v(key, static_cast<const std::remove_pointer_t<decltype(member)>*>(member), need);
  });
}

}  // namespace

RopeParams ModelConfig::rope_params() const {
  RopeParams p{.style = rope_style,
               .n_rot = int(n_rot),
               .freq_base = rope_freq_base,
               .attn_factor = rope_attn_factor};
  if (rope_scaling != RopeScaling::kNone) p.freq_scale = 1.0f / rope_scaling_factor;
  if (rope_scaling == RopeScaling::kYarn) {
    p.yarn_ext_factor = 1.0f;
    p.yarn_beta_fast = yarn_beta_fast;
    p.yarn_beta_slow = yarn_beta_slow;
    p.yarn_n_ctx_orig = int(rope_n_ctx_orig > 0 ? rope_n_ctx_orig : n_ctx_train);
  }
  // DeepSeek-V2 moves YaRN's magnitude correction out of the rotation and into the softmax
  // scale (kq_scale), so the rotation cancels it here.
  if (attention == AttentionKind::kMla && rope_scaling == RopeScaling::kYarn)
    p.attn_factor = float(1.0 / (1.0 + 0.1 * std::log(double(rope_scaling_factor))));
  return p;
}

float ModelConfig::kq_scale() const {
  double scale = 1.0 / std::sqrt(double(head_dim_k));
  if (attention == AttentionKind::kMla && rope_scaling == RopeScaling::kYarn) {
    const double mscale = double(rope_attn_factor) *
                          (1.0 + double(rope_yarn_log_mul) * std::log(double(rope_scaling_factor)));
    scale *= mscale * mscale;
  }
  return float(scale);
}

StatusOr<ModelConfig> read_model_config(const GgufFile& file, const ArchSpec& spec) {
  ModelConfig c;
  auto arch = file.get_string("general.architecture");
  if (!arch.ok()) return arch.status();
  c.arch = std::string(*arch);
  c.attention = spec.attention;
  c.rope_style = spec.rope_style;
  c.expert_gating = spec.expert_gating;
  c.expert_weights_norm = spec.expert_weights_norm;

  Status status;
  visit_config_fields(c, [&](const char* suffix, auto* member, Need need) {
    if (!status.ok()) return;
    const std::string key = c.arch + "." + suffix;
    const GgufValue* value = file.find(key);
    if (value == nullptr) {
      if (need == Need::kRequired) status = Errorf("%s: missing", key.c_str());
      return;
    }
    if (value->is_array()) {
      status = Errorf("%s: per-layer arrays are not supported", key.c_str());
      return;
    }
    using T = std::remove_pointer_t<decltype(member)>;
    if constexpr (std::is_same_v<T, bool>) {
      auto b = file.get_bool(key);
      if (!b.ok())
        status = b.status();
      else
        *member = *b;
    } else if constexpr (std::is_same_v<T, float>) {
      auto f = file.get_f32(key);
      if (!f.ok())
        status = f.status();
      else
        *member = *f;
    } else {
      auto i = file.get_i64(key);
      if (!i.ok())
        status = i.status();
      else
        *member = *i;
    }
  });
  MUSE_RETURN_IF_ERROR(status);

  auto scaling = file.get_string_or(c.arch + ".rope.scaling.type", "none");
  if (!scaling.ok()) return scaling.status();
  if (*scaling == "none") {
    c.rope_scaling = RopeScaling::kNone;
  } else if (*scaling == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
  } else if (*scaling == "yarn") {
    c.rope_scaling = RopeScaling::kYarn;
  } else {
    return Errorf("%s.rope.scaling.type: unsupported scaling '%s' (supported: none, linear, yarn)",
                  c.arch.c_str(), std::string(*scaling).c_str());
  }
  // Older converters wrote only `rope.scale_linear`.
  if (const GgufValue* lin = file.find(c.arch + ".rope.scale_linear");
      lin != nullptr && c.rope_scaling == RopeScaling::kNone) {
    auto f = file.get_f32(c.arch + ".rope.scale_linear");
    if (!f.ok()) return f.status();
    if (*f != 1.0f) {
      c.rope_scaling = RopeScaling::kLinear;
      c.rope_scaling_factor = *f;
    }
  }
  if (c.rope_scaling_factor == 0.0f) c.rope_scaling_factor = 1.0f;

  if (const GgufValue* g = file.find(c.arch + ".expert_gating_func"); g != nullptr) {
    auto v = file.get_i64(c.arch + ".expert_gating_func");
    if (!v.ok()) return v.status();
    if (*v != int64_t(ExpertGating::kSoftmax) && *v != int64_t(ExpertGating::kSigmoid))
      return Errorf("%s.expert_gating_func: unsupported value %lld (1 softmax, 2 sigmoid)",
                    c.arch.c_str(), (long long)*v);
    c.expert_gating = ExpertGating(*v);
  }
  if (!spec.expert_weights_scaled) c.expert_weights_scale = 1.0f;
  // deepseek2 states shared experts as a count of expert-sized FFNs; qwen2moe states a
  // width (and files without the key have one expert-sized shared FFN).
  if (c.n_ff_shexp == 0) c.n_ff_shexp = c.n_expert_shared * c.n_ff_exp;
  if (c.n_ff_shexp == 0 && spec.shared_expert_gate != SharedExpertGate::kNone)
    c.n_ff_shexp = c.n_ff_exp;

  if (c.n_head_kv == 0) c.n_head_kv = c.n_head;
  if (c.n_head > 0 && c.head_dim_k == 0) c.head_dim_k = c.n_embd / c.n_head;
  if (c.n_head > 0 && c.head_dim_v == 0) c.head_dim_v = c.n_embd / c.n_head;
  if (c.n_rot == 0) c.n_rot = c.head_dim_k;
  return c;
}

namespace {

Status validate_moe(const ModelConfig& c) {
  const char* a = c.arch.c_str();
  if (c.n_expert <= 0 || c.n_expert > 4096)
    return Errorf("%s: expert_count %lld is not valid", a, (long long)c.n_expert);
  if (c.n_expert_used <= 0 || c.n_expert_used > c.n_expert)
    return Errorf("%s: expert_used_count %lld must be in [1, expert_count %lld]", a,
                  (long long)c.n_expert_used, (long long)c.n_expert);
  if (c.n_ff_exp <= 0 || c.n_ff_exp > (int64_t(1) << 24))
    return Errorf("%s: expert_feed_forward_length %lld is not valid", a, (long long)c.n_ff_exp);
  if (c.n_ff_shexp < 0 || c.n_ff_shexp > (int64_t(1) << 24) || c.n_expert_shared < 0)
    return Errorf("%s: shared expert width %lld is not valid", a, (long long)c.n_ff_shexp);
  if (c.n_leading_dense < 0 || c.n_leading_dense > c.n_layer)
    return Errorf("%s: leading_dense_block_count %lld must be in [0, block_count %lld]", a,
                  (long long)c.n_leading_dense, (long long)c.n_layer);
  if (c.n_expert_groups > kMaxExpertGroups)
    return Errorf("%s: expert_group_count %lld exceeds %lld", a, (long long)c.n_expert_groups,
                  (long long)kMaxExpertGroups);
  if (c.n_expert_groups > 1) {
    if (c.n_expert % c.n_expert_groups != 0)
      return Errorf("%s: expert_group_count %lld does not divide expert_count %lld", a,
                    (long long)c.n_expert_groups, (long long)c.n_expert);
    if (c.n_group_used <= 0 || c.n_group_used > c.n_expert_groups ||
        c.n_group_used * (c.n_expert / c.n_expert_groups) < c.n_expert_used)
      return Errorf("%s: expert_group_used_count %lld cannot hold expert_used_count %lld", a,
                    (long long)c.n_group_used, (long long)c.n_expert_used);
  }
  if (!std::isfinite(c.expert_weights_scale))
    return Errorf("%s: expert_weights_scale is not finite", a);
  return Status::Ok();
}

Status validate_mla(const ModelConfig& c) {
  const char* a = c.arch.c_str();
  if (c.kv_lora_rank <= 0 || c.kv_lora_rank > (int64_t(1) << 16))
    return Errorf("%s: attention.kv_lora_rank %lld is not valid", a, (long long)c.kv_lora_rank);
  if (c.q_lora_rank < 0 || c.q_lora_rank > (int64_t(1) << 16))
    return Errorf("%s: attention.q_lora_rank %lld is not valid", a, (long long)c.q_lora_rank);
  if (c.n_rot <= 0 || c.n_rot >= c.head_dim_k)
    return Errorf("%s: rope.dimension_count %lld must be in [1, key_length %lld)", a,
                  (long long)c.n_rot, (long long)c.head_dim_k);
  if (c.n_head_kv != c.n_head)
    return Errorf("%s: MLA needs head_count_kv (%lld) = head_count (%lld)", a,
                  (long long)c.n_head_kv, (long long)c.n_head);
  // Decode attends over the latent: query/key width kv_lora_rank + rope, value kv_lora_rank.
  if (c.kv_lora_rank + c.n_rot > kAttentionMaxHeadDim || c.head_dim_k > kAttentionMaxHeadDim ||
      c.head_dim_v > kAttentionMaxHeadDim)
    return Errorf("%s: kv_lora_rank %lld + rope %lld exceeds the supported head width %lld", a,
                  (long long)c.kv_lora_rank, (long long)c.n_rot, (long long)kAttentionMaxHeadDim);
  return Status::Ok();
}

}  // namespace

Status validate_model_config(const ModelConfig& c, const ArchSpec& arch) {
  const std::string& a = c.arch;
  auto positive = [&](const char* name, int64_t v) -> Status {
    if (v <= 0 || v > (int64_t(1) << 31))
      return Errorf("%s: %s = %lld is not a valid size", a.c_str(), name, (long long)v);
    return Status::Ok();
  };
  MUSE_RETURN_IF_ERROR(positive("n_ctx_train", c.n_ctx_train));
  MUSE_RETURN_IF_ERROR(positive("n_embd", c.n_embd));
  MUSE_RETURN_IF_ERROR(positive("n_layer", c.n_layer));
  MUSE_RETURN_IF_ERROR(positive("n_ff", c.n_ff));
  MUSE_RETURN_IF_ERROR(positive("n_head", c.n_head));
  MUSE_RETURN_IF_ERROR(positive("n_head_kv", c.n_head_kv));
  MUSE_RETURN_IF_ERROR(positive("head_dim_k", c.head_dim_k));
  MUSE_RETURN_IF_ERROR(positive("head_dim_v", c.head_dim_v));
  MUSE_RETURN_IF_ERROR(positive("n_vocab", c.n_vocab));
  if (c.n_head % c.n_head_kv != 0)
    return Errorf("%s: n_head_kv %lld does not divide n_head %lld", a.c_str(),
                  (long long)c.n_head_kv, (long long)c.n_head);
  if (arch.ffn == FfnKind::kMoe) MUSE_RETURN_IF_ERROR(validate_moe(c));
  if (arch.attention == AttentionKind::kMla) {
    MUSE_RETURN_IF_ERROR(validate_mla(c));
  } else {
    if (c.head_dim_k > kAttentionMaxHeadDim || c.head_dim_v > kAttentionMaxHeadDim)
      return Errorf("%s: head dimension %lld exceeds the supported %lld", a.c_str(),
                    (long long)std::max(c.head_dim_k, c.head_dim_v),
                    (long long)kAttentionMaxHeadDim);
    if (c.head_dim_k != c.head_dim_v)
      return Errorf("%s: key length %lld != value length %lld is not supported", a.c_str(),
                    (long long)c.head_dim_k, (long long)c.head_dim_v);
  }
  if (!(c.rms_eps > 0.0f) || !std::isfinite(c.rms_eps))
    return Errorf("%s: layer_norm_rms_epsilon %g must be positive", a.c_str(), double(c.rms_eps));
  if (!(c.rope_scaling_factor > 0.0f) || !std::isfinite(c.rope_scaling_factor))
    return Errorf("%s: rope.scaling.factor %g must be positive", a.c_str(),
                  double(c.rope_scaling_factor));
  return validate_rope_params(c.rope_params(), c.head_dim_k).WithContext(a);
}

std::string describe_model_config(const ModelConfig& c) {
  std::string out = "arch = " + c.arch + "\nn_vocab = " + std::to_string(c.n_vocab) + "\n";
  visit_config_fields(c, [&](const char* key, const auto* member, Need need) {
    // Absent optional features (experts, MLA ranks) would only be noise for dense models.
    if (need == Need::kOptional && *member == 0) return;
    out += std::string(key) + " = ";
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(member)>>;
    if constexpr (std::is_same_v<T, bool>) {
      out += *member ? "true" : "false";
    } else if constexpr (std::is_same_v<T, float>) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", double(*member));
      out += buf;
    } else {
      out += std::to_string(*member);
    }
    out += "\n";
  });
  static constexpr const char* kScaling[] = {"none", "linear", "yarn"};
  out += std::string("rope.scaling.type = ") + kScaling[int(c.rope_scaling)] + "\n";
  if (c.n_expert > 0)
    out += std::string("expert_gating = ") +
           (c.expert_gating == ExpertGating::kSigmoid ? "sigmoid" : "softmax") + "\n";
  out +=
      std::string("rope.style = ") + (c.rope_style == RopeStyle::NeoX ? "neox" : "normal") + "\n";
  return out;
}

}  // namespace muse
