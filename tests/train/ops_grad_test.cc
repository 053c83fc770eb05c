// Gradient checks of the dense training ops (embedding, RMSNorm, linear, RoPE, SwiGLU,
// cross-entropy) against central differences of double references; method and tolerance in
// grad_check.h. Shapes are small and odd so no size is a multiple of a vector width.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "grad_check.h"
#include "train/ops/cross_entropy.h"
#include "train/ops/embedding.h"
#include "train/ops/linear.h"
#include "train/ops/rms_norm.h"
#include "train/ops/rope.h"
#include "train/ops/swiglu.h"

namespace muse {
namespace {

TEST(EmbeddingGrad, LookupAndScatterAdd) {
  ThreadPool pool(2);
  const int64_t V = 7, D = 5;
  const std::vector<int32_t> ids = {3, 1, 3, 6, 0};  // id 3 twice: its gradient rows add
  const int64_t T = int64_t(ids.size());
  std::vector<double> table = random_doubles(size_t(V * D), 1);
  const std::vector<double> c = random_doubles(size_t(T * D), 2);
  const auto tf = to_float(table);
  std::vector<float> out(size_t(T * D));
  ASSERT_TRUE(embedding_forward(tf.data(), V, D, ids, out.data()).ok());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) EXPECT_EQ(out[size_t(t * D + d)], tf[size_t(ids[t] * D + d)]);

  std::vector<float> dtable(size_t(V * D), 0.5f);  // nonzero: backward must add, not write
  embedding_backward(pool, ids, to_float(c).data(), D, dtable.data());
  for (float& g : dtable) g -= 0.5f;
  const auto ref = [&] {
    double l = 0.0;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) l += c[size_t(t * D + d)] * table[size_t(ids[t] * D + d)];
    return l;
  };
  expect_grad_near(dtable, numeric_grad(ref, &table), "dtable");
}

TEST(EmbeddingGrad, RejectsIdsOutsideVocabulary) {
  std::vector<float> table(12), out(8);
  const std::vector<int32_t> bad = {1, 4};
  const Status s = embedding_forward(table.data(), 4, 3, bad, out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("token 1 has id 4"), std::string::npos) << s.message();
  const std::vector<int32_t> negative = {-1};
  EXPECT_FALSE(embedding_forward(table.data(), 4, 3, negative, out.data()).ok());
}

// y = x / sqrt(mean(x²) + eps) ∘ w, rows ldx apart in x and ldy apart in y.
std::vector<double> rms_norm_ref(const std::vector<double>& x, const std::vector<double>& w,
                                 int64_t T, int64_t D, int64_t ldx, double eps) {
  std::vector<double> y(size_t(T * D));
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0.0;
    for (int64_t i = 0; i < D; ++i) ss += x[size_t(t * ldx + i)] * x[size_t(t * ldx + i)];
    const double r = 1.0 / std::sqrt(ss / double(D) + eps);
    for (int64_t i = 0; i < D; ++i)
      y[size_t(t * D + i)] = x[size_t(t * ldx + i)] * r * w[size_t(i)];
  }
  return y;
}

TEST(RmsNormGrad, InputAndWeightWithStridesAndBothModes) {
  ThreadPool pool(2);
  const int64_t T = 37, D = 19, ldx = 23;  // 37 rows: two row chunks; ldx: x inside a wider row
  const float eps = 1e-5f;
  std::vector<double> x = random_doubles(size_t(T * ldx), 3);
  std::vector<double> w = random_doubles(size_t(D), 4, 0.5, 1.5);
  const std::vector<double> c = random_doubles(size_t(T * D), 5);
  const auto xf = to_float(x), wf = to_float(w), cf = to_float(c);
  const RmsNormArgs a{
      .n_rows = T, .width = D, .x = xf.data(), .weight = wf.data(), .eps = eps, .ldx = ldx};
  RmsNormSaved saved;
  std::vector<float> y(size_t(T * D));
  rms_norm_forward(pool, a, y.data(), saved);
  expect_values_near(y, rms_norm_ref(x, w, T, D, ldx, eps), "y");

  std::vector<float> dx(size_t(T * ldx), 7.0f), dw(size_t(D), 0.25f);
  rms_norm_backward(pool, a, saved, cf.data(), dx.data(), GradMode::kWrite, dw.data());
  for (float& g : dw) g -= 0.25f;
  const auto ref = [&] { return weighted_sum(c, rms_norm_ref(x, w, T, D, ldx, eps)); };
  std::vector<double> want_dx = numeric_grad(ref, &x);
  // Padding columns (ldx > D) are not inputs: kWrite leaves them alone.
  std::vector<float> dx_cols;
  std::vector<double> want_cols;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < D; ++i) {
      dx_cols.push_back(dx[size_t(t * ldx + i)]);
      want_cols.push_back(want_dx[size_t(t * ldx + i)]);
    }
    for (int64_t i = D; i < ldx; ++i) EXPECT_EQ(dx[size_t(t * ldx + i)], 7.0f);
  }
  expect_grad_near(dx_cols, want_cols, "dx");
  expect_grad_near(dw, numeric_grad(ref, &w), "dw");

  // kAccumulate adds the same gradient onto what is there.
  std::vector<float> acc(size_t(T * ldx), 1.0f);
  rms_norm_backward(pool, a, saved, cf.data(), acc.data(), GradMode::kAccumulate, nullptr);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < D; ++i)
      EXPECT_NEAR(acc[size_t(t * ldx + i)] - 1.0f, dx[size_t(t * ldx + i)], 2.4e-7);  // ulp(1)
}

