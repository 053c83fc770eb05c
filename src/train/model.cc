// TrainModel's parameters: the tensor list of gen-model's `muse` tables, resolved to layer
// references, and a seeded initialisation.
#include "train/model.h"

#include <cinttypes>
#include <cmath>

#include "core/splitmix.h"
#include "train/model_impl.h"

namespace muse {
namespace {

// N(0, std²) values from (seed, tensor name): independent of the tensor order.
void gaussian_fill(uint64_t seed, std::string_view name, float std, std::span<float> out) {
  uint64_t s = seed ^ fnv1a64(name);
  constexpr double kTwoPi = 6.283185307179586;
  for (size_t i = 0; i < out.size(); i += 2) {
    const double u1 = (double(splitmix64(s) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = double(splitmix64(s) >> 11) * 0x1.0p-53;
    const double mag = std * std::sqrt(-2.0 * std::log(u1));
    out[i] = float(mag * std::cos(kTwoPi * u2));
    if (i + 1 < out.size()) out[i + 1] = float(mag * std::sin(kTwoPi * u2));
  }
}

bool is_residual_output(std::string_view name) {
  return name.ends_with("attn_output.weight") || name.ends_with("ffn_down.weight") ||
         name.ends_with("ffn_down_exps.weight") || name.ends_with("ffn_down_shexp.weight");
}

TrainDims resolve_dims(const GenModelOptions& o) {
  TrainDims d;
  const int64_t head_dim = o.n_embd / o.n_head;
  d.D = o.n_embd;
  d.H = o.n_head;
  d.V = o.n_vocab;
  d.n_layer = o.n_layer;
  d.n_dense = std::min(o.n_leading_dense, o.n_layer);
  d.Q = o.q_lora_rank;
  d.C = o.kv_lora_rank ? o.kv_lora_rank : 4 * head_dim;
  d.N = o.qk_nope ? o.qk_nope : head_dim;
  d.R = o.qk_rope ? o.qk_rope : head_dim / 2;
  d.Dv = o.v_head_dim ? o.v_head_dim : head_dim;
  d.F = o.n_ff;
  d.E = o.n_expert;
  d.K = o.n_expert_used;
  d.Fe = o.n_ff_exp ? o.n_ff_exp : o.n_ff / 4;
  d.Fs = d.Fe * (o.n_expert_shared >= 0 ? o.n_expert_shared : 1);
  d.eps = o.rms_norm_eps;
  d.scale = float(1.0 / std::sqrt(double(d.N + d.R)));
  return d;
}

}  // namespace

StatusOr<TrainModel> TrainModel::create(const GenModelOptions& opts_in, uint64_t seed) {
  if (opts_in.arch != "muse") {
    return Status::Error("training supports the muse architecture, not " + opts_in.arch);
  }
  GenModelOptions opts = opts_in;
  opts.type = DType::F32;
  std::vector<GenTensorInfo> infos;
  MUSE_ASSIGN_OR_RETURN(infos, gen_model_tensors(opts));

  auto impl = std::make_unique<TrainModelImpl>();
  impl->opts = opts;
  impl->d = resolve_dims(opts);
  const TrainDims& d = impl->d;
  impl->params.reserve(infos.size());  // references below stay valid
  for (GenTensorInfo& info : infos) {
    TrainParam& p = impl->params.emplace_back();
    p.info = std::move(info);
    const size_t n = size_t(p.info.n_elements());
    p.value.resize(n);
    p.trainable = !p.info.is_selection_bias;
    p.decay = p.info.is_weight && p.info.name != "token_embd.weight";
    if (p.trainable) {
      p.grad.assign(n, 0.0f);
      p.adam_m.assign(n, 0.0f);
      p.adam_v.assign(n, 0.0f);
    }
    if (p.info.is_norm) {
      std::fill(p.value.begin(), p.value.end(), 1.0f);
    } else if (p.info.is_selection_bias) {
      std::fill(p.value.begin(), p.value.end(), 0.0f);
    } else {
      float std = 1.0f / std::sqrt(float(p.info.ne[0]));
      if (is_residual_output(p.info.name)) std /= std::sqrt(2.0f * float(opts.n_layer));
      gaussian_fill(seed, p.info.name, std, p.value);
    }
  }

  // Resolve names to layer references, checking every shape against the dimensions the pass
  // assumes (a drift between gen-model's tables and this file fails here, not in a GEMM).
  Status shape_error = Status::Ok();
  auto get = [&](const std::string& name, int64_t ne0, int64_t ne1, int64_t ne2) -> TrainParam* {
    for (TrainParam& p : impl->params) {
      if (p.info.name != name) continue;
      if (p.info.ne[0] != ne0 || p.info.ne[1] != ne1 || p.info.ne[2] != ne2) {
        shape_error = Errorf("%s has shape [%" PRId64 ", %" PRId64 ", %" PRId64
                             "]; training expects [%" PRId64 ", %" PRId64 ", %" PRId64 "]",
                             name.c_str(), p.info.ne[0], p.info.ne[1], p.info.ne[2], ne0, ne1, ne2);
      }
      return &p;
    }
    return nullptr;
  };
  impl->embd = get("token_embd.weight", d.D, d.V, 1);
  impl->out_norm = get("output_norm.weight", d.D, 1, 1);
  impl->output = get("output.weight", d.D, d.V, 1);
  for (int64_t l = 0; l < d.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerParams& L = impl->layers.emplace_back();
    L.attn_norm = get(b + "attn_norm.weight", d.D, 1, 1);
    if (d.Q > 0) {
      L.q_a = get(b + "attn_q_a.weight", d.D, d.Q, 1);
      L.q_a_norm = get(b + "attn_q_a_norm.weight", d.Q, 1, 1);
      L.q_b = get(b + "attn_q_b.weight", d.Q, d.H * (d.N + d.R), 1);
    } else {
      L.q = get(b + "attn_q.weight", d.D, d.H * (d.N + d.R), 1);
    }
    L.kv_a = get(b + "attn_kv_a_mqa.weight", d.D, d.C + d.R, 1);
    L.kv_a_norm = get(b + "attn_kv_a_norm.weight", d.C, 1, 1);
    L.kv_b = get(b + "attn_kv_b.weight", d.C, d.H * (d.N + d.Dv), 1);
    L.out = get(b + "attn_output.weight", d.H * d.Dv, d.D, 1);
    L.ffn_norm = get(b + "ffn_norm.weight", d.D, 1, 1);
    if (l < d.n_dense) {
      L.gate = get(b + "ffn_gate.weight", d.D, d.F, 1);
      L.up = get(b + "ffn_up.weight", d.D, d.F, 1);
      L.down = get(b + "ffn_down.weight", d.F, d.D, 1);
      if (!L.gate || !L.up || !L.down) return Errorf("block %" PRId64 " lacks its FFN", l);
    } else {
      L.router = get(b + "ffn_gate_inp.weight", d.D, d.E, 1);
      L.sel_bias = get(b + "exp_probs_b.bias", d.E, 1, 1);
      L.gate_exps = get(b + "ffn_gate_exps.weight", d.D, d.Fe, d.E);
      L.up_exps = get(b + "ffn_up_exps.weight", d.D, d.Fe, d.E);
      L.down_exps = get(b + "ffn_down_exps.weight", d.Fe, d.D, d.E);
      if (d.Fs > 0) {
        L.gate_sh = get(b + "ffn_gate_shexp.weight", d.D, d.Fs, 1);
        L.up_sh = get(b + "ffn_up_shexp.weight", d.D, d.Fs, 1);
        L.down_sh = get(b + "ffn_down_shexp.weight", d.Fs, d.D, 1);
      }
      if (!L.router || !L.gate_exps || !L.up_exps || !L.down_exps) {
        return Errorf("block %" PRId64 " lacks its experts", l);
      }
      impl->load.emplace_back(size_t(d.E), 0);
    }
    if (!L.attn_norm || !L.kv_a || !L.kv_a_norm || !L.kv_b || !L.out || !L.ffn_norm ||
        (d.Q > 0 ? !L.q_b : !L.q)) {
      return Errorf("block %" PRId64 " lacks an attention tensor", l);
    }
  }
  MUSE_RETURN_IF_ERROR(shape_error);
  if (!impl->embd || !impl->out_norm || !impl->output) {
    return Status::Error("the model lacks token_embd, output_norm or output");
  }
  impl->acts.resize(size_t(d.n_layer));
  return TrainModel(std::move(impl));
}

TrainModel::TrainModel(std::unique_ptr<TrainModelImpl> impl) : impl_(std::move(impl)) {}
TrainModel::TrainModel(TrainModel&&) noexcept = default;
TrainModel& TrainModel::operator=(TrainModel&&) noexcept = default;
TrainModel::~TrainModel() = default;

StatusOr<float> TrainModel::forward_backward(ThreadPool& pool, const TrainBatch& batch,
                                             float loss_scale) {
  return run(pool, batch, true, loss_scale, nullptr);
}

StatusOr<float> TrainModel::forward(ThreadPool& pool, const TrainBatch& batch,
                                    std::vector<float>* logits) {
  return run(pool, batch, false, 1.0f, logits);
}

void TrainModel::zero_grad() {
  for (TrainParam& p : impl_->params) std::fill(p.grad.begin(), p.grad.end(), 0.0f);
}

void TrainModel::update_selection_bias(float rate) {
  size_t m = 0;
  for (const LayerParams& L : impl_->layers) {
    if (!L.moe()) continue;
    std::vector<int64_t>& load = impl_->load[m++];
    if (L.sel_bias != nullptr) moe_update_bias(L.sel_bias->value, load, rate);
    std::fill(load.begin(), load.end(), 0);
  }
}

std::span<const int64_t> TrainModel::expert_load(int64_t moe_layer) const {
  return impl_->load.at(size_t(moe_layer));
}

std::vector<TrainParam>& TrainModel::params() { return impl_->params; }
const std::vector<TrainParam>& TrainModel::params() const { return impl_->params; }

TrainParam* TrainModel::find(std::string_view name) {
  for (TrainParam& p : impl_->params)
    if (p.info.name == name) return &p;
  return nullptr;
}

const GenModelOptions& TrainModel::options() const { return impl_->opts; }

int64_t TrainModel::n_params() const {
  int64_t n = 0;
  for (const TrainParam& p : impl_->params) n += p.info.n_elements();
  return n;
}

}  // namespace muse
