// Gradient checks of the causal attention core in its MLA form (q = [q_nope ; q_rope], keys
// with a rope part shared by every head, value width != q/k width), against central
// differences of a double reference (grad_check.h). Buffers use the strided layouts the model
// will use: k_nope and v interleaved per head in kv_b's output, k_rope inside kv_a's output.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "grad_check.h"
#include "kernels/attention.h"
#include "train/ops/attention.h"

namespace muse {
namespace {

struct Case {
  int64_t B, L, H, N, R, Dv, C;  // C: latent width in front of k_rope in the kv_a rows
  int64_t T() const { return B * L; }
  int64_t Dq() const { return N + R; }
};

// Inputs in double: q [T][H][N+R], kvb [T][H][N+Dv] (k_nope then v), kva [T][C+R] (k_rope at C).
struct Inputs {
  std::vector<double> q, kvb, kva;
};

Inputs make_inputs(const Case& c, uint32_t seed) {
  return {random_doubles(size_t(c.T() * c.H * c.Dq()), seed),
          random_doubles(size_t(c.T() * c.H * (c.N + c.Dv)), seed + 1),
          random_doubles(size_t(c.T() * (c.C + c.R)), seed + 2)};
}

// out [T][H][Dv] in double from the definition.
std::vector<double> attention_ref(const Case& c, const Inputs& in, double scale) {
  const int64_t H = c.H, N = c.N, R = c.R, Dv = c.Dv, Dq = c.Dq(), W = N + Dv;
  std::vector<double> out(size_t(c.T() * H * Dv), 0.0);
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < c.L; ++i) {
        const int64_t ti = b * c.L + i;
        std::vector<double> s(size_t(i + 1));
        double mx = -1e300;
        for (int64_t j = 0; j <= i; ++j) {
          const int64_t tj = b * c.L + j;
          double dot = 0.0;
          for (int64_t n = 0; n < N; ++n)
            dot += in.q[size_t((ti * H + h) * Dq + n)] * in.kvb[size_t((tj * H + h) * W + n)];
          for (int64_t r = 0; r < R; ++r)
            dot +=
                in.q[size_t((ti * H + h) * Dq + N + r)] * in.kva[size_t(tj * (c.C + R) + c.C + r)];
          s[size_t(j)] = scale * dot;
          mx = std::max(mx, s[size_t(j)]);
        }
        double sum = 0.0;
        for (double& v : s) sum += v = std::exp(v - mx);
        for (int64_t j = 0; j <= i; ++j) {
          const int64_t tj = b * c.L + j;
          for (int64_t e = 0; e < Dv; ++e)
            out[size_t((ti * H + h) * Dv + e)] +=
                s[size_t(j)] / sum * in.kvb[size_t((tj * H + h) * W + N + e)];
        }
      }
    }
  }
  return out;
}

struct OpRun {
  std::vector<float> out, dq, dkvb, dkva;
  AttentionSaved saved;
};

// Forward and backward of the op on the float inputs, upstream gradient dout.
OpRun run_op(const Case& c, const Inputs& in, const std::vector<float>& dout, int threads) {
  ThreadPool pool(threads);
  GemmScratch scratch;
  const auto q = to_float(in.q), kvb = to_float(in.kvb), kva = to_float(in.kva);
  const int64_t H = c.H, W = c.N + c.Dv, Dq = c.Dq(), KW = c.C + c.R;
  const AttentionDims d{
      .n_seq = c.B, .seq_len = c.L, .n_head = H, .dim_nope = c.N, .dim_rope = c.R, .dim_v = c.Dv};
  const AttentionInputs ai{.q = {q.data(), H * Dq, Dq},
                           .k_nope = {c.N > 0 ? kvb.data() : nullptr, H * W, W},  // null: unused
                           .k_rope = {c.R > 0 ? kva.data() + c.C : nullptr, KW, 0},
                           .v = {kvb.data() + c.N, H * W, W}};
  OpRun r;
  r.out.assign(size_t(c.T() * H * c.Dv), 0.0f);
  attention_forward(pool, scratch, d, ai, {r.out.data(), H * c.Dv, c.Dv}, r.saved);
  r.dq.assign(q.size(), 0.0f);
  r.dkvb.assign(kvb.size(), 0.0f);
  r.dkva.assign(kva.size(), 0.0f);  // the latent columns are not this op's: they stay 0
  attention_backward(pool, scratch, d, ai, {dout.data(), H * c.Dv, c.Dv}, r.saved,
                     {.dq = {r.dq.data(), H * Dq, Dq},
                      .dk_nope = {c.N > 0 ? r.dkvb.data() : nullptr, H * W, W},
                      .dk_rope = {c.R > 0 ? r.dkva.data() + c.C : nullptr, KW, 0},
                      .dv = {r.dkvb.data() + c.N, H * W, W}});
  return r;
}

