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
  return p;
}

StatusOr<ModelConfig> read_model_config(const GgufFile& file, RopeStyle rope_style) {
  ModelConfig c;
  auto arch = file.get_string("general.architecture");
  if (!arch.ok()) return arch.status();
  c.arch = std::string(*arch);
  c.rope_style = rope_style;

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
    if constexpr (std::is_same_v<T, float>) {
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

  if (c.n_head_kv == 0) c.n_head_kv = c.n_head;
  if (c.n_head > 0 && c.head_dim_k == 0) c.head_dim_k = c.n_embd / c.n_head;
  if (c.n_head > 0 && c.head_dim_v == 0) c.head_dim_v = c.n_embd / c.n_head;
  if (c.n_rot == 0) c.n_rot = c.head_dim_k;
  return c;
}

Status validate_model_config(const ModelConfig& c) {
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
  if (c.head_dim_k > kAttentionMaxHeadDim || c.head_dim_v > kAttentionMaxHeadDim)
    return Errorf("%s: head dimension %lld exceeds the supported %lld", a.c_str(),
                  (long long)std::max(c.head_dim_k, c.head_dim_v), (long long)kAttentionMaxHeadDim);
  if (c.head_dim_k != c.head_dim_v)
    return Errorf("%s: key length %lld != value length %lld is not supported", a.c_str(),
                  (long long)c.head_dim_k, (long long)c.head_dim_v);
  if (!(c.rms_eps > 0.0f) || !std::isfinite(c.rms_eps))
    return Errorf("%s: layer_norm_rms_epsilon %g must be positive", a.c_str(), double(c.rms_eps));
  if (!(c.rope_scaling_factor > 0.0f) || !std::isfinite(c.rope_scaling_factor))
    return Errorf("%s: rope.scaling.factor %g must be positive", a.c_str(),
                  double(c.rope_scaling_factor));
  return validate_rope_params(c.rope_params(), c.head_dim_k).WithContext(a);
}

std::string describe_model_config(const ModelConfig& c) {
  std::string out = "arch = " + c.arch + "\nn_vocab = " + std::to_string(c.n_vocab) + "\n";
  visit_config_fields(c, [&](const char* key, const auto* member, Need) {
    out += std::string(key) + " = ";
    if constexpr (std::is_same_v<std::remove_cv_t<std::remove_pointer_t<decltype(member)>>,
                                 float>) {
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
  out +=
      std::string("rope.style = ") + (c.rope_style == RopeStyle::NeoX ? "neox" : "normal") + "\n";
  return out;
}

}  // namespace muse