// y = x·Wᵀ + b.
std::vector<double> linear_ref(const std::vector<double>& x, const std::vector<double>& w,
                               const std::vector<double>& b, int64_t T, int64_t in, int64_t out) {
  std::vector<double> y(size_t(T * out));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[size_t(o)];
      for (int64_t i = 0; i < in; ++i) s += x[size_t(t * in + i)] * w[size_t(o * in + i)];
      y[size_t(t * out + o)] = s;
    }
  }
  return y;
}

TEST(LinearGrad, InputWeightAndBias) {
  ThreadPool pool(2);
  const int64_t T = 7, in = 13, out = 11;
  std::vector<double> x = random_doubles(size_t(T * in), 6);
  std::vector<double> w = random_doubles(size_t(out * in), 7);
  std::vector<double> b = random_doubles(size_t(out), 8);
  const std::vector<double> c = random_doubles(size_t(T * out), 9);
  const auto xf = to_float(x), wf = to_float(w), bf = to_float(b), cf = to_float(c);
  GemmScratch scratch;
  const LinearArgs a{
      .n_tokens = T, .n_in = in, .n_out = out, .x = xf.data(), .w = wf.data(), .bias = bf.data()};
  std::vector<float> y(size_t(T * out));
  linear_forward(pool, scratch, a, y.data());
  expect_values_near(y, linear_ref(x, w, b, T, in, out), "y");

  std::vector<float> dx(size_t(T * in), 2.0f), dw(size_t(out * in), 1.0f), db(size_t(out), 3.0f);
  linear_backward(
      pool, scratch, a, cf.data(),
      {.dx = dx.data(), .dx_mode = GradMode::kAccumulate, .dw = dw.data(), .db = db.data()});
  for (float& g : dx) g -= 2.0f;
  for (float& g : dw) g -= 1.0f;
  for (float& g : db) g -= 3.0f;
  const auto ref = [&] { return weighted_sum(c, linear_ref(x, w, b, T, in, out)); };
  expect_grad_near(dx, numeric_grad(ref, &x), "dx");
  expect_grad_near(dw, numeric_grad(ref, &w), "dw");
  expect_grad_near(db, numeric_grad(ref, &b), "db");
}

// The GEMM sums every output element in one fixed order whatever the split, so results are
// bit-identical across thread counts. k = 300 crosses the 256-deep k block, T = 100 spans
// several row blocks, n_out = 70 leaves a partial 16-column panel.
TEST(LinearGrad, MultithreadedEqualsSingleThreaded) {
  const int64_t T = 100, in = 300, out = 70;
  const auto x = to_float(random_doubles(size_t(T * in), 10));
  const auto w = to_float(random_doubles(size_t(out * in), 11));
  const auto dy = to_float(random_doubles(size_t(T * out), 12));
  struct Result {
    std::vector<float> y, dx, dw;
  };
  const auto run = [&](int threads) {
    ThreadPool pool(threads);
    GemmScratch scratch;
    Result r{std::vector<float>(size_t(T * out)), std::vector<float>(size_t(T * in)),
             std::vector<float>(size_t(out * in), 0.0f)};
    const LinearArgs a{.n_tokens = T, .n_in = in, .n_out = out, .x = x.data(), .w = w.data()};
    linear_forward(pool, scratch, a, r.y.data());
    linear_backward(pool, scratch, a, dy.data(), {.dx = r.dx.data(), .dw = r.dw.data()});
    return r;
  };
  const Result one = run(1);
  for (int threads : {2, 3}) {
    const Result many = run(threads);
    EXPECT_EQ(one.y, many.y) << threads << " threads";
    EXPECT_EQ(one.dx, many.dx) << threads << " threads";
    EXPECT_EQ(one.dw, many.dw) << threads << " threads";
  }
  // And the products are right: y against a double reference, |error| <= k·u·Σ|x||w|-ish.
  std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end());
  const std::vector<double> y_ref = linear_ref(xd, wd, {}, T, in, out);
  for (size_t i = 0; i < y_ref.size(); ++i) ASSERT_NEAR(one.y[i], y_ref[i], 2e-4) << i;
}

