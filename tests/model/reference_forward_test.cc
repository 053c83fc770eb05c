// Each dense architecture against a naive float64 forward pass written here from the papers
// (RMSNorm, RoPE normal/NeoX, GQA softmax attention, SwiGLU), on tiny random F32 models
// built in the test: covers what no fixture has (qwen3's QK-norm and separate head dim,
// tied output with biases, linear RoPE scaling). Tolerance 2e-4 absolute on logits of
// magnitude ~1: float32 accumulation over a few hundred terms, far below any wiring error.
#include <gtest/gtest.h>

#include <cmath>
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
  int64_t n_embd = 64, n_head = 4, n_head_kv = 2, head_dim = 16, n_ff = 96, n_layer = 2;
  int64_t n_vocab = 50;
  bool neox = false, qkv_bias = false, qk_norm = false, tied = false;
  float rope_scale = 1.0f;  // linear scaling factor
};

using Mat = std::vector<float>;  // [n_out][n_in], GGML [n_in, n_out]

struct Weights {
  Mat embd, out_norm, output;
  struct Layer {
    Mat attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm, ffn_norm, gate, up, down;
  };
  std::vector<Layer> layers;
};

Mat rand_mat(std::mt19937& rng, int64_t n, float scale, float offset = 0.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  Mat m(static_cast<size_t>(n));
  for (float& v : m) v = offset + d(rng);
  return m;
}

Weights make_weights(const Spec& s, uint32_t seed) {
  std::mt19937 rng(seed);
  Weights w;
  const int64_t q = s.n_head * s.head_dim, kv = s.n_head_kv * s.head_dim;
  w.embd = rand_mat(rng, s.n_vocab * s.n_embd, 1.0f);
  w.out_norm = rand_mat(rng, s.n_embd, 0.1f, 1.0f);
  if (!s.tied) w.output = rand_mat(rng, s.n_vocab * s.n_embd, 0.2f);
  for (int64_t l = 0; l < s.n_layer; ++l) {
    Weights::Layer L;
    L.attn_norm = rand_mat(rng, s.n_embd, 0.1f, 1.0f);
    L.wq = rand_mat(rng, q * s.n_embd, 0.2f);
    L.wk = rand_mat(rng, kv * s.n_embd, 0.2f);
    L.wv = rand_mat(rng, kv * s.n_embd, 0.2f);
    L.wo = rand_mat(rng, s.n_embd * q, 0.2f);
    if (s.qkv_bias) {
      L.bq = rand_mat(rng, q, 0.1f);
      L.bk = rand_mat(rng, kv, 0.1f);
      L.bv = rand_mat(rng, kv, 0.1f);
    }
    if (s.qk_norm) {
      L.q_norm = rand_mat(rng, s.head_dim, 0.1f, 1.0f);
      L.k_norm = rand_mat(rng, s.head_dim, 0.1f, 1.0f);
    }
    L.ffn_norm = rand_mat(rng, s.n_embd, 0.1f, 1.0f);
    L.gate = rand_mat(rng, s.n_ff * s.n_embd, 0.2f);
    L.up = rand_mat(rng, s.n_ff * s.n_embd, 0.2f);
    L.down = rand_mat(rng, s.n_embd * s.n_ff, 0.2f);
    w.layers.push_back(std::move(L));
  }
  return w;
}

