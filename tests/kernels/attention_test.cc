// Checks the streaming-softmax attention kernel against a naive double-precision reference
// (reference_attention below) on each SIMD target: random data over head dims, GQA ratios,
// kv lengths, F32/F16 K/V, strided rows, prefill blocks, split q.k / v head dims (DeepSeek
// MLA, with V aliasing the latent K cache), and exact properties (one kv row, work splits).
// K/V padding and rows past the causal limit hold NaN so any read shows up.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "hwy/tests/hwy_gtest.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "kernels/ops_ref.h"

namespace muse {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kSentinel = 12345.0f;

// Float lanes of a Highway target; HWY_SCALAR (the fallback on GCC < 12.3) has one.
int64_t float_lanes(int64_t target) {
  if (target & (HWY_AVX3 | HWY_AVX3_DL)) return 16;
  if (target & HWY_AVX2) return 8;
  if (target & (HWY_SSE4 | HWY_SSSE3 | HWY_EMU128)) return 4;
  return 1;
}

struct Shape {
  int64_t n_tokens = 1;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t head_dim = 64;
  int64_t head_dim_v = 0;  // 0 = head_dim, as in AttentionArgs
  int64_t len = 10;        // causal length of the last query token; rows 0..len-1 are real
  DType kv_type = DType::F16;
  int64_t kv_pad = 0;  // extra NaN elements per kv row (a strided cache)
  int64_t q_pad = 0, out_pad = 0;
  bool packed_strides = false;  // pass every stride as 0 (needs no padding)
  bool v_aliases_k = false;     // MLA latent cache: v = k, V is the first head_dim_v of a row
  float scale = 0.0f;           // 0 = 1/sqrt(head_dim), as in AttentionArgs
  float q_range = 1.0f;
  bool rising_keys = false;  // scores grow with j: the running max moves every tile
};

// Owns the buffers behind an AttentionArgs, and the layout as the test understands it
// (every "0 = default" resolved here, independently of the kernel).
struct Problem {
  std::vector<float> q, out, out_ref;
  std::vector<float> k32, v32;
  std::vector<fp16_t> k16, v16;
  std::vector<int32_t> pos;
  int64_t dk = 0, dv = 0;  // head dims of q/k and of v/out
  int64_t q_stride = 0, k_stride = 0, v_stride = 0, o_stride = 0;
  double scale = 0.0;
  AttentionArgs args;
};

Problem make_problem(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  Problem p;
  p.dk = s.head_dim;
  p.dv = s.head_dim_v ? s.head_dim_v : s.head_dim;
  p.q_stride = s.n_head * p.dk + s.q_pad;
  p.o_stride = s.n_head * p.dv + s.out_pad;
  p.k_stride = s.n_head_kv * p.dk + s.kv_pad;
  p.v_stride = s.v_aliases_k ? p.k_stride : s.n_head_kv * p.dv + s.kv_pad;
  p.scale = s.scale != 0.0f ? double(s.scale) : 1.0 / std::sqrt(double(p.dk));
  EXPECT_TRUE(!s.v_aliases_k || (s.n_head_kv == 1 && p.dv <= p.dk)) << "alias needs a row";
  EXPECT_TRUE(!s.packed_strides || (s.q_pad == 0 && s.out_pad == 0 && s.kv_pad == 0));
  const int64_t n_kv = s.len + 2;  // two rows past every causal limit, all NaN
  p.q.resize(s.n_tokens * p.q_stride);
  for (float& x : p.q) x = s.q_range * unit(rng);
  p.out.assign(s.n_tokens * p.o_stride, kSentinel);
  p.out_ref = p.out;
  std::vector<float> k(n_kv * p.k_stride, kNaN), v;
  if (!s.v_aliases_k) v.assign(n_kv * p.v_stride, kNaN);
  const int64_t k_used = s.n_head_kv * p.dk, v_used = s.v_aliases_k ? 0 : s.n_head_kv * p.dv;
  for (int64_t j = 0; j < s.len; ++j) {
    // k and v draws interleave, as they did before the head dims were split.
    for (int64_t e = 0; e < std::max(k_used, v_used); ++e) {
      if (e < k_used) {
        float kv = unit(rng);
        if (s.rising_keys) {  // align k with sign(q) of token 0 head 0, growing with j
          const float qd = p.q[e % p.dk];
          kv = 0.1f * kv + (qd >= 0 ? 1.0f : -1.0f) * float(j + 1) / float(s.len);
        }
        k[j * p.k_stride + e] = kv;
      }
      if (e < v_used) v[j * p.v_stride + e] = unit(rng);
    }
  }
  const bool f16 = s.kv_type == DType::F16;
  if (f16) {
    for (float x : k) p.k16.push_back(fp32_to_fp16(x));
    for (float x : v) p.v16.push_back(fp32_to_fp16(x));
  } else {
    p.k32 = std::move(k);
    p.v32 = std::move(v);
  }
  for (int64_t t = 0; t < s.n_tokens; ++t) p.pos.push_back(int32_t(s.len - s.n_tokens + t));
  const void* k_ptr = f16 ? static_cast<const void*>(p.k16.data()) : p.k32.data();
  const void* v_ptr = f16 ? static_cast<const void*>(p.v16.data()) : p.v32.data();
  const bool packed = s.packed_strides;
  p.args = AttentionArgs{.n_tokens = s.n_tokens,
                         .n_head = s.n_head,
                         .n_head_kv = s.n_head_kv,
                         .head_dim = s.head_dim,
                         .head_dim_v = s.head_dim_v,
                         .n_kv = n_kv,
                         .q = p.q.data(),
                         .k = k_ptr,
                         .v = s.v_aliases_k ? k_ptr : v_ptr,
                         .out = p.out.data(),
                         .pos = p.pos.data(),
                         .kv_type = s.kv_type,
                         .q_token_stride = packed ? 0 : p.q_stride,
                         .k_row_stride = packed ? 0 : p.k_stride,
                         .v_row_stride = packed ? 0 : p.v_stride,
                         .out_token_stride = packed ? 0 : p.o_stride,
                         .scale = s.scale};
  return p;
}

// Element d of kv head g in row j of the K or V array (whichever `base` is).
double kv_at(const Problem& p, const void* base, int64_t stride, int64_t dim, int64_t j, int64_t g,
             int64_t d) {
  const int64_t idx = j * stride + g * dim + d;
  if (p.args.kv_type == DType::F16) return fp16_to_fp32(static_cast<const fp16_t*>(base)[idx]);
  return static_cast<const float*>(base)[idx];
}
double k_at(const Problem& p, int64_t j, int64_t g, int64_t d) {
  return kv_at(p, p.args.k, p.k_stride, p.dk, j, g, d);
}
double v_at(const Problem& p, int64_t j, int64_t g, int64_t d) {
  return kv_at(p, p.args.v, p.v_stride, p.dv, j, g, d);
}

// Naive causal attention in double into p.out_ref: full score row over dk, max-subtracted
// softmax, weighted sum of V over dv. `attention_ref` (kernels/ops_ref.h) knows one head dim
// only; ReferenceAgreesWithOpsRef ties the two together where both apply.
void reference_attention(Problem& p) {
  const AttentionArgs& a = p.args;
  const int64_t group = a.n_head / a.n_head_kv;
  std::vector<double> w, o(static_cast<size_t>(p.dv));
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int64_t len = int64_t(a.pos[t]) + 1;
    w.assign(static_cast<size_t>(len), 0.0);
    for (int64_t h = 0; h < a.n_head; ++h) {
      const int64_t g = h / group;
      const float* q = a.q + t * p.q_stride + h * p.dk;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < len; ++j) {
        double s = 0.0;
        for (int64_t d = 0; d < p.dk; ++d) s += double(q[d]) * k_at(p, j, g, d);
        w[j] = s * p.scale;
        mx = std::max(mx, w[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < len; ++j) sum += w[j] = std::exp(w[j] - mx);
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = 0; j < len; ++j) {
        for (int64_t d = 0; d < p.dv; ++d) o[d] += w[j] * v_at(p, j, g, d);
      }
      float* out = p.out_ref.data() + t * p.o_stride + h * p.dv;
      for (int64_t d = 0; d < p.dv; ++d) out[d] = static_cast<float>(o[d] / sum);
    }
  }
}

