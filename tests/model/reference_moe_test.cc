// Mixture-of-experts and latent-attention architectures against a naive float64 forward
// written here from the papers (DeepSeek-V2 sec. 2.1 MLA in its decompressed form,
// DeepSeekMoE / DeepSeek-V3 routing), on tiny random F32 models built in the test. Covers
// what no fixture has: qwen3moe (QK-norm, renormalised softmax routing), `muse` with
// sigmoid gating, selection bias, group-limited routing, weight scale and two shared experts,
// and a full-rank-q deepseek2 (V2-Lite). Tolerance 2e-4 absolute on O(1) logits, as in
// reference_forward_test; routing is exact because random F32 router scores never tie.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "gguf/test_util.h"
#include "model/context.h"
#include "model/model.h"

namespace muse {
namespace {

struct Spec {
  std::string arch;
  bool mla = false;
  int64_t n_embd = 64, n_head = 4, n_head_kv = 2, head_dim = 16, n_ff = 96, n_layer = 3;
  int64_t n_vocab = 50;
  bool neox = false, qk_norm = false;
  // MoE
  int64_t n_expert = 8, n_used = 2, n_ff_exp = 32, n_shared = 0, n_dense_lead = 0;
  int gating = 1;  // 1 softmax, 2 sigmoid
  bool norm = false, probs_bias = false;
  float scale = 1.0f;
  int64_t n_groups = 0, n_groups_used = 0;
  int64_t header_n_expert = 0;  // written as expert_count instead of n_expert (error tests)
  // MLA
  int64_t q_lora = 0, kv_lora = 32, nope = 16, rope = 8, v_dim = 16;
};

using Mat = std::vector<float>;  // [n_out][n_in], GGML [n_in, n_out]
using Vec = std::vector<double>;

Mat rand_mat(std::mt19937& rng, int64_t n, float scale, float offset = 0.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  Mat m(static_cast<size_t>(n));
  for (float& v : m) v = offset + d(rng);
  return m;
}

struct Layer {
  Mat attn_norm, wq, wk, wv, wo, q_norm, k_norm;      // GQA
  Mat wq_a, q_a_norm, wq_b, wkv_a, kv_a_norm, wkv_b;  // MLA (wq when q_lora = 0)
  Mat ffn_norm, gate, up, down;                       // dense
  Mat router, bias, gate_e, up_e, down_e, gate_s, up_s, down_s;
  bool moe = false;
};

struct Weights {
  Mat embd, out_norm, output;
  std::vector<Layer> layers;
};

Weights make_weights(const Spec& s, uint32_t seed) {
  std::mt19937 rng(seed);
  Weights w;
  const int64_t D = s.n_embd, H = s.n_head;
  w.embd = rand_mat(rng, s.n_vocab * D, 1.0f);
  w.out_norm = rand_mat(rng, D, 0.1f, 1.0f);
  w.output = rand_mat(rng, s.n_vocab * D, 0.2f);
  for (int64_t l = 0; l < s.n_layer; ++l) {
    Layer L;
    L.attn_norm = rand_mat(rng, D, 0.1f, 1.0f);
    if (s.mla) {
      const int64_t dq = H * (s.nope + s.rope);
      if (s.q_lora > 0) {
        L.wq_a = rand_mat(rng, s.q_lora * D, 0.2f);
        L.q_a_norm = rand_mat(rng, s.q_lora, 0.1f, 1.0f);
        L.wq_b = rand_mat(rng, dq * s.q_lora, 0.2f);
      } else {
        L.wq = rand_mat(rng, dq * D, 0.2f);
      }
      L.wkv_a = rand_mat(rng, (s.kv_lora + s.rope) * D, 0.2f);
      L.kv_a_norm = rand_mat(rng, s.kv_lora, 0.1f, 1.0f);
      L.wkv_b = rand_mat(rng, H * (s.nope + s.v_dim) * s.kv_lora, 0.2f);
      L.wo = rand_mat(rng, D * H * s.v_dim, 0.2f);
    } else {
      L.wq = rand_mat(rng, H * s.head_dim * D, 0.2f);
      L.wk = rand_mat(rng, s.n_head_kv * s.head_dim * D, 0.2f);
      L.wv = rand_mat(rng, s.n_head_kv * s.head_dim * D, 0.2f);
      L.wo = rand_mat(rng, D * H * s.head_dim, 0.2f);
      if (s.qk_norm) {
        L.q_norm = rand_mat(rng, s.head_dim, 0.1f, 1.0f);
        L.k_norm = rand_mat(rng, s.head_dim, 0.1f, 1.0f);
      }
    }
    L.ffn_norm = rand_mat(rng, D, 0.1f, 1.0f);
    L.moe = l >= s.n_dense_lead;
    if (!L.moe) {
      L.gate = rand_mat(rng, s.n_ff * D, 0.2f);
      L.up = rand_mat(rng, s.n_ff * D, 0.2f);
      L.down = rand_mat(rng, D * s.n_ff, 0.2f);
    } else {
      const int64_t E = s.n_expert, Fe = s.n_ff_exp, Fs = s.n_shared * Fe;
      L.router = rand_mat(rng, E * D, 0.3f);
      if (s.probs_bias) L.bias = rand_mat(rng, E, 0.2f);
      L.gate_e = rand_mat(rng, E * Fe * D, 0.2f);
      L.up_e = rand_mat(rng, E * Fe * D, 0.2f);
      L.down_e = rand_mat(rng, E * D * Fe, 0.2f);
      if (Fs > 0) {
        L.gate_s = rand_mat(rng, Fs * D, 0.2f);
        L.up_s = rand_mat(rng, Fs * D, 0.2f);
        L.down_s = rand_mat(rng, D * Fs, 0.2f);
      }
    }
    w.layers.push_back(std::move(L));
  }
  return w;
}

Status write_model(const Spec& s, const Weights& w, const std::string& path) {
  GgufWriter g;
  const std::string a = s.arch;
  const int64_t D = s.n_embd, H = s.n_head;
  g.set_string("general.architecture", a);
  g.set_u32(a + ".context_length", 256);
  g.set_u32(a + ".embedding_length", uint32_t(D));
  g.set_u32(a + ".block_count", uint32_t(s.n_layer));
  g.set_u32(a + ".feed_forward_length", uint32_t(s.n_ff));
  g.set_u32(a + ".attention.head_count", uint32_t(H));
  g.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
  g.set_f32(a + ".rope.freq_base", 10000.0f);
  g.set_u32(a + ".expert_count", uint32_t(s.header_n_expert ? s.header_n_expert : s.n_expert));
  g.set_u32(a + ".expert_used_count", uint32_t(s.n_used));
  g.set_u32(a + ".expert_feed_forward_length", uint32_t(s.n_ff_exp));
  if (s.mla) {
    g.set_u32(a + ".attention.head_count_kv", uint32_t(H));
    g.set_u32(a + ".attention.key_length", uint32_t(s.nope + s.rope));
    g.set_u32(a + ".attention.value_length", uint32_t(s.v_dim));
    g.set_u32(a + ".rope.dimension_count", uint32_t(s.rope));
    g.set_u32(a + ".attention.kv_lora_rank", uint32_t(s.kv_lora));
    if (s.q_lora > 0 || a == "muse") g.set_u32(a + ".attention.q_lora_rank", uint32_t(s.q_lora));
    g.set_u32(a + ".leading_dense_block_count", uint32_t(s.n_dense_lead));
    g.set_u32(a + ".expert_shared_count", uint32_t(s.n_shared));
    g.set_f32(a + ".expert_weights_scale", s.scale);
    g.set_bool(a + ".expert_weights_norm", s.norm);
    g.set_u32(a + ".expert_gating_func", uint32_t(s.gating));
    if (s.n_groups > 0) {
      g.set_u32(a + ".expert_group_count", uint32_t(s.n_groups));
      g.set_u32(a + ".expert_group_used_count", uint32_t(s.n_groups_used));
    }
  } else {
    g.set_u32(a + ".attention.head_count_kv", uint32_t(s.n_head_kv));
    g.set_u32(a + ".attention.key_length", uint32_t(s.head_dim));
    g.set_u32(a + ".attention.value_length", uint32_t(s.head_dim));
  }
  auto add = [&](const std::string& name, const Mat& m, std::vector<int64_t> ne) {
    return g.add_tensor(name, DType::F32, ne, m.data());
  };
  MUSE_RETURN_IF_ERROR(add("token_embd.weight", w.embd, {D, s.n_vocab}));
  MUSE_RETURN_IF_ERROR(add("output_norm.weight", w.out_norm, {D}));
  MUSE_RETURN_IF_ERROR(add("output.weight", w.output, {D, s.n_vocab}));
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const Layer& L = w.layers[size_t(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    MUSE_RETURN_IF_ERROR(add(p + "attn_norm.weight", L.attn_norm, {D}));
    if (s.mla) {
      const int64_t dq = H * (s.nope + s.rope);
      if (s.q_lora > 0) {
        MUSE_RETURN_IF_ERROR(add(p + "attn_q_a.weight", L.wq_a, {D, s.q_lora}));
        MUSE_RETURN_IF_ERROR(add(p + "attn_q_a_norm.weight", L.q_a_norm, {s.q_lora}));
        MUSE_RETURN_IF_ERROR(add(p + "attn_q_b.weight", L.wq_b, {s.q_lora, dq}));
      } else {
        MUSE_RETURN_IF_ERROR(add(p + "attn_q.weight", L.wq, {D, dq}));
      }
      MUSE_RETURN_IF_ERROR(add(p + "attn_kv_a_mqa.weight", L.wkv_a, {D, s.kv_lora + s.rope}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_kv_a_norm.weight", L.kv_a_norm, {s.kv_lora}));
      MUSE_RETURN_IF_ERROR(
          add(p + "attn_kv_b.weight", L.wkv_b, {s.kv_lora, H * (s.nope + s.v_dim)}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_output.weight", L.wo, {H * s.v_dim, D}));
    } else {
      const int64_t q = H * s.head_dim, kv = s.n_head_kv * s.head_dim;
      MUSE_RETURN_IF_ERROR(add(p + "attn_q.weight", L.wq, {D, q}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_k.weight", L.wk, {D, kv}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_v.weight", L.wv, {D, kv}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_output.weight", L.wo, {q, D}));
      if (s.qk_norm) {
        MUSE_RETURN_IF_ERROR(add(p + "attn_q_norm.weight", L.q_norm, {s.head_dim}));
        MUSE_RETURN_IF_ERROR(add(p + "attn_k_norm.weight", L.k_norm, {s.head_dim}));
      }
    }
    MUSE_RETURN_IF_ERROR(add(p + "ffn_norm.weight", L.ffn_norm, {D}));
    if (!L.moe) {
      MUSE_RETURN_IF_ERROR(add(p + "ffn_gate.weight", L.gate, {D, s.n_ff}));
      MUSE_RETURN_IF_ERROR(add(p + "ffn_up.weight", L.up, {D, s.n_ff}));
      MUSE_RETURN_IF_ERROR(add(p + "ffn_down.weight", L.down, {s.n_ff, D}));
      continue;
    }
    const int64_t E = s.n_expert, Fe = s.n_ff_exp, Fs = s.n_shared * Fe;
    MUSE_RETURN_IF_ERROR(add(p + "ffn_gate_inp.weight", L.router, {D, E}));
    if (s.probs_bias) MUSE_RETURN_IF_ERROR(add(p + "exp_probs_b.bias", L.bias, {E}));
    MUSE_RETURN_IF_ERROR(add(p + "ffn_gate_exps.weight", L.gate_e, {D, Fe, E}));
    MUSE_RETURN_IF_ERROR(add(p + "ffn_up_exps.weight", L.up_e, {D, Fe, E}));
    MUSE_RETURN_IF_ERROR(add(p + "ffn_down_exps.weight", L.down_e, {Fe, D, E}));
    if (Fs > 0) {
      MUSE_RETURN_IF_ERROR(add(p + "ffn_gate_shexp.weight", L.gate_s, {D, Fs}));
      MUSE_RETURN_IF_ERROR(add(p + "ffn_up_shexp.weight", L.up_s, {D, Fs}));
      MUSE_RETURN_IF_ERROR(add(p + "ffn_down_shexp.weight", L.down_s, {Fs, D}));
    }
  }
  return g.write(path);
}

// y = M[rows r0 .. r0 + n_out) x.
Vec matvec(const Mat& m, const Vec& x, int64_t n_out, int64_t r0 = 0) {
  const int64_t n_in = int64_t(x.size());
  Vec y(static_cast<size_t>(n_out), 0.0);
  for (int64_t o = 0; o < n_out; ++o)
    for (int64_t i = 0; i < n_in; ++i)
      y[size_t(o)] += double(m[size_t((r0 + o) * n_in + i)]) * x[size_t(i)];
  return y;
}

Vec rms_norm(const Vec& x, const float* w, size_t off, size_t n) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += x[off + i] * x[off + i];
  const double r = 1.0 / std::sqrt(ss / double(n) + 1e-6);
  Vec y(n);
  for (size_t i = 0; i < n; ++i) y[i] = x[off + i] * r * double(w[i]);
  return y;
}

void rope(double* h, int64_t dim, int64_t pos, bool neox) {
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double theta = double(pos) * std::pow(10000.0, -2.0 * double(i) / double(dim));
    const int64_t a = neox ? i : 2 * i, b = neox ? i + dim / 2 : 2 * i + 1;
    const double x0 = h[a], x1 = h[b];
    h[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
    h[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
  }
}

Vec swiglu_ffn(const Mat& gate, const Mat& up, const Mat& down, const Vec& h, int64_t F, int64_t D,
               int64_t r0 = 0) {
  const Vec g = matvec(gate, h, F, r0), u = matvec(up, h, F, r0);
  Vec a(static_cast<size_t>(F));
  for (size_t i = 0; i < a.size(); ++i) a[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
  return matvec(down, a, D, r0 * D / F);
}

Vec moe_ffn(const Spec& s, const Layer& L, const Vec& h) {
  const int64_t E = s.n_expert, D = s.n_embd, Fe = s.n_ff_exp;
  const Vec logits = matvec(L.router, h, E);
  Vec p(static_cast<size_t>(E));
  if (s.gating == 1) {
    const double mx = *std::max_element(logits.begin(), logits.end());
    double z = 0;
    for (int64_t e = 0; e < E; ++e) z += p[size_t(e)] = std::exp(logits[size_t(e)] - mx);
    for (double& v : p) v /= z;
  } else {
    for (int64_t e = 0; e < E; ++e) p[size_t(e)] = 1.0 / (1.0 + std::exp(-logits[size_t(e)]));
  }
  Vec sel = p;
  for (int64_t e = 0; s.probs_bias && e < E; ++e) sel[size_t(e)] += L.bias[size_t(e)];
  if (s.n_groups > 0) {  // keep the groups with the best top-2 sums
    const int64_t per = E / s.n_groups;
    std::vector<std::pair<double, int64_t>> gs;
    for (int64_t g = 0; g < s.n_groups; ++g) {
      Vec v(sel.begin() + g * per, sel.begin() + (g + 1) * per);
      std::sort(v.rbegin(), v.rend());
      gs.push_back({v[0] + v[1], g});
    }
    std::sort(gs.rbegin(), gs.rend());
    for (size_t i = size_t(s.n_groups_used); i < gs.size(); ++i)
      for (int64_t e = gs[i].second * per; e < (gs[i].second + 1) * per; ++e)
        sel[size_t(e)] = -1e300;
  }
  std::vector<int64_t> idx(static_cast<size_t>(E));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(),
            [&](int64_t a, int64_t b) { return sel[size_t(a)] > sel[size_t(b)]; });
  double wsum = 0;
  for (int64_t k = 0; k < s.n_used; ++k) wsum += p[size_t(idx[size_t(k)])];
  Vec out(static_cast<size_t>(D), 0.0);
  for (int64_t k = 0; k < s.n_used; ++k) {
    const int64_t e = idx[size_t(k)];
    double wk = p[size_t(e)] * (s.norm ? 1.0 / wsum : 1.0) * s.scale;
    const Vec y = swiglu_ffn(L.gate_e, L.up_e, L.down_e, h, Fe, D, e * Fe);
    for (int64_t i = 0; i < D; ++i) out[size_t(i)] += wk * y[size_t(i)];
  }
  if (s.n_shared > 0) {
    const Vec y = swiglu_ffn(L.gate_s, L.up_s, L.down_s, h, s.n_shared * Fe, D);
    for (int64_t i = 0; i < D; ++i) out[size_t(i)] += y[size_t(i)];
  }
  return out;
}

// Attention output (before W_o) of every token, [T][H * Dv].
std::vector<Vec> attention(const std::vector<Vec>& q, const std::vector<Vec>& k,
                           const std::vector<Vec>& v, int64_t H, int64_t Hkv, int64_t Dk,
                           int64_t Dv) {
  const int64_t T = int64_t(q.size());
  std::vector<Vec> out;
  for (int64_t t = 0; t < T; ++t) {
    Vec o(static_cast<size_t>(H * Dv), 0.0);
    for (int64_t hd = 0; hd < H; ++hd) {
      const int64_t g = hd / (H / Hkv);
      Vec score(static_cast<size_t>(t + 1));
      for (int64_t j = 0; j <= t; ++j) {
        double d = 0;
        for (int64_t e = 0; e < Dk; ++e)
          d += q[size_t(t)][size_t(hd * Dk + e)] * k[size_t(j)][size_t(g * Dk + e)];
        score[size_t(j)] = d / std::sqrt(double(Dk));
      }
      const double mx = *std::max_element(score.begin(), score.end());
      double sum = 0;
      for (double& sc : score) sum += (sc = std::exp(sc - mx));
      for (int64_t j = 0; j <= t; ++j)
        for (int64_t e = 0; e < Dv; ++e)
          o[size_t(hd * Dv + e)] += score[size_t(j)] / sum * v[size_t(j)][size_t(g * Dv + e)];
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<Vec> reference_logits(const Spec& s, const Weights& w,
                                  const std::vector<int32_t>& toks) {
  const int64_t T = int64_t(toks.size()), D = s.n_embd, H = s.n_head;
  std::vector<Vec> x;
  for (int32_t tok : toks) x.emplace_back(w.embd.begin() + tok * D, w.embd.begin() + (tok + 1) * D);
  for (const Layer& L : w.layers) {
    std::vector<Vec> q, k, v;
    int64_t Dk = s.head_dim, Dv = s.head_dim, Hkv = s.n_head_kv;
    for (int64_t t = 0; t < T; ++t) {
      const Vec h = rms_norm(x[size_t(t)], L.attn_norm.data(), 0, size_t(D));
      if (s.mla) {
        const int64_t N = s.nope, R = s.rope, C = s.kv_lora;
        Dk = N + R;
        Dv = s.v_dim;
        Hkv = H;
        Vec qt = s.q_lora > 0 ? matvec(L.wq_b,
                                       rms_norm(matvec(L.wq_a, h, s.q_lora), L.q_a_norm.data(), 0,
                                                size_t(s.q_lora)),
                                       H * Dk)
                              : matvec(L.wq, h, H * Dk);
        for (int64_t hd = 0; hd < H; ++hd) rope(&qt[size_t(hd * Dk + N)], R, t, false);
        const Vec kva = matvec(L.wkv_a, h, C + R);
        const Vec c = rms_norm(kva, L.kv_a_norm.data(), 0, size_t(C));
        Vec kr(kva.begin() + C, kva.end());
        rope(kr.data(), R, t, false);
        const Vec kv = matvec(L.wkv_b, c, H * (N + s.v_dim));
        Vec kt(static_cast<size_t>(H * Dk)), vt(static_cast<size_t>(H * Dv));
        for (int64_t hd = 0; hd < H; ++hd) {
          for (int64_t i = 0; i < N; ++i) kt[size_t(hd * Dk + i)] = kv[size_t(hd * (N + Dv) + i)];
          for (int64_t i = 0; i < R; ++i) kt[size_t(hd * Dk + N + i)] = kr[size_t(i)];
          for (int64_t i = 0; i < Dv; ++i)
            vt[size_t(hd * Dv + i)] = kv[size_t(hd * (N + Dv) + N + i)];
        }
        q.push_back(qt);
        k.push_back(kt);
        v.push_back(vt);
      } else {
        Vec qt = matvec(L.wq, h, H * Dk), kt = matvec(L.wk, h, Hkv * Dk);
        for (int64_t hd = 0; hd < H; ++hd) {
          if (s.qk_norm) {
            const Vec n = rms_norm(qt, L.q_norm.data(), size_t(hd * Dk), size_t(Dk));
            std::copy(n.begin(), n.end(), qt.begin() + hd * Dk);
          }
          rope(&qt[size_t(hd * Dk)], Dk, t, s.neox);
        }
        for (int64_t hd = 0; hd < Hkv; ++hd) {
          if (s.qk_norm) {
            const Vec n = rms_norm(kt, L.k_norm.data(), size_t(hd * Dk), size_t(Dk));
            std::copy(n.begin(), n.end(), kt.begin() + hd * Dk);
          }
          rope(&kt[size_t(hd * Dk)], Dk, t, s.neox);
        }
        q.push_back(qt);
        k.push_back(kt);
        v.push_back(matvec(L.wv, h, Hkv * Dv));
      }
    }
    const auto att = attention(q, k, v, H, Hkv, Dk, Dv);
    for (int64_t t = 0; t < T; ++t) {
      const Vec o = matvec(L.wo, att[size_t(t)], D);
      for (int64_t i = 0; i < D; ++i) x[size_t(t)][size_t(i)] += o[size_t(i)];
      const Vec h = rms_norm(x[size_t(t)], L.ffn_norm.data(), 0, size_t(D));
      const Vec f = L.moe ? moe_ffn(s, L, h) : swiglu_ffn(L.gate, L.up, L.down, h, s.n_ff, D);
      for (int64_t i = 0; i < D; ++i) x[size_t(t)][size_t(i)] += f[size_t(i)];
    }
  }
  std::vector<Vec> out;
  for (int64_t t = 0; t < T; ++t)
    out.push_back(
        matvec(w.output, rms_norm(x[size_t(t)], w.out_norm.data(), 0, size_t(D)), s.n_vocab));
  return out;
}

class ReferenceMoe : public ::testing::TestWithParam<Spec> {};

TEST_P(ReferenceMoe, MatchesFloat64) {
  const Spec& s = GetParam();
  const Weights w = make_weights(s, 11);
  testing::TempDir dir;
  const std::string path = dir.file("m.gguf");
  ASSERT_TRUE(write_model(s, w, path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  ThreadPool pool(2);
  const std::vector<int32_t> toks = {1, 7, 42, 3, 3, 19, 0, 49, 25, 11};
  const auto want = reference_logits(s, w, toks);
  // Whole prompt in one step and token by token; MLA models through both attention paths.
  for (MlaMode mode : {MlaMode::kAbsorbed, MlaMode::kDecompressed}) {
    for (int64_t batch : {int64_t(16), int64_t(1)}) {
      auto ctx = ModelContext::create(
          **model, pool, {.n_ctx = 64, .n_batch = batch, .kv_type = DType::F32, .mla_mode = mode});
      ASSERT_TRUE(ctx.ok()) << ctx.status().message();
      for (size_t t = 0; t < toks.size(); ++t) {
        if (batch == 1) {
          ASSERT_TRUE((*ctx)->eval({&toks[t], 1}).ok());
        } else if (t == 0) {
          ASSERT_TRUE((*ctx)->eval(toks, true).ok());
        }
        const auto got = (*ctx)->logits(batch == 1 ? 0 : int64_t(t));
        for (int64_t i = 0; i < s.n_vocab; ++i)
          ASSERT_NEAR(got[size_t(i)], want[t][size_t(i)], 2e-4)
              << s.arch << " mode " << int(mode) << " batch " << batch << " position " << t
              << " token " << i;
      }
    }
    if (!s.mla) break;
  }
}

Spec qwen3moe() {
  return Spec{.arch = "qwen3moe", .head_dim = 32, .neox = true, .qk_norm = true, .norm = true};
}
Spec muse_arch() {
  return Spec{.arch = "muse",
              .mla = true,
              .n_shared = 2,
              .n_dense_lead = 1,
              .gating = 2,
              .norm = true,
              .probs_bias = true,
              .scale = 2.5f,
              .n_groups = 4,
              .n_groups_used = 2,
              .q_lora = 24};
}
Spec deepseek2_lite() {  // full-rank q, softmax without renormalisation
  return Spec{.arch = "deepseek2", .mla = true, .n_used = 3, .n_shared = 1, .n_dense_lead = 1};
}

INSTANTIATE_TEST_SUITE_P(Moe, ReferenceMoe,
                         ::testing::Values(qwen3moe(), muse_arch(), deepseek2_lite()),
                         [](const auto& info) { return info.param.arch; });

TEST(MoeLoad, ClearErrors) {
  testing::TempDir dir;
  const std::string path = dir.file("m.gguf");
  auto load_error = [&](const Spec& s, const Weights& w) {
    EXPECT_TRUE(write_model(s, w, path).ok());
    auto m = Model::load(path);
    return m.ok() ? std::string() : m.status().message();
  };
  Spec s = muse_arch();
  Weights w = make_weights(s, 1);
  s.n_used = 9;  // more experts per token than exist
  EXPECT_NE(load_error(s, w).find("expert_used_count 9 must be in [1, expert_count 8]"),
            std::string::npos)
      << load_error(s, w);
  s = muse_arch();
  s.n_groups = 3;  // does not divide 8 experts
  EXPECT_NE(load_error(s, w).find("expert_group_count 3 does not divide expert_count 8"),
            std::string::npos);
  s = muse_arch();
  s.gating = 3;
  EXPECT_NE(load_error(s, w).find("expert_gating_func: unsupported value 3"), std::string::npos);
  s = muse_arch();
  s.kv_lora = 600;  // latent wider than attention supports
  w = make_weights(s, 1);
  EXPECT_NE(load_error(s, w).find("exceeds the supported head width"), std::string::npos)
      << load_error(s, w);
  // Tensors with 4 experts under a header that says 8: the error names tensor and shapes.
  s = qwen3moe();
  s.n_expert = 4;
  s.header_n_expert = 8;
  w = make_weights(s, 1);
  EXPECT_NE(load_error(s, w).find("ffn_gate_inp.weight': shape [64, 4], expected [64, 8]"),
            std::string::npos)
      << load_error(s, w);
}

}  // namespace
}  // namespace muse