Status write_model(const Spec& s, const Weights& w, const std::string& path,
                   DType q_type = DType::F32) {
  GgufWriter g;
  const std::string a = s.arch;
  g.set_string("general.architecture", a);
  g.set_u32(a + ".context_length", 256);
  g.set_u32(a + ".embedding_length", uint32_t(s.n_embd));
  g.set_u32(a + ".block_count", uint32_t(s.n_layer));
  g.set_u32(a + ".feed_forward_length", uint32_t(s.n_ff));
  g.set_u32(a + ".attention.head_count", uint32_t(s.n_head));
  g.set_u32(a + ".attention.head_count_kv", uint32_t(s.n_head_kv));
  g.set_u32(a + ".attention.key_length", uint32_t(s.head_dim));
  g.set_u32(a + ".attention.value_length", uint32_t(s.head_dim));
  g.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
  g.set_f32(a + ".rope.freq_base", 10000.0f);
  if (s.rope_scale != 1.0f) {
    g.set_string(a + ".rope.scaling.type", "linear");
    g.set_f32(a + ".rope.scaling.factor", s.rope_scale);
  }
  auto add = [&](const std::string& name, const Mat& m, std::vector<int64_t> ne) {
    return g.add_tensor(name, DType::F32, ne, m.data());
  };
  const int64_t q = s.n_head * s.head_dim, kv = s.n_head_kv * s.head_dim;
  MUSE_RETURN_IF_ERROR(add("token_embd.weight", w.embd, {s.n_embd, s.n_vocab}));
  MUSE_RETURN_IF_ERROR(add("output_norm.weight", w.out_norm, {s.n_embd}));
  if (!s.tied) MUSE_RETURN_IF_ERROR(add("output.weight", w.output, {s.n_embd, s.n_vocab}));
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const auto& L = w.layers[size_t(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    MUSE_RETURN_IF_ERROR(add(p + "attn_norm.weight", L.attn_norm, {s.n_embd}));
    if (q_type == DType::F32) {
      MUSE_RETURN_IF_ERROR(add(p + "attn_q.weight", L.wq, {s.n_embd, q}));
    } else {  // raw bytes of another type, for the unsupported-type error
      const std::vector<int64_t> ne = {s.n_embd, q};
      MUSE_RETURN_IF_ERROR(g.add_tensor(p + "attn_q.weight", q_type, ne, [](std::span<uint8_t> d) {
        std::fill(d.begin(), d.end(), uint8_t(0));
        return Status::Ok();
      }));
    }
    MUSE_RETURN_IF_ERROR(add(p + "attn_k.weight", L.wk, {s.n_embd, kv}));
    MUSE_RETURN_IF_ERROR(add(p + "attn_v.weight", L.wv, {s.n_embd, kv}));
    MUSE_RETURN_IF_ERROR(add(p + "attn_output.weight", L.wo, {q, s.n_embd}));
    if (s.qkv_bias) {
      MUSE_RETURN_IF_ERROR(add(p + "attn_q.bias", L.bq, {q}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_k.bias", L.bk, {kv}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_v.bias", L.bv, {kv}));
    }
    if (s.qk_norm) {
      MUSE_RETURN_IF_ERROR(add(p + "attn_q_norm.weight", L.q_norm, {s.head_dim}));
      MUSE_RETURN_IF_ERROR(add(p + "attn_k_norm.weight", L.k_norm, {s.head_dim}));
    }
    MUSE_RETURN_IF_ERROR(add(p + "ffn_norm.weight", L.ffn_norm, {s.n_embd}));
    MUSE_RETURN_IF_ERROR(add(p + "ffn_gate.weight", L.gate, {s.n_embd, s.n_ff}));
    MUSE_RETURN_IF_ERROR(add(p + "ffn_up.weight", L.up, {s.n_embd, s.n_ff}));
    MUSE_RETURN_IF_ERROR(add(p + "ffn_down.weight", L.down, {s.n_ff, s.n_embd}));
  }
  return g.write(path);
}

using Vec = std::vector<double>;

Vec matvec(const Mat& m, const Vec& x, int64_t n_out) {
  const int64_t n_in = int64_t(x.size());
  Vec y(static_cast<size_t>(n_out), 0.0);
  for (int64_t o = 0; o < n_out; ++o)
    for (int64_t i = 0; i < n_in; ++i)
      y[size_t(o)] += double(m[size_t(o * n_in + i)]) * x[size_t(i)];
  return y;
}

Vec rms_norm(const Vec& x, const float* w, size_t off, size_t n, double eps) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += x[off + i] * x[off + i];
  const double r = 1.0 / std::sqrt(ss / double(n) + eps);
  Vec y(n);
  for (size_t i = 0; i < n; ++i) y[i] = x[off + i] * r * double(w[i]);
  return y;
}

