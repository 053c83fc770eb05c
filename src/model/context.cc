// Step orchestration: embedding, blocks layer by layer, final norm and output projection.
#include "model/context.h"

#include <algorithm>

#include "kernels/embedding.h"
#include "model/blocks/dense.h"
#include "model/blocks/mla.h"
#include "model/blocks/moe.h"

namespace muse {

KvCacheOptions kv_cache_options(const Model& model, int64_t n_ctx, DType type) {
  const ModelConfig& c = model.config();
  const bool mla = model.arch().attention == AttentionKind::kMla;
  return KvCacheOptions{.n_ctx = n_ctx,
                        .n_layer = c.n_layer,
                        .k_dim = mla ? c.kv_lora_rank + c.n_rot : c.n_head_kv * c.head_dim_k,
                        .v_dim = mla ? 0 : c.n_head_kv * c.head_dim_v,
                        .type = type};
}

KvFootprint kv_footprint(const Model& model, DType type) {
  const ModelConfig& c = model.config();
  const KvCacheOptions o = kv_cache_options(model, 1, type);
  const uint64_t L = uint64_t(c.n_layer);
  return {.bytes_per_token = L * (row_bytes(type, o.k_dim) + row_bytes(type, o.v_dim)),
          .per_head_bytes_per_token = L * (row_bytes(type, c.n_head_kv * c.head_dim_k) +
                                           row_bytes(type, c.n_head_kv * c.head_dim_v))};
}

StatusOr<std::unique_ptr<ModelContext>> ModelContext::create(const Model& model, ThreadPool& pool,
                                                             const ContextOptions& opts) {
  const ModelConfig& c = model.config();
  ContextOptions o = opts;
  if (o.n_ctx == 0) o.n_ctx = std::min<int64_t>(c.n_ctx_train, 4096);
  if (o.n_ctx < 0) return Errorf("context size %lld must be positive", (long long)o.n_ctx);
  if (o.n_batch <= 0) return Errorf("batch size %lld must be positive", (long long)o.n_batch);
  o.n_batch = std::min(o.n_batch, o.n_ctx);
  const KvCacheOptions kv = kv_cache_options(model, o.n_ctx, o.kv_type);
  MUSE_RETURN_IF_ERROR(validate_kv_cache_options(kv));
  return std::unique_ptr<ModelContext>(new ModelContext(model, pool, o, kv));
}

ModelContext::ModelContext(const Model& model, ThreadPool& pool, const ContextOptions& opts,
                           const KvCacheOptions& kv)
    : model_(model), pool_(pool), opts_(opts), kv_(kv) {
  const ModelConfig& c = model.config();
  const size_t T = size_t(opts.n_batch);
  buf_.x.resize(T * c.n_embd);
  buf_.h.resize(T * std::max(c.n_embd, c.n_head * c.head_dim_v));
  buf_.q.resize(T * c.n_head * c.head_dim_k);
  buf_.k.resize(T * kv.k_dim);
  buf_.v.resize(T * kv.v_dim);
  buf_.attn.resize(T * c.n_head * c.head_dim_v);
  buf_.gate.resize(T * c.n_ff);
  buf_.up.resize(T * c.n_ff);
  buf_.rope.resize(T * rope_table_size(int(c.n_rot)));
  buf_.pos.resize(T);
  if (kv.type == DType::Q8_0) buf_.kv_f32.resize(size_t(opts.n_ctx) * (kv.k_dim + kv.v_dim));

  if (model.arch().ffn == FfnKind::kMoe) {
    const size_t E = size_t(c.n_expert), K = size_t(c.n_expert_used), R = T * K;
    const size_t Fe = size_t(c.n_ff_exp), Fs = size_t(c.n_ff_shexp), D = size_t(c.n_embd);
    MoeBuffers& m = buf_.moe;
    m.router.resize(T * E);
    m.work.resize(2 * E);
    m.ids.resize(R);
    m.weights.resize(R);
    m.shared_gate.resize(T);
    m.count.resize(E);
    m.offset.resize(E + 1);
    m.fill.resize(E);
    m.row_of.resize(R);
    m.xe.resize(R * D);
    m.ge.resize(R * Fe);
    m.ue.resize(R * Fe);
    m.gs.resize(T * Fs);
    m.us.resize(T * Fs);
    m.acc.resize(D);
    m.jobs.reserve(2 * E + 2);
  }
  if (model.arch().attention == AttentionKind::kMla) {
    const size_t H = size_t(c.n_head), C = size_t(c.kv_lora_rank), R = size_t(c.n_rot);
    const size_t N = size_t(c.qk_nope()), Dv = size_t(c.head_dim_v);
    MlaBuffers& m = buf_.mla;
    m.q_a.resize(T * size_t(c.q_lora_rank));
    m.kv_a.resize(T * (C + R));
    m.head_in.resize(H * T * std::max(N, Dv));
    m.head_out.resize(H * T * C);
    m.q_lat.resize(T * H * (C + R));
    m.lat.resize(T * H * C);
    m.jobs.reserve(H);
  }
}

Status ModelContext::eval(std::span<const int32_t> tokens, bool all_logits) {
  const ModelConfig& c = model_.config();
  if (tokens.empty()) return Errorf("eval: no tokens");
  if (n_past_ + int64_t(tokens.size()) > n_ctx())
    return Errorf("context full: %lld positions used + %zu new tokens > context size %lld",
                  (long long)n_past_, tokens.size(), (long long)n_ctx());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
      return Errorf("token id %d at position %zu is outside the vocabulary [0, %lld)", tokens[i], i,
                    (long long)c.n_vocab);
  }
  n_logits_ = all_logits ? int64_t(tokens.size()) : 1;
  logits_.resize(size_t(n_logits_ * c.n_vocab));
  for (size_t start = 0; start < tokens.size(); start += size_t(opts_.n_batch)) {
    const size_t n = std::min(tokens.size() - start, size_t(opts_.n_batch));
    const bool last_chunk = start + n == tokens.size();
    float* out = all_logits ? &logits_[start * c.n_vocab] : (last_chunk ? logits_.data() : nullptr);
    forward(tokens.subspan(start, n), all_logits, out);
  }
  return Status::Ok();
}