// Error model for one (token, head). S = scale * max_j sum_d |q_d k_jd| bounds |score|.
// Each float score is a dot of D = head_dim terms on L lanes, a sum whose terms pass
// through <= D/L + log2(L) + 2 roundings (gamma_dot, Higham eq. 4.4) -> error gamma_dot S.
// A weight p_j = exp(s_j - m) then errs by eps_p <= 2 gamma_dot S + 2 u S + 4 u
// (both scores, the subtraction, exp and rounding). Perturbing every weight by eps_p moves
// a weighted mean by <= 2 eps_p max|v|; the float sums of len terms and the len/16 rescales
// add (17/16 len + 4) u max|v|. Only the dot length D depends on head_dim; max|v| is over
// the head_dim_v elements that V rows contribute.
double tolerance(const Problem& p, int64_t t, int64_t h, int64_t lanes) {
  const AttentionArgs& a = p.args;
  const int64_t g = h / (a.n_head / a.n_head_kv);
  const float* q = a.q + t * p.q_stride + h * p.dk;
  double s_max = 0.0, v_max = 0.0;
  for (int64_t j = 0; j <= a.pos[t]; ++j) {
    double s = 0.0;
    for (int64_t d = 0; d < p.dk; ++d) s += std::fabs(q[d] * k_at(p, j, g, d));
    for (int64_t d = 0; d < p.dv; ++d) v_max = std::max(v_max, std::fabs(v_at(p, j, g, d)));
    s_max = std::max(s_max, s * p.scale);
  }
  const double dot_gamma = (double(p.dk) / double(lanes) + std::log2(double(lanes)) + 2) * kU;
  const double eps_p = 2 * dot_gamma * s_max + 2 * kU * s_max + 4 * kU;
  const double len = double(a.pos[t]) + 1;
  return v_max * (2 * eps_p + (17.0 / 16.0 * len + 4) * kU);
}