// RoPE in double from the definition: pair (a, b) of pair index i rotates by
// θ = pos · freq_scale · base^(−2i/n_rot), magnitude attn_factor.
void rope_ref(const RopeParams& p, const std::vector<int32_t>& pos, std::vector<double>& x,
              int64_t H, int64_t head_stride, int64_t offset) {
  const int64_t half = p.n_rot / 2;
  for (size_t t = 0; t < pos.size(); ++t) {
    for (int64_t h = 0; h < H; ++h) {
      double* v = &x[size_t(int64_t(t) * H * head_stride + h * head_stride + offset)];
      for (int64_t i = 0; i < half; ++i) {
        const double theta = double(pos[t]) * double(p.freq_scale) *
                             std::pow(double(p.freq_base), -2.0 * double(i) / double(p.n_rot));
        const double c = std::cos(theta) * p.attn_factor, s = std::sin(theta) * p.attn_factor;
        const int64_t ia = p.style == RopeStyle::Normal ? 2 * i : i;
        const int64_t ib = p.style == RopeStyle::Normal ? 2 * i + 1 : i + half;
        const double a = v[ia], b = v[ib];
        v[ia] = a * c - b * s;
        v[ib] = a * s + b * c;
      }
    }
  }
}

TEST(RopeGrad, MlaQueryLayoutBothStyles) {
  // MLA's q: per head [q_nope (5) ; q_rope (8)]; only the rope part rotates.
  const int64_t H = 3, N = 5, R = 8, Dq = N + R;
  const std::vector<int32_t> pos = {0, 5, 17, 1000};
  const int64_t T = int64_t(pos.size());
  for (RopeStyle style : {RopeStyle::Normal, RopeStyle::NeoX}) {
    const RopeParams p{.style = style,
                       .n_rot = int(R),
                       .freq_base = 500.0f,
                       .freq_scale = 0.5f,
                       .attn_factor = 1.25f};
    RopeTables tables;
    ASSERT_TRUE(rope_tables_init(p, pos, tables).ok());
    std::vector<double> x = random_doubles(size_t(T * H * Dq), 13);
    const std::vector<double> c = random_doubles(x.size(), 14);
    std::vector<float> y = to_float(x);
    rope_forward(tables, y.data() + N, H, H * Dq, Dq);
    std::vector<double> want = x;
    rope_ref(p, pos, want, H, Dq, N);
    expect_values_near(y, want, "y");

    std::vector<float> dx = to_float(c);  // backward runs in place on the gradient
    rope_backward(tables, dx.data() + N, H, H * Dq, Dq);
    const auto ref = [&] {
      std::vector<double> r = x;
      rope_ref(p, pos, r, H, Dq, N);
      return weighted_sum(c, r);
    };
    expect_grad_near(dx, numeric_grad(ref, &x), style == RopeStyle::Normal ? "normal" : "neox");
  }
}

TEST(RopeGrad, RejectsOddRotation) {
  RopeTables tables;
  const std::vector<int32_t> pos = {0};
  EXPECT_FALSE(rope_tables_init({.n_rot = 7}, pos, tables).ok());
}