void ModelContext::forward(std::span<const int32_t> tokens, bool all_logits, float* logits_out) {
  const ModelConfig& c = model_.config();
  const ModelWeights& w = model_.weights();
  const int64_t T = int64_t(tokens.size()), D = c.n_embd;

  // Ids were checked by eval, so the lookup cannot fail.
  (void)embedding_lookup(w.tok_embd, tokens, buf_.x.data());

  RopeParams rope = c.rope_params();
  rope.freq_factors = w.rope_freqs;
  const int64_t rope_stride = rope_table_size(rope.n_rot);
  for (int64_t t = 0; t < T; ++t) {
    buf_.pos[t] = int32_t(n_past_ + t);
    rope_fill_table(rope, n_past_ + t, &buf_.rope[t * rope_stride]);
  }

  const StepArgs s{.pool = pool_,
                   .buf = buf_,
                   .kv = kv_,
                   .config = c,
                   .rope = rope,
                   .n_tokens = T,
                   .n_past = n_past_};
  const ArchSpec& arch = model_.arch();
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& lw = w.layers[size_t(il)];
    if (arch.attention == AttentionKind::kMla) {
      mla_attention_forward(s, lw, il, opts_.mla_mode);
    } else {
      dense_attention_forward(s, lw, il);
    }
    if (lw.moe) {
      moe_ffn_forward(s, arch, lw);
    } else {
      dense_ffn_forward(s, lw);
    }
  }
  n_past_ += T;
  if (logits_out == nullptr) return;

  // Only the rows whose logits are wanted go through the output projection.
  const int64_t first = all_logits ? 0 : T - 1;
  const int64_t n_out = T - first;
  for (int64_t t = first; t < T; ++t)
    rms_norm(&buf_.x[t * D], w.output_norm, &buf_.h[(t - first) * D], D, c.rms_eps);
  linear_forward(pool_, buf_.matmul, w.output, buf_.h.data(), n_out, logits_out);
}

std::span<const float> ModelContext::logits(int64_t i) const {
  const int64_t V = model_.config().n_vocab;
  return {logits_.data() + i * V, size_t(V)};
}

void ModelContext::rewind(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

}  // namespace muse