// Runs kernel and reference on `p` and compares every output element; padding between
// output rows must keep its sentinel.
void check_against_reference(Problem& p, int64_t target, const char* what) {
  ASSERT_TRUE(validate_attention_args(p.args).ok()) << validate_attention_args(p.args).message();
  attention(p.args);
  reference_attention(p);
  const AttentionArgs& a = p.args;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    for (int64_t h = 0; h < a.n_head; ++h) {
      const double tol = tolerance(p, t, h, float_lanes(target));
      for (int64_t d = 0; d < p.dv; ++d) {
        const int64_t idx = t * p.o_stride + h * p.dv + d;
        ASSERT_NEAR(p.out[idx], p.out_ref[idx], tol)
            << what << " t=" << t << " h=" << h << " d=" << d << " len=" << a.pos[t] + 1 << " dims "
            << p.dk << "/" << p.dv;
      }
    }
    for (int64_t i = a.n_head * p.dv; i < p.o_stride; ++i) {
      ASSERT_EQ(p.out[t * p.o_stride + i], kSentinel) << what << ": wrote into output padding";
    }
  }
}

// The test's reference against the shared one where both apply (one head dim): both are
// double-precision, so they agree to the final float rounding (2^-23 relative) plus 1e-12
// for any difference in double summation order.
TEST(AttentionReference, ReferenceAgreesWithOpsRef) {
  for (DType type : {DType::F16, DType::F32}) {
    Problem p = make_problem(Shape{.n_tokens = 3,
                                   .n_head = 8,
                                   .n_head_kv = 2,
                                   .head_dim = 36,
                                   .len = 40,
                                   .kv_type = type,
                                   .kv_pad = 3,
                                   .q_pad = 7,
                                   .out_pad = 5,
                                   .scale = 0.3f},
                             5);
    reference_attention(p);
    std::vector<float> shared(p.out.size(), kSentinel);
    AttentionArgs a = p.args;
    a.out = shared.data();
    attention_ref(a);
    for (size_t i = 0; i < shared.size(); ++i) {
      ASSERT_NEAR(shared[i], p.out_ref[i], 0x1p-23 * std::fabs(p.out_ref[i]) + 1e-12) << "i=" << i;
    }
  }
}

HWY_BEFORE_TEST(AttentionTest);

