// Step orchestration: embedding, blocks layer by layer, final norm and output projection.
#include "model/context.h"

#include <algorithm>

namespace muse {

KvCacheOptions kv_cache_options(const Model& model, int64_t n_positions, DType type,
                                int64_t page_size) {
  const ModelConfig& c = model.config();
  const bool mla = model.arch().attention == AttentionKind::kMla;
  return KvCacheOptions{.n_pages = (n_positions + page_size - 1) / page_size,
                        .page_size = page_size,
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
  auto forward = BatchForward::create(model, pool, o.n_batch, o.mla_mode);
  if (!forward.ok()) return forward.status();
  return std::unique_ptr<ModelContext>(new ModelContext(model, o, kv, std::move(*forward)));
}

ModelContext::ModelContext(const Model& model, const ContextOptions& opts, const KvCacheOptions& kv,
                           std::unique_ptr<BatchForward> forward)
    : model_(model), opts_(opts), kv_(kv), forward_(std::move(forward)) {
  pages_.resize(size_t(kv.n_pages));
  for (size_t i = 0; i < pages_.size(); ++i) pages_[i] = int32_t(i);
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
    const SeqStep seq{.n_past = n_past_,
                      .n_tokens = int64_t(n),
                      .pages = pages_,
                      .logits = all_logits   ? LogitsMode::kAll
                                : last_chunk ? LogitsMode::kLast
                                             : LogitsMode::kNone};
    float* out = all_logits ? &logits_[start * c.n_vocab] : logits_.data();
    MUSE_RETURN_IF_ERROR(forward_->run(kv_, tokens.subspan(start, n), {&seq, 1}, out));
    n_past_ += int64_t(n);
  }
  return Status::Ok();
}

std::span<const float> ModelContext::logits(int64_t i) const {
  const int64_t V = model_.config().n_vocab;
  return {logits_.data() + i * V, size_t(V)};
}

void ModelContext::rewind(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

}  // namespace muse
