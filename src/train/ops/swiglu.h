// SwiGLU gating (Shazeer 2020, "GLU Variants Improve Transformer"): out = silu(g) ∘ u with
// silu(g) = g·σ(g). Backward: du = dout ∘ silu(g), dg = dout ∘ u ∘ σ(g)(1 + g(1 − σ(g))).
// Gate and up may live in one fused [T][2F] projection output, hence the row strides.
#pragma once

#include <cstdint>

#include "train/ops/common.h"

namespace muse {

struct SwigluArgs {
  int64_t n_rows = 0;
  int64_t width = 0;            // F
  const float* gate = nullptr;  // [n_rows][F], rows ld_gate apart
  const float* up = nullptr;    // [n_rows][F], rows ld_up apart
  int64_t ld_gate = 0;          // 0 = F (also dgate's stride)
  int64_t ld_up = 0;            // 0 = F (also dup's stride)
  int64_t ld_out = 0;           // 0 = F (out and dout)
};

// out = silu(gate) ∘ up. Nothing saved: backward reads gate and up again.
void swiglu_forward(ThreadPool& pool, const SwigluArgs& a, float* out);

// dgate and dup are written; they must not overlap gate, up or dout.
void swiglu_backward(ThreadPool& pool, const SwigluArgs& a, const float* dout, float* dgate,
                     float* dup);

}  // namespace muse