TEST(SwigluGrad, FusedGateUpLayout) {
  ThreadPool pool(2);
  // One [rows][2F] buffer holding gate then up per row, as a fused projection writes it.
  const int64_t rows = 5, F = 21;
  std::vector<double> gu = random_doubles(size_t(rows * 2 * F), 15, -4.0, 4.0);
  const std::vector<double> c = random_doubles(size_t(rows * F), 16);
  const auto guf = to_float(gu), cf = to_float(c);
  const SwigluArgs a{.n_rows = rows,
                     .width = F,
                     .gate = guf.data(),
                     .up = guf.data() + F,
                     .ld_gate = 2 * F,
                     .ld_up = 2 * F};
  const auto ref_out = [&] {
    std::vector<double> y(size_t(rows * F));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < F; ++i) {
        const double g = gu[size_t(r * 2 * F + i)], u = gu[size_t(r * 2 * F + F + i)];
        y[size_t(r * F + i)] = g / (1.0 + std::exp(-g)) * u;
      }
    }
    return y;
  };
  std::vector<float> y(size_t(rows * F));
  swiglu_forward(pool, a, y.data());
  expect_values_near(y, ref_out(), "y");

  std::vector<float> dgu(guf.size());
  swiglu_backward(pool, a, cf.data(), dgu.data(), dgu.data() + F);
  expect_grad_near(dgu, numeric_grad([&] { return weighted_sum(c, ref_out()); }, &gu), "dgate/dup");
}

// Mean over counted rows of logsumexp − x[target].
double cross_entropy_ref(const std::vector<double>& x, const std::vector<int32_t>& targets,
                         int64_t V) {
  double total = 0.0;
  int64_t n = 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    if (targets[t] < 0) continue;
    const double* row = &x[t * size_t(V)];
    const double mx = *std::max_element(row, row + V);
    double s = 0.0;
    for (int64_t i = 0; i < V; ++i) s += std::exp(row[i] - mx);
    total += std::log(s) + mx - row[targets[t]];
    ++n;
  }
  return n ? total / double(n) : 0.0;
}

TEST(CrossEntropyGrad, FusedSoftmaxBackwardWithIgnoredRows) {
  ThreadPool pool(2);
  const int64_t V = 37;
  const std::vector<int32_t> targets = {3, -1, 36, 0, -1, 17, 17, 5, 9, 30};
  const int64_t T = int64_t(targets.size());
  std::vector<double> x = random_doubles(size_t(T * V), 17, -3.0, 3.0);
  const auto xf = to_float(x);
  std::vector<float> d(xf.size(), 9.0f);
  const float dloss = 0.75f;
  auto loss = cross_entropy_forward_backward(pool, xf.data(), targets, V, d.data(), dloss);
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, cross_entropy_ref(x, targets, V), 1e-6);
  auto loss_only = cross_entropy_forward(pool, xf.data(), targets, V);
  ASSERT_TRUE(loss_only.ok());
  EXPECT_NEAR(*loss_only, *loss, 1e-6);

  std::vector<double> want = numeric_grad([&] { return cross_entropy_ref(x, targets, V); }, &x);
  for (double& g : want) g *= dloss;
  expect_grad_near(d, want, "dlogits");
  for (int64_t i = 0; i < V; ++i) EXPECT_EQ(d[size_t(1 * V + i)], 0.0f);  // ignored row

  // In place (dlogits aliasing logits) gives the same loss and gradient.
  std::vector<float> inplace = xf;
  auto loss2 =
      cross_entropy_forward_backward(pool, inplace.data(), targets, V, inplace.data(), dloss);
  ASSERT_TRUE(loss2.ok());
  EXPECT_EQ(*loss2, *loss);
  EXPECT_EQ(inplace, d);
}

TEST(CrossEntropyGrad, ExtremeLogitsAndEdgeCases) {
  ThreadPool pool(1);
  // A target 200 nats below the best logit: p underflows to 0 in float, the loss must not.
  const std::vector<float> x = {100.0f, -100.0f, 0.0f};
  const std::vector<int32_t> tgt = {1};
  std::vector<float> d(3);
  auto loss = cross_entropy_forward_backward(pool, x.data(), tgt, 3, d.data());
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, 200.0, 1e-3);
  EXPECT_NEAR(d[0], 1.0f, 1e-6);
  EXPECT_NEAR(d[1], -1.0f, 1e-6);

  const std::vector<int32_t> none = {-1};
  loss = cross_entropy_forward_backward(pool, x.data(), none, 3, d.data());
  ASSERT_TRUE(loss.ok());
  EXPECT_EQ(*loss, 0.0f);
  for (float g : d) EXPECT_EQ(g, 0.0f);

  const std::vector<int32_t> bad = {3};
  EXPECT_FALSE(cross_entropy_forward(pool, x.data(), bad, 3).ok());
}

}  // namespace
}  // namespace muse