// RoFormer rotation of one head in place; pairs per style (GGML mode 0 / NeoX).
void rope(double* h, int64_t dim, int64_t pos, bool neox, double scale) {
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double theta = double(pos) / scale * std::pow(10000.0, -2.0 * double(i) / double(dim));
    const int64_t a = neox ? i : 2 * i, b = neox ? i + dim / 2 : 2 * i + 1;
    const double x0 = h[a], x1 = h[b];
    h[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
    h[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
  }
}

std::vector<Vec> reference_logits(const Spec& s, const Weights& w,
                                  const std::vector<int32_t>& toks) {
  const int64_t T = int64_t(toks.size()), D = s.n_embd, Dh = s.head_dim;
  const int64_t q_dim = s.n_head * Dh, kv_dim = s.n_head_kv * Dh;
  std::vector<Vec> x(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)
    x[size_t(t)] =
        Vec(w.embd.begin() + toks[size_t(t)] * D, w.embd.begin() + (toks[size_t(t)] + 1) * D);
  for (const auto& L : w.layers) {
    std::vector<Vec> q(static_cast<size_t>(T)), k(static_cast<size_t>(T)),
        v(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      const Vec h = rms_norm(x[size_t(t)], L.attn_norm.data(), 0, size_t(D), 1e-6);
      q[size_t(t)] = matvec(L.wq, h, q_dim);
      k[size_t(t)] = matvec(L.wk, h, kv_dim);
      v[size_t(t)] = matvec(L.wv, h, kv_dim);
      for (int64_t i = 0; s.qkv_bias && i < q_dim; ++i) q[size_t(t)][size_t(i)] += L.bq[size_t(i)];
      for (int64_t i = 0; s.qkv_bias && i < kv_dim; ++i) {
        k[size_t(t)][size_t(i)] += L.bk[size_t(i)];
        v[size_t(t)][size_t(i)] += L.bv[size_t(i)];
      }
      for (int64_t hd = 0; hd < s.n_head; ++hd) {
        if (s.qk_norm) {
          const Vec n = rms_norm(q[size_t(t)], L.q_norm.data(), size_t(hd * Dh), size_t(Dh), 1e-6);
          std::copy(n.begin(), n.end(), q[size_t(t)].begin() + hd * Dh);
        }
        rope(&q[size_t(t)][size_t(hd * Dh)], Dh, t, s.neox, s.rope_scale);
      }
      for (int64_t hd = 0; hd < s.n_head_kv; ++hd) {
        if (s.qk_norm) {
          const Vec n = rms_norm(k[size_t(t)], L.k_norm.data(), size_t(hd * Dh), size_t(Dh), 1e-6);
          std::copy(n.begin(), n.end(), k[size_t(t)].begin() + hd * Dh);
        }
        rope(&k[size_t(t)][size_t(hd * Dh)], Dh, t, s.neox, s.rope_scale);
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      Vec attn(static_cast<size_t>(q_dim), 0.0);
      for (int64_t hd = 0; hd < s.n_head; ++hd) {
        const int64_t g = hd / (s.n_head / s.n_head_kv);
        Vec score(static_cast<size_t>(t + 1));
        double mx = -1e300;
        for (int64_t j = 0; j <= t; ++j) {
          double d = 0;
          for (int64_t e = 0; e < Dh; ++e)
            d += q[size_t(t)][size_t(hd * Dh + e)] * k[size_t(j)][size_t(g * Dh + e)];
          score[size_t(j)] = d / std::sqrt(double(Dh));
          mx = std::max(mx, score[size_t(j)]);
        }
        double sum = 0;
        for (double& sc : score) sum += (sc = std::exp(sc - mx));
        for (int64_t j = 0; j <= t; ++j)
          for (int64_t e = 0; e < Dh; ++e)
            attn[size_t(hd * Dh + e)] += score[size_t(j)] / sum * v[size_t(j)][size_t(g * Dh + e)];
      }
      const Vec o = matvec(L.wo, attn, D);
      for (int64_t i = 0; i < D; ++i) x[size_t(t)][size_t(i)] += o[size_t(i)];
      const Vec h = rms_norm(x[size_t(t)], L.ffn_norm.data(), 0, size_t(D), 1e-6);
      const Vec gt = matvec(L.gate, h, s.n_ff), up = matvec(L.up, h, s.n_ff);
      Vec a(static_cast<size_t>(s.n_ff));
      for (size_t i = 0; i < a.size(); ++i) a[i] = gt[i] / (1.0 + std::exp(-gt[i])) * up[i];
      const Vec d = matvec(L.down, a, D);
      for (int64_t i = 0; i < D; ++i) x[size_t(t)][size_t(i)] += d[size_t(i)];
    }
  }
  std::vector<Vec> out;
  for (int64_t t = 0; t < T; ++t) {
    const Vec h = rms_norm(x[size_t(t)], w.out_norm.data(), 0, size_t(D), 1e-6);
    out.push_back(matvec(s.tied ? w.embd : w.output, h, s.n_vocab));
  }
  return out;
}

class ReferenceForward : public ::testing::TestWithParam<Spec> {};

TEST_P(ReferenceForward, MatchesFloat64) {
  const Spec& s = GetParam();
  const Weights w = make_weights(s, 7);
  testing::TempDir dir;
  const std::string path = dir.file("m.gguf");
  ASSERT_TRUE(write_model(s, w, path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  ThreadPool pool(2);
  const std::vector<int32_t> toks = {1, 7, 42, 3, 3, 19, 0, 49, 25, 11};
  const auto want = reference_logits(s, w, toks);
  // Whole prompt in one step, and token by token (the decode path).
  for (int64_t batch : {int64_t(16), int64_t(1)}) {
    auto ctx =
        ModelContext::create(**model, pool, {.n_ctx = 64, .n_batch = batch, .kv_type = DType::F32});
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
            << s.arch << " batch " << batch << " position " << t << " token " << i;
    }
  }
}

Spec llama() { return Spec{.arch = "llama"}; }
Spec qwen2() { return Spec{.arch = "qwen2", .neox = true, .qkv_bias = true, .tied = true}; }
Spec qwen3() {  // head_dim 32 != n_embd / n_head = 16, as Qwen3 models have
  return Spec{.arch = "qwen3", .head_dim = 32, .neox = true, .qk_norm = true};
}
Spec llama_scaled() { return Spec{.arch = "llama", .n_head_kv = 4, .rope_scale = 4.0f}; }

INSTANTIATE_TEST_SUITE_P(Dense, ReferenceForward,
                         ::testing::Values(llama(), qwen2(), qwen3(), llama_scaled()),
                         [](const auto& info) {
                           return info.param.arch +
                                  (info.param.rope_scale != 1.0f ? "_scaled" : "");
                         });

TEST(ModelLoad, ClearErrors) {
  testing::TempDir dir;
  Spec s = llama();
  Weights w = make_weights(s, 1);
  const std::string path = dir.file("m.gguf");
  s.arch = "gpt-j";
  ASSERT_TRUE(write_model(s, w, path).ok());
  auto m = Model::load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("architecture 'gpt-j' is not supported"), std::string::npos)
      << m.status().message();
  s = qwen3();
  s.qk_norm = false;  // qwen3 without its norms
  w = make_weights(s, 1);
  ASSERT_TRUE(write_model(s, w, path).ok());
  m = Model::load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("attn_q_norm.weight' is missing"), std::string::npos)
      << m.status().message();
  // Q8_K is an activation format: no model weight may use it.
  s = Spec{.arch = "llama", .n_embd = 256};
  w = make_weights(s, 1);
  ASSERT_TRUE(write_model(s, w, path, DType::Q8_K).ok());
  m = Model::load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("'blk.0.attn_q.weight': weight type q8_K is not supported"),
            std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace muse