TEST_P(AttentionTest, DecodeMatchesReference) {
  ASSERT_STREQ(ops_target_name(), hwy::TargetName(GetParam()));
  uint32_t seed = 1;
  for (int64_t head_dim : {32, 64, 80, 128}) {
    for (int64_t group : {1, 2, 4, 8}) {
      for (int64_t len : {1, 2, 15, 16, 17, 100, 300}) {
        for (DType type : {DType::F16, DType::F32}) {
          Problem p = make_problem(Shape{.n_head = 2 * group,
                                         .n_head_kv = 2,
                                         .head_dim = head_dim,
                                         .len = len,
                                         .kv_type = type},
                                   seed++);
          check_against_reference(p, GetParam(), "decode");
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(AttentionTest, PrefillBlockWithStridesMatchesReference) {
  uint32_t seed = 100;
  for (DType type : {DType::F16, DType::F32}) {
    for (int64_t len : {5, 33, 260}) {
      for (int64_t head_dim : {36, 128}) {  // 36: a dim tail on every x86 target
        Problem p = make_problem(Shape{.n_tokens = 5,
                                       .n_head = 8,
                                       .n_head_kv = 2,
                                       .head_dim = head_dim,
                                       .len = len,
                                       .kv_type = type,
                                       .kv_pad = 3,
                                       .q_pad = 7,
                                       .out_pad = 5},
                                 seed++);
        check_against_reference(p, GetParam(), "prefill");
        if (HasFatalFailure()) return;
      }
    }
  }
}

// 40 heads of dim 256 do not fit one pass (16 heads of dim 256 per sweep), and a group of 5
// mixes head pairs with a single head: every way the kernel carves up a token is covered.
TEST_P(AttentionTest, ManyHeadsOddGroupsMatchReference) {
  for (DType type : {DType::F16, DType::F32}) {
    Problem p = make_problem(Shape{.n_tokens = 2,
                                   .n_head = 40,
                                   .n_head_kv = 8,
                                   .head_dim = 256,
                                   .len = 40,
                                   .kv_type = type},
                             21);
    check_against_reference(p, GetParam(), "many heads");
    if (HasFatalFailure()) return;
  }
}

// Keys aligned with the query and growing along the sequence: scores climb linearly to
// ~64 * E|q| / sqrt(64) = 32 at row 200, so every 16-row tile raises the running max by ~2.6
// and the partial sums are rescaled by ~e^-2.6 each time (FlashAttention's correction step).
TEST_P(AttentionTest, RisingLargeScoresMatchReference) {
  for (DType type : {DType::F16, DType::F32}) {
    Problem p = make_problem(Shape{.n_head = 1,
                                   .n_head_kv = 1,
                                   .head_dim = 64,
                                   .len = 200,
                                   .kv_type = type,
                                   .q_range = 8.0f,
                                   .rising_keys = true},
                             7);
    check_against_reference(p, GetParam(), "rising");
  }
}

// MLA with the up-projections absorbed (DeepSeek-V2 sec. 2.1; llama.cpp's deepseek2 graph):
// one latent kv head shared by every query head, each cache row [c_kv ; k_rope] used whole as
// K and its first head_dim_v elements as V, through the same pointer. The scale comes from
// the model's unabsorbed head size, not from head_dim. Sizes: DeepSeek-V2-Lite-like 288/256
// with 16 heads, and a tiny 80/64 with 4 heads (80 leaves a dim tail on AVX-512).
TEST_P(AttentionTest, MlaLatentCacheMatchesReference) {
  struct Mla {
    int64_t n_head, head_dim, head_dim_v;
    float scale;
  };
  const Mla cases[] = {{16, 288, 256, float(1.0 / std::sqrt(96.0))},
                       {4, 80, 64, float(1.0 / std::sqrt(48.0))}};
  uint32_t seed = 300;
  for (const Mla& c : cases) {
    for (DType type : {DType::F16, DType::F32}) {
      for (int64_t n_tokens : {1, 5}) {
        for (int64_t len : {5, 17, 100}) {
          Problem p = make_problem(Shape{.n_tokens = n_tokens,
                                         .n_head = c.n_head,
                                         .n_head_kv = 1,
                                         .head_dim = c.head_dim,
                                         .head_dim_v = c.head_dim_v,
                                         .len = len,
                                         .kv_type = type,
                                         .v_aliases_k = true,
                                         .scale = c.scale},
                                   seed++);
          ASSERT_EQ(p.args.v, p.args.k);
          ASSERT_EQ(p.args.v_row_stride, c.head_dim);
          check_against_reference(p, GetParam(), "mla");
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// MLA decompressed per head (K = [k_nope ; k_rope], V separate and narrower), and the
// reverse (V wider than K), also under GQA where kv head g starts at g * head_dim in a K row
// but g * head_dim_v in a V row. Strided and packed (stride 0) layouts.
TEST_P(AttentionTest, SplitHeadDimsMatchReference) {
  struct Dims {
    int64_t n_head, n_head_kv, head_dim, head_dim_v;
  };
  const Dims cases[] = {{4, 4, 48, 32}, {8, 2, 48, 32}, {6, 2, 32, 80}, {4, 1, 20, 36}};
  uint32_t seed = 400;
  for (const Dims& c : cases) {
    for (DType type : {DType::F16, DType::F32}) {
      for (int64_t n_tokens : {1, 4}) {
        for (bool packed : {false, true}) {
          Problem p = make_problem(Shape{.n_tokens = n_tokens,
                                         .n_head = c.n_head,
                                         .n_head_kv = c.n_head_kv,
                                         .head_dim = c.head_dim,
                                         .head_dim_v = c.head_dim_v,
                                         .len = 37,
                                         .kv_type = type,
                                         .kv_pad = packed ? 0 : 3,
                                         .q_pad = packed ? 0 : 7,
                                         .out_pad = packed ? 0 : 5,
                                         .packed_strides = packed,
                                         .scale = float(1.0 / std::sqrt(48.0))},
                                   seed++);
          check_against_reference(p, GetParam(), packed ? "split dims packed" : "split dims");
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Head dims at kAttentionMaxHeadDim: DeepSeek-V3's absorbed 576/512 with 16 heads (two
// sweeps of 8), and 576/576 with 18 heads in groups of 9 (sweeps of 8, 8, 2 that straddle a
// kv group, so single heads and pairs mix).
TEST_P(AttentionTest, LargestHeadDimsMatchReference) {
  for (DType type : {DType::F16, DType::F32}) {
    Problem mla = make_problem(Shape{.n_tokens = 2,
                                     .n_head = 16,
                                     .n_head_kv = 1,
                                     .head_dim = 576,
                                     .head_dim_v = 512,
                                     .len = 40,
                                     .kv_type = type,
                                     .v_aliases_k = true,
                                     .scale = float(1.0 / std::sqrt(192.0))},
                               31);
    check_against_reference(mla, GetParam(), "576/512");
    if (HasFatalFailure()) return;
    Problem wide = make_problem(Shape{.n_tokens = 2,
                                      .n_head = 18,
                                      .n_head_kv = 2,
                                      .head_dim = 576,
                                      .head_dim_v = 576,
                                      .len = 20,
                                      .kv_type = type,
                                      .kv_pad = 1},
                                32);
    check_against_reference(wide, GetParam(), "576/576");
    if (HasFatalFailure()) return;
  }
}

// One visible kv row: softmax weight exactly 1, so the output is that V row bit for bit
// (for MLA, the first head_dim_v elements of the latent row).
TEST_P(AttentionTest, SingleKvRowReturnsExactlyV) {
  const Shape shapes[] = {
      {.n_head = 8, .n_head_kv = 2, .head_dim = 36, .len = 1},
      {.n_head = 8, .n_head_kv = 2, .head_dim = 128, .len = 1},
      {.n_head = 8, .n_head_kv = 2, .head_dim = 256, .len = 1},
      {.n_head = 8, .n_head_kv = 2, .head_dim = 48, .head_dim_v = 32, .len = 1},
      {.n_head = 16,
       .n_head_kv = 1,
       .head_dim = 288,
       .head_dim_v = 256,
       .len = 1,
       .v_aliases_k = true},
  };
  uint32_t seed = 50;
  for (DType type : {DType::F16, DType::F32}) {
    for (Shape s : shapes) {
      s.kv_type = type;
      Problem p = make_problem(s, seed++);
      ASSERT_TRUE(validate_attention_args(p.args).ok());
      attention(p.args);
      const int64_t group = s.n_head / s.n_head_kv;
      for (int64_t h = 0; h < s.n_head; ++h) {
        for (int64_t d = 0; d < p.dv; ++d) {
          ASSERT_EQ(p.out[h * p.dv + d], float(v_at(p, 0, h / group, d)))
              << "h=" << h << " d=" << d << " dims " << p.dk << "/" << p.dv;
        }
      }
    }
  }
}

// Splitting the work items (any boundaries, also inside a kv group or a sweep) must not
// change a bit: each head is computed by the same sequence of operations however heads are
// batched.
TEST_P(AttentionTest, WorkSplitsAreBitIdentical) {
  const Shape shapes[] = {
      {.n_tokens = 3, .n_head = 16, .n_head_kv = 2, .head_dim = 64, .len = 70},
      {.n_tokens = 3,
       .n_head = 16,
       .n_head_kv = 1,
       .head_dim = 576,
       .head_dim_v = 512,
       .len = 70,
       .v_aliases_k = true,
       .scale = 0.07f},
  };
  for (const Shape& s : shapes) {
    Problem p = make_problem(s, 9);
    attention(p.args);
    const std::vector<float> whole = p.out;
    std::fill(p.out.begin(), p.out.end(), 0.0f);
    const int64_t items = attention_work_items(p.args);
    ASSERT_EQ(items, 48);
    const int64_t bounds[] = {0, 1, 4, 5, 13, 29, 30, 47, 48};
    for (size_t i = 0; i + 1 < std::size(bounds); ++i) {
      attention(p.args, bounds[i], bounds[i + 1]);
    }
    EXPECT_EQ(p.out, whole) << "dims " << p.dk << "/" << p.dv;
  }
}

// A paged cache (pages of K rows then V rows, in shuffled order, as the runtime's KV cache
// lays them out) gives exactly the contiguous result, for the kernel and the reference.
TEST_P(AttentionTest, PagedKvIsBitIdenticalToContiguous) {
  struct Case {
    Shape shape;
    int64_t page_rows;
  };
  const Case cases[] = {
      {{.n_tokens = 3, .n_head = 8, .n_head_kv = 2, .head_dim = 64, .len = 70}, 16},
      {{.n_tokens = 1,
        .n_head = 4,
        .n_head_kv = 4,
        .head_dim = 36,
        .len = 100,
        .kv_type = DType::F32},
       32},
      {{.n_tokens = 2,
        .n_head = 4,
        .n_head_kv = 1,
        .head_dim = 576,
        .head_dim_v = 512,
        .len = 40,
        .v_aliases_k = true,
        .scale = 0.07f},
       16},
  };
  uint32_t seed = 40;
  for (const Case& c : cases) {
    Problem p = make_problem(c.shape, seed++);
    attention(p.args);
    const std::vector<float> contiguous = p.out;
    attention_ref(p.args);
    const std::vector<float> contiguous_ref = p.out;

    const int64_t P = c.page_rows, n_pages = (p.args.n_kv + P - 1) / P;
    const size_t elem = p.args.kv_type == DType::F16 ? 2 : 4;
    const bool alias = c.shape.v_aliases_k;
    const int64_t page_elems = P * (p.k_stride + (alias ? 0 : p.v_stride));
    std::vector<int32_t> table(static_cast<size_t>(n_pages));
    for (int64_t i = 0; i < n_pages; ++i) table[size_t(i)] = int32_t((i * 7 + 3) % n_pages);
    std::vector<uint8_t> pages(size_t(n_pages * page_elems) * elem, 0xFF);  // NaN filler
    const auto* k_src = static_cast<const uint8_t*>(p.args.k);
    const auto* v_src = static_cast<const uint8_t*>(p.args.v);
    for (int64_t j = 0; j < p.args.n_kv; ++j) {
      const int64_t page = table[size_t(j / P)], slot = j % P;
      uint8_t* k_dst = &pages[size_t(page * page_elems + slot * p.k_stride) * elem];
      std::memcpy(k_dst, k_src + size_t(j * p.k_stride) * elem, size_t(p.k_stride) * elem);
      if (!alias) {
        uint8_t* v_dst =
            &pages[size_t(page * page_elems + P * p.k_stride + slot * p.v_stride) * elem];
        std::memcpy(v_dst, v_src + size_t(j * p.v_stride) * elem, size_t(p.v_stride) * elem);
      }
    }
    AttentionArgs a = p.args;
    a.k = pages.data();
    a.v = alias ? a.k : pages.data() + size_t(P * p.k_stride) * elem;
    a.k_row_stride = p.k_stride;
    a.v_row_stride = p.v_stride;
    a.page_table = table.data();
    a.page_rows = P;
    a.page_stride = page_elems;
    ASSERT_TRUE(validate_attention_args(a).ok());
    std::fill(p.out.begin(), p.out.end(), kSentinel);
    attention(a);
    EXPECT_EQ(p.out, contiguous) << "page_rows " << P;
    attention_ref(a);
    EXPECT_EQ(p.out, contiguous_ref) << "page_rows " << P;
  }
}

TEST(AttentionValidation, RejectsBadPageSizes) {
  Problem p = make_problem(Shape{}, 3);
  const int32_t table[1] = {0};
  AttentionArgs a = p.args;
  a.page_table = table;
  a.page_stride = 1 << 12;
  for (int64_t rows : {0, 8, 24}) {
    a.page_rows = rows;
    EXPECT_FALSE(validate_attention_args(a).ok()) << rows;
  }
  a.page_rows = 32;
  EXPECT_TRUE(validate_attention_args(a).ok());
}

TEST(AttentionValidation, RejectsBadArguments) {
  Problem p = make_problem(Shape{}, 3);  // n_head 4, n_head_kv 2, head_dim 64
  ASSERT_TRUE(validate_attention_args(p.args).ok());
  // Rejected, and for the reason named (so a check that fires for another cause fails).
  auto rejected_for = [](const Status& st, const char* reason) {
    return !st.ok() && st.message().find(reason) != std::string::npos;
  };
  auto with = [&](auto mutate) {
    AttentionArgs a = p.args;
    mutate(a);
    return validate_attention_args(a);
  };
  // Head dims with packed strides, so each is judged on its range alone. head_dim_v = 0
  // defaults to head_dim; otherwise it is checked on its own, whatever head_dim is.
  auto with_dims = [&](int64_t head_dim, int64_t head_dim_v) {
    return with([&](AttentionArgs& a) {
      a.q_token_stride = a.k_row_stride = a.v_row_stride = a.out_token_stride = 0;
      a.head_dim = head_dim;
      a.head_dim_v = head_dim_v;
    });
  };
  EXPECT_TRUE(with_dims(576, 0).ok());
  EXPECT_TRUE(with_dims(576, 512).ok());
  EXPECT_TRUE(with_dims(1, 576).ok());
  EXPECT_TRUE(rejected_for(with_dims(577, 0), "head_dim 577"));
  EXPECT_TRUE(rejected_for(with_dims(0, 64), "head_dim 0"));
  EXPECT_TRUE(rejected_for(with_dims(600, 64), "head_dim 600"));
  EXPECT_TRUE(rejected_for(with_dims(64, 577), "head_dim_v 577"));
  EXPECT_TRUE(rejected_for(with_dims(64, -1), "head_dim_v -1"));
  // v and out rows are sized by head_dim_v: v >= 2 * head_dim_v, out >= 4 * head_dim_v.
  auto with_v = [&](int64_t head_dim_v, int64_t v_stride, int64_t out_stride) {
    return with([&](AttentionArgs& a) {
      a.head_dim_v = head_dim_v;
      a.v_row_stride = v_stride;
      a.out_token_stride = out_stride;
    });
  };
  EXPECT_TRUE(with_v(32, 64, 128).ok());
  EXPECT_TRUE(rejected_for(with_v(32, 63, 128), "stride"));
  EXPECT_TRUE(rejected_for(with_v(32, 64, 127), "stride"));
  EXPECT_TRUE(rejected_for(with_v(96, 191, 384), "stride"));
  EXPECT_TRUE(rejected_for(with_v(96, 192, 383), "stride"));
  // q and k rows stay sized by head_dim, however narrow V is.
  EXPECT_TRUE(rejected_for(with([](AttentionArgs& a) {
                             a.head_dim_v = 8;
                             a.k_row_stride = 127;
                           }),
                           "stride"));
  EXPECT_TRUE(rejected_for(with([](AttentionArgs& a) {
                             a.head_dim_v = 8;
                             a.q_token_stride = 255;
                           }),
                           "stride"));
  EXPECT_TRUE(rejected_for(with([](AttentionArgs& a) { a.n_head = 3; }), "multiple"));
  EXPECT_TRUE(rejected_for(with([](AttentionArgs& a) { a.kv_type = DType::BF16; }), "K/V type"));
  EXPECT_TRUE(rejected_for(with([](AttentionArgs& a) { a.v = nullptr; }), "null"));
  int32_t bad_pos = int32_t(p.args.n_kv);
  EXPECT_TRUE(rejected_for(with([&](AttentionArgs& a) { a.pos = &bad_pos; }), "position"));
  int32_t neg_pos = -1;
  EXPECT_TRUE(rejected_for(with([&](AttentionArgs& a) { a.pos = &neg_pos; }), "position"));
}

}  // namespace
}  // namespace muse
