// Step orchestration: embedding, blocks layer by layer, final norm and output projection.
#include "model/forward.h"

#include <algorithm>

#include "kernels/embedding.h"
#include "model/blocks/dense.h"
#include "model/blocks/mla.h"
#include "model/blocks/moe.h"

namespace muse {

StatusOr<std::unique_ptr<BatchForward>> BatchForward::create(const Model& model, ThreadPool& pool,
                                                             int64_t max_tokens, MlaMode mla_mode) {
  if (max_tokens <= 0) return Errorf("batch size %lld must be positive", (long long)max_tokens);
  return std::unique_ptr<BatchForward>(new BatchForward(model, pool, max_tokens, mla_mode));
}

BatchForward::BatchForward(const Model& model, ThreadPool& pool, int64_t max_tokens,
                           MlaMode mla_mode)
    : model_(model), pool_(pool), max_tokens_(max_tokens), mla_mode_(mla_mode) {
  const ModelConfig& c = model.config();
  const bool mla = model.arch().attention == AttentionKind::kMla;
  const size_t T = size_t(max_tokens);
  const size_t k_dim = size_t(mla ? c.kv_lora_rank + c.n_rot : c.n_head_kv * c.head_dim_k);
  const size_t v_dim = size_t(mla ? 0 : c.n_head_kv * c.head_dim_v);
  buf_.x.resize(T * c.n_embd);
  buf_.h.resize(T * std::max(c.n_embd, c.n_head * c.head_dim_v));
  buf_.q.resize(T * c.n_head * c.head_dim_k);
  buf_.k.resize(T * k_dim);
  buf_.v.resize(T * v_dim);
  buf_.attn.resize(T * c.n_head * c.head_dim_v);
  buf_.gate.resize(T * c.n_ff);
  buf_.up.resize(T * c.n_ff);
  buf_.rope.resize(T * rope_table_size(int(c.n_rot)));
  buf_.pos.resize(T);
  buf_.seq.resize(T);

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
  if (mla) {
    const size_t H = size_t(c.n_head), C = size_t(c.kv_lora_rank), R = size_t(c.n_rot);
    const size_t N = size_t(c.qk_nope()), Dv = size_t(c.head_dim_v);
    MlaBuffers& m = buf_.mla;
    m.q_a.resize(T * size_t(c.q_lora_rank));
    m.kv_a.resize(T * (C + R));
    m.head_in.resize(H * T * std::max(N, Dv));
    m.head_out.resize(H * T * C);
    m.q_lat.resize(T * H * (C + R));
    m.lat.resize(T * H * C);
    m.toks.reserve(T);
    m.jobs.reserve(H);
  }
}

int64_t BatchForward::logit_rows(std::span<const SeqStep> seqs) {
  int64_t n = 0;
  for (const SeqStep& q : seqs)
    n += q.logits == LogitsMode::kAll ? q.n_tokens : q.logits == LogitsMode::kLast ? 1 : 0;
  return n;
}

Status BatchForward::validate(const KvCache& kv, std::span<const int32_t> tokens,
                              std::span<const SeqStep> seqs) const {
  const ModelConfig& c = model_.config();
  if (seqs.empty()) return Errorf("forward: no sequences");
  int64_t total = 0;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const SeqStep& q = seqs[si];
    if (q.n_tokens < 1 || q.n_past < 0)
      return Errorf("forward: sequence %zu has %lld tokens after %lld cached", si,
                    (long long)q.n_tokens, (long long)q.n_past);
    const int64_t need = (q.n_past + q.n_tokens + kv.page_size() - 1) / kv.page_size();
    if (int64_t(q.pages.size()) < need)
      return Errorf("forward: sequence %zu needs %lld pages for %lld positions, has %zu", si,
                    (long long)need, (long long)(q.n_past + q.n_tokens), q.pages.size());
    for (int64_t i = 0; i < need; ++i) {
      const int32_t page = q.pages[size_t(i)];
      if (page < 0 || page >= kv.n_pages())
        return Errorf("forward: sequence %zu page %d outside the cache's %lld pages", si, page,
                      (long long)kv.n_pages());
    }
    total += q.n_tokens;
  }
  if (total != int64_t(tokens.size()))
    return Errorf("forward: %zu tokens for sequences totalling %lld", tokens.size(),
                  (long long)total);
  if (total > max_tokens_)
    return Errorf("forward: %lld tokens exceed the step size %lld", (long long)total,
                  (long long)max_tokens_);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
      return Errorf("token id %d at position %zu is outside the vocabulary [0, %lld)", tokens[i], i,
                    (long long)c.n_vocab);
  }
  return Status::Ok();
}

Status BatchForward::run(KvCache& kv, std::span<const int32_t> tokens,
                         std::span<const SeqStep> seqs, float* logits) {
  MUSE_RETURN_IF_ERROR(validate(kv, tokens, seqs));
  const ModelConfig& c = model_.config();
  const ModelWeights& w = model_.weights();
  const int64_t T = int64_t(tokens.size()), D = c.n_embd;

  // Ids were checked, so the lookup cannot fail.
  (void)embedding_lookup(w.tok_embd, tokens, buf_.x.data());

  RopeParams rope = c.rope_params();
  rope.freq_factors = w.rope_freqs;
  const int64_t rope_stride = rope_table_size(rope.n_rot);
  buf_.first.resize(seqs.size());
  for (size_t si = 0, t = 0; si < seqs.size(); ++si) {
    buf_.first[si] = int64_t(t);
    for (int64_t i = 0; i < seqs[si].n_tokens; ++i, ++t) {
      buf_.pos[t] = int32_t(seqs[si].n_past + i);
      buf_.seq[t] = int32_t(si);
      rope_fill_table(rope, buf_.pos[t], &buf_.rope[t * rope_stride]);
    }
  }

  const StepArgs s{
      .pool = pool_, .buf = buf_, .kv = kv, .config = c, .rope = rope, .n_tokens = T, .seqs = seqs};
  const ArchSpec& arch = model_.arch();
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& lw = w.layers[size_t(il)];
    if (arch.attention == AttentionKind::kMla) {
      mla_attention_forward(s, lw, il, mla_mode_);
    } else {
      dense_attention_forward(s, lw, il);
    }
    if (lw.moe) {
      moe_ffn_forward(s, arch, lw);
    } else {
      dense_ffn_forward(s, lw);
    }
  }

  // Only the rows whose logits are wanted go through the output projection.
  int64_t n_out = 0;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const SeqStep& q = seqs[si];
    if (q.logits == LogitsMode::kNone) continue;
    const int64_t t0 =
        q.logits == LogitsMode::kAll ? buf_.first[si] : buf_.first[si] + q.n_tokens - 1;
    for (int64_t t = t0; t < buf_.first[si] + q.n_tokens; ++t, ++n_out)
      rms_norm(&buf_.x[t * D], w.output_norm, &buf_.h[n_out * D], D, c.rms_eps);
  }
  if (n_out > 0) linear_forward(pool_, buf_.matmul, w.output, buf_.h.data(), n_out, logits);
  return Status::Ok();
}

}  // namespace muse
