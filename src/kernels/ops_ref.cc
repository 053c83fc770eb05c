// Scalar references for kernels/ops.h and kernels/attention.h; see ops_ref.h. Each function
// is the textbook formula in double, written to be checked by eye against the paper or the
// GGML source it cites, not for speed.

#include "kernels/ops_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/fp16.h"

namespace muse {

void rms_norm_ref(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
  const double inv = 1.0 / std::sqrt(ss / double(n) + double(eps));
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<float>(double(x[i]) * inv * (weight ? double(weight[i]) : 1.0));
  }
}

void rope_ref(const RopeParams& p, int64_t pos, float* x, int64_t n_head, int64_t head_dim,
              int64_t head_stride) {
  const int half = p.n_rot / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    float* xh = x + h * head_stride;
    for (int i = 0; i < half; ++i) {
      const double theta_extrap = double(pos) *
                                  std::pow(double(p.freq_base), -2.0 * i / double(p.n_rot)) /
                                  (p.freq_factors != nullptr ? double(p.freq_factors[i]) : 1.0);
      double theta = theta_extrap * double(p.freq_scale);
      double mscale = p.attn_factor;
      if (p.yarn_ext_factor != 0.0f) {
        // YaRN (Peng et al. 2023): the pair index where the dim turns `beta` times over the
        // original context bounds the blend of extrapolated and interpolated angles.
        const double two_log_base = 2.0 * std::log(double(p.freq_base));
        const double lo = std::max(
            0.0, std::floor(p.n_rot * std::log(p.yarn_n_ctx_orig / (p.yarn_beta_fast * 2 * M_PI)) /
                            two_log_base));
        const double hi = std::min(
            double(p.n_rot - 1),
            std::ceil(p.n_rot * std::log(p.yarn_n_ctx_orig / (p.yarn_beta_slow * 2 * M_PI)) /
                      two_log_base));
        double ramp = (i - lo) / std::max(0.001, hi - lo);
        ramp = 1.0 - std::min(1.0, std::max(0.0, ramp));
        const double mix = ramp * p.yarn_ext_factor;
        theta = theta * (1.0 - mix) + theta_extrap * mix;
        mscale *= 1.0 + 0.1 * std::log(1.0 / double(p.freq_scale));
      }
      const double c = std::cos(theta) * mscale;
      const double s = std::sin(theta) * mscale;
      // GGML `rope_yarn` + `ggml_rope_cache_init`: mode 0 rotates (2i, 2i+1), NeoX (i, i+half).
      const int a = p.style == RopeStyle::Normal ? 2 * i : i;
      const int b = p.style == RopeStyle::Normal ? 2 * i + 1 : i + half;
      const double x0 = xh[a];
      const double x1 = xh[b];
      xh[a] = static_cast<float>(x0 * c - x1 * s);
      xh[b] = static_cast<float>(x0 * s + x1 * c);
    }
  }
}

void softmax_ref(float* x, int64_t n) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  double sum = 0.0;
  std::vector<double> e(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sum += e[i] = std::exp(double(x[i]) - mx);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(e[i] / sum);
}

void exp_f32_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(std::exp(double(x[i])));
}

static double silu_d(double x) { return x / (1.0 + std::exp(-x)); }

void silu_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(silu_d(x[i]));
}

void swiglu_ref(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(silu_d(gate[i]) * double(up[i]));
}

void gelu_ref(const float* x, float* y, int64_t n) {
  // GGML `ggml_gelu_f32`: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))). Written as
  // x / (1 + exp(-2u)), the identical function, because 1 + tanh(u) cancels for u << 0 even
  // in double.
  constexpr double kSqrt2OverPi = 0.79788456080286535588;
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    const double u = kSqrt2OverPi * v * (1.0 + 0.044715 * v * v);
    y[i] = static_cast<float>(v / (1.0 + std::exp(-2.0 * u)));
  }
}

void add_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void mul_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void scale_ref(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

double dot_f32_ref(const float* a, const float* b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(a[i]) * double(b[i]);
  return s;
}

void axpy_ref(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(double(a) * x[i] + double(y[i]));
}

// Element `col` of kv row `row` (col = head offset + dim), contiguous or paged.
static double kv_at(const AttentionArgs& a, const void* base, int64_t stride, int64_t row,
                    int64_t col) {
  const int64_t idx = a.page_table == nullptr
                          ? row * stride + col
                          : int64_t(a.page_table[row / a.page_rows]) * a.page_stride +
                                (row % a.page_rows) * stride + col;
  if (a.kv_type == DType::F16) return fp16_to_fp32(static_cast<const fp16_t*>(base)[idx]);
  return static_cast<const float*>(base)[idx];
}

void attention_ref(const AttentionArgs& a) {
  const int64_t dk = a.head_dim, dv = a.head_dim_v ? a.head_dim_v : a.head_dim;
  const int64_t q_stride = a.q_token_stride ? a.q_token_stride : a.n_head * dk;
  const int64_t o_stride = a.out_token_stride ? a.out_token_stride : a.n_head * dv;
  const int64_t k_stride = a.k_row_stride ? a.k_row_stride : a.n_head_kv * dk;
  const int64_t v_stride = a.v_row_stride ? a.v_row_stride : a.n_head_kv * dv;
  const double scale = a.scale != 0.0f ? a.scale : 1.0 / std::sqrt(double(dk));
  const int64_t group = a.n_head / a.n_head_kv;
  std::vector<double> p;
  std::vector<double> o(static_cast<size_t>(dv));
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int64_t len = int64_t(a.pos[t]) + 1;  // causal: rows 0..pos[t]
    p.assign(static_cast<size_t>(len), 0.0);
    for (int64_t h = 0; h < a.n_head; ++h) {
      const int64_t g = h / group;
      const float* q = a.q + t * q_stride + h * dk;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < len; ++j) {
        double s = 0.0;
        for (int64_t d = 0; d < dk; ++d) s += double(q[d]) * kv_at(a, a.k, k_stride, j, g * dk + d);
        p[j] = s * scale;
        mx = std::max(mx, p[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < len; ++j) sum += p[j] = std::exp(p[j] - mx);
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = 0; j < len; ++j) {
        for (int64_t d = 0; d < dv; ++d) o[d] += p[j] * kv_at(a, a.v, v_stride, j, g * dv + d);
      }
      float* out = a.out + t * o_stride + h * dv;
      for (int64_t d = 0; d < dv; ++d) out[d] = static_cast<float>(o[d] / sum);
    }
  }
}

}  // namespace muse
