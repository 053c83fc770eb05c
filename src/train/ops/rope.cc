// RoPE tables and the in-place rotations (see rope.h), on kernels/ops.h's `rope_apply`.
#include "train/ops/rope.h"

namespace muse {

Status rope_tables_init(const RopeParams& p, std::span<const int32_t> pos, RopeTables& out) {
  MUSE_RETURN_IF_ERROR(validate_rope_params(p, p.n_rot));
  const int64_t n = rope_table_size(p.n_rot), T = int64_t(pos.size());
  out.params = p;
  out.n_tokens = T;
  out.fwd.resize(size_t(T * n));
  out.inv.resize(size_t(T * n));
  for (int64_t t = 0; t < T; ++t) {
    float* f = &out.fwd[size_t(t * n)];
    float* v = &out.inv[size_t(t * n)];
    rope_fill_table(p, pos[size_t(t)], f);
    // Table layout [cos: n_rot][sin: n_rot]; R(θ)ᵀ = R(−θ) flips the sine only.
    for (int64_t i = 0; i < n / 2; ++i) v[i] = f[i];
    for (int64_t i = n / 2; i < n; ++i) v[i] = -f[i];
  }
  return Status::Ok();
}

namespace {
void apply(const RopeTables& t, const std::vector<float>& table, float* x, int64_t n_head,
           int64_t token_stride, int64_t head_stride) {
  const int64_t n = rope_table_size(t.params.n_rot);
  for (int64_t tok = 0; tok < t.n_tokens; ++tok) {
    rope_apply(t.params, &table[size_t(tok * n)], x + tok * token_stride, n_head, t.params.n_rot,
               head_stride);
  }
}
}  // namespace

void rope_forward(const RopeTables& t, float* x, int64_t n_head, int64_t token_stride,
                  int64_t head_stride) {
  apply(t, t.fwd, x, n_head, token_stride, head_stride);
}

void rope_backward(const RopeTables& t, float* dy, int64_t n_head, int64_t token_stride,
                   int64_t head_stride) {
  apply(t, t.inv, dy, n_head, token_stride, head_stride);
}

}  // namespace muse
