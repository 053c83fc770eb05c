// Three GEMMs with the operands' strides swapped instead of transposed copies.
#include "train/ops/linear.h"

namespace muse {

void linear_forward(ThreadPool& pool, GemmScratch& scratch, const LinearArgs& a, float* y) {
  const int64_t ldx = a.ldx ? a.ldx : a.n_in, ldy = a.ldy ? a.ldy : a.n_out;
  gemm_f32(pool, scratch,
           {.m = a.n_tokens,
            .n = a.n_out,
            .k = a.n_in,
            .a = gemm_rows(a.x, ldx),
            .b = gemm_transposed(a.w, a.n_in),
            .c = y,
            .ldc = ldy});
  if (a.bias == nullptr) return;
  for_chunks(pool, a.n_tokens, 64, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t o = 0; o < a.n_out; ++o) y[t * ldy + o] += a.bias[o];
  });
}

void linear_backward(ThreadPool& pool, GemmScratch& scratch, const LinearArgs& a, const float* dy,
                     const LinearGrads& g) {
  const int64_t ldx = a.ldx ? a.ldx : a.n_in, ldy = a.ldy ? a.ldy : a.n_out;
  if (g.dx != nullptr) {
    gemm_f32(pool, scratch,
             {.m = a.n_tokens,
              .n = a.n_in,
              .k = a.n_out,
              .a = gemm_rows(dy, ldy),
              .b = gemm_rows(a.w, a.n_in),
              .c = g.dx,
              .ldc = ldx,
              .accumulate = g.dx_mode == GradMode::kAccumulate});
  }
  if (g.dw != nullptr) {
    gemm_f32(pool, scratch,
             {.m = a.n_out,
              .n = a.n_in,
              .k = a.n_tokens,
              .a = gemm_transposed(dy, ldy),
              .b = gemm_rows(a.x, ldx),
              .c = g.dw,
              .ldc = a.n_in,
              .accumulate = true});
  }
  if (g.db != nullptr) {
    // Column sums in token order, each column block owned by one task: deterministic.
    for_chunks(pool, a.n_out, 256, [&](int64_t o0, int64_t o1) {
      for (int64_t t = 0; t < a.n_tokens; ++t)
        for (int64_t o = o0; o < o1; ++o) g.db[o] += dy[t * ldy + o];
    });
  }
}

}  // namespace muse