void check_case(const Case& c) {
  Inputs in = make_inputs(c, 20);
  const std::vector<double> cw = random_doubles(size_t(c.T() * c.H * c.Dv), 30);
  const double scale = 1.0 / std::sqrt(double(c.Dq()));
  OpRun r = run_op(c, in, to_float(cw), 2);
  expect_values_near(r.out, attention_ref(c, in, scale), "out");

  // Saved probabilities: causal rows summing to one.
  for (int64_t i = 0; i < c.L; ++i) {
    double sum = 0.0;
    for (int64_t j = 0; j < c.L; ++j) {
      const float p = r.saved.probs[size_t(i * c.L + j)];
      if (j > i) {
        ASSERT_EQ(p, 0.0f) << i << "," << j;
      }
      sum += p;
    }
    ASSERT_NEAR(sum, 1.0, 1e-5);
  }

  const auto loss = [&] { return weighted_sum(cw, attention_ref(c, in, scale)); };
  expect_grad_near(r.dq, numeric_grad(loss, &in.q), "dq");
  expect_grad_near(r.dkvb, numeric_grad(loss, &in.kvb), "dk_nope/dv");
  if (c.R > 0) expect_grad_near(r.dkva, numeric_grad(loss, &in.kva), "dk_rope");
}

// Two sequences of 67 tokens: row blocks of 64 and 3, so the causal block skipping and the
// partial blocks are both exercised; no dim is a vector-width multiple.
TEST(AttentionGrad, MlaSplitKeysSharedRope) { check_case({2, 67, 2, 3, 2, 3, 2}); }
TEST(AttentionGrad, PlainMultiHead) { check_case({1, 9, 3, 5, 0, 4, 0}); }
TEST(AttentionGrad, RopeOnlyKeys) { check_case({1, 9, 2, 0, 4, 3, 1}); }

TEST(AttentionGrad, ThreadCountDoesNotChangeResults) {
  const Case c{3, 40, 4, 8, 4, 8, 8};
  const Inputs in = make_inputs(c, 40);
  const auto dout = to_float(random_doubles(size_t(c.T() * c.H * c.Dv), 41));
  const OpRun one = run_op(c, in, dout, 1), two = run_op(c, in, dout, 2);
  EXPECT_EQ(one.out, two.out);
  EXPECT_EQ(one.dq, two.dq);
  EXPECT_EQ(one.dkvb, two.dkvb);
  EXPECT_EQ(one.dkva, two.dkva);
}

// The training forward must agree with the inference kernel (kernels/attention.h) on the
// same MLA heads, with keys [k_nope ; k_rope] materialised per head as decompressed MLA does.
TEST(AttentionGrad, ForwardMatchesInferenceKernel) {
  const Case c{1, 50, 3, 16, 8, 12, 4};
  const Inputs in = make_inputs(c, 50);
  const auto dout = to_float(random_doubles(size_t(c.T() * c.H * c.Dv), 51));
  const OpRun r = run_op(c, in, dout, 2);
  const int64_t H = c.H, Dq = c.Dq(), W = c.N + c.Dv, T = c.T();
  std::vector<float> q = to_float(in.q), k(size_t(T * H * Dq)), v(size_t(T * H * c.Dv));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t n = 0; n < c.N; ++n)
        k[size_t((t * H + h) * Dq + n)] = float(in.kvb[size_t((t * H + h) * W + n)]);
      for (int64_t e = 0; e < c.R; ++e)
        k[size_t((t * H + h) * Dq + c.N + e)] = float(in.kva[size_t(t * (c.C + c.R) + c.C + e)]);
      for (int64_t e = 0; e < c.Dv; ++e)
        v[size_t((t * H + h) * c.Dv + e)] = float(in.kvb[size_t((t * H + h) * W + c.N + e)]);
    }
  }
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t);
  std::vector<float> out(size_t(T * H * c.Dv));
  const AttentionArgs a{.n_tokens = T,
                        .n_head = H,
                        .n_head_kv = H,
                        .head_dim = Dq,
                        .head_dim_v = c.Dv,
                        .n_kv = T,
                        .q = q.data(),
                        .k = k.data(),
                        .v = v.data(),
                        .out = out.data(),
                        .pos = pos.data(),
                        .kv_type = DType::F32};
  ASSERT_TRUE(validate_attention_args(a).ok());
  attention(a);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(r.out[i], out[i], 1e-5) << i;
}

}  // namespace
}  // namespace muse
