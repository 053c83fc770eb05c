// Float32 vector kernels of the transformer forward pass (norms, RoPE, activations,
// softmax, elementwise arithmetic), chosen at run time for the best SIMD target the CPU has.
// Sizes are validated by callers; kernels never allocate and accept any n >= 0 (no
// multiple-of-vector-width requirement). Scalar references live in kernels/ops_ref.h.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace muse {

// Name of the Highway target the dispatched kernels run on ("AVX2", "SSE4", "EMU128").
// Tests use it to prove that each target they iterate over is really the one executed.
const char* ops_target_name();

// --- Normalization -----------------------------------------------------------------------

// y = x / sqrt(mean(x^2) + eps) * weight (Zhang & Sennrich 2019, "Root Mean Square Layer
// Normalization"). `weight` may be null (all ones). y may alias x. Memory-bound: one read
// pass for the sum of squares and one read/write pass for the scaling.
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);

// --- Rotary position embedding -----------------------------------------------------------

// Which elements of a head form a rotated pair (Su et al. 2021, "RoFormer").
enum class RopeStyle {
  Normal,  // GGML mode 0 (llama): pairs (x[2i], x[2i+1])
  NeoX,    // GGML mode 2 (GPT-NeoX, qwen2): pairs (x[i], x[i + n_rot/2])
};

// theta_i = pos * freq_scale * freq_base^(-2i / n_rot) / freq_factors[i], i < n_rot/2.
// Designated initializers: RopeParams{.style = RopeStyle::NeoX, .n_rot = 128,
// .freq_base = 1e6f}.
struct RopeParams {
  RopeStyle style = RopeStyle::Normal;
  int n_rot = 0;                        // rotated dims per head; even, <= head_dim
  float freq_base = 10000.0f;           // GGUF `rope.freq_base`
  float freq_scale = 1.0f;              // linear position interpolation: 1 / `rope.scaling.factor`
  const float* freq_factors = nullptr;  // [n_rot / 2] llama3 `rope_freqs`; null = ones
  // Magnitude factor on cos and sin (`rope.scaling.attn_factor`); 1 = plain RoPE.
  float attn_factor = 1.0f;
  // YaRN (Peng et al. 2023, "YaRN: Efficient Context Window Extension"): dims that rotate
  // more than `yarn_beta_fast` times over the original context keep the extrapolated angle,
  // those under `yarn_beta_slow` turns take the interpolated one (pos * freq_scale), with a
  // linear ramp between; cos/sin are scaled by 1 + 0.1 ln(1 / freq_scale). As in GGML's
  // `rope_yarn`, `yarn_ext_factor` weights the ramp; 0 disables YaRN (linear scaling only).
  float yarn_ext_factor = 0.0f;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  int yarn_n_ctx_orig = 0;  // original training context; required when yarn_ext_factor != 0
};

// Checks n_rot (even, 1..head_dim), finite positive freq_base and freq_scale.
Status validate_rope_params(const RopeParams& p, int64_t head_dim);

// Floats in a cos/sin table for one position: [cos part: n_rot][sin part: n_rot], laid
// out for the style so that rope_apply is a pure vector multiply-add.
constexpr int64_t rope_table_size(int n_rot) { return 2 * int64_t(n_rot); }

// Fills `table` (rope_table_size(p.n_rot) floats) for position `pos`. Angles are computed
// in double: at pos ~1e5 a float angle is off by ~4e-3 rad. Scalar (n_rot/2 sincos); fill
// once per token and reuse for q and k of every head and every layer sharing `p`.
void rope_fill_table(const RopeParams& p, int64_t pos, float* table);

// Rotates the first p.n_rot dims of each head of x, [n_head][head_dim] with heads
// `head_stride` floats apart, in place. Memory-bound (2 loads + 2 table loads per store).
void rope_apply(const RopeParams& p, const float* table, float* x, int64_t n_head, int64_t head_dim,
                int64_t head_stride);

// --- Softmax and activations -------------------------------------------------------------

// In place, numerically stable (subtracts the max). n >= 1, at least one x not -inf;
// -inf entries (masked) become exactly 0.
void softmax(float* x, int64_t n);

// y = exp(x). Highway's `Exp`: max error 1 ulp for x in [-87, 88.7] (Highway's claim; 0.68
// ulp measured by ops_test's sweep); 0 below -104, +inf above 88.73, like std::exp.
void exp_f32(const float* x, float* y, int64_t n);

// y = x * sigmoid(x) (SiLU / swish). Stable for any finite x: sigmoid is built from
// exp(-|x|), which never overflows. Relative error <= 5 * 2^-24 (3.4 measured) while
// exp(-|x|) is a normal float (x > -87.3). y may alias x.
void silu(const float* x, float* y, int64_t n);

// out = silu(gate) * up, the SwiGLU gated FFN (Shazeer 2020). out may alias gate or up.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// GELU, tanh approximation as GGML computes it:
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated as x * sigmoid(2u), which is
// the same function without the cancellation in 1 + tanh(u) for negative x. Relative error
// <= (5 + 3|2u|) * 2^-24: the float rounding of u is amplified where the result ~ x e^{2u}
// (15 * 2^-24 measured for x > -3, 207 * 2^-24 in the far negative tail).
void gelu(const float* x, float* y, int64_t n);

// --- Elementwise and BLAS-1 --------------------------------------------------------------
// All memory-bound; y may alias an input.

void add(const float* a, const float* b, float* y, int64_t n);  // y = a + b
void mul(const float* a, const float* b, float* y, int64_t n);  // y = a * b
void scale(float* x, float s, int64_t n);                       // x *= s
float dot_f32(const float* a, const float* b, int64_t n);       // sum a[i] * b[i]
void axpy(float a, const float* x, float* y, int64_t n);        // y += a * x

}  // namespace muse
