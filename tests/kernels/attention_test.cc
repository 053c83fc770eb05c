// Checks the streaming-softmax attention kernel against the naive double-precision
// reference (attention_ref) on each SIMD target: random data over head dims, GQA ratios, kv
// lengths, F32/F16 K/V, strided rows, prefill blocks, and exact properties (one kv row,
// work splits). K/V padding and rows past the causal limit hold NaN so any read shows up.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
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
  int64_t len = 10;  // causal length of the last query token; rows 0..len-1 are real
  DType kv_type = DType::F16;
  int64_t kv_pad = 0;  // extra NaN elements per kv row (a strided cache)
  int64_t q_pad = 0, out_pad = 0;
  float q_range = 1.0f;
  bool rising_keys = false;  // scores grow with j: the running max moves every tile
};

// Owns the buffers behind an AttentionArgs.
struct Problem {
  std::vector<float> q, out, out_ref;
  std::vector<float> k32, v32;
  std::vector<fp16_t> k16, v16;
  std::vector<int32_t> pos;
  AttentionArgs args;
};

Problem make_problem(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  Problem p;
  const int64_t q_stride = s.n_head * s.head_dim + s.q_pad;
  const int64_t o_stride = s.n_head * s.head_dim + s.out_pad;
  const int64_t kv_stride = s.n_head_kv * s.head_dim + s.kv_pad;
  const int64_t n_kv = s.len + 2;  // two rows past every causal limit, all NaN
  p.q.resize(s.n_tokens * q_stride);
  for (float& x : p.q) x = s.q_range * unit(rng);
  p.out.assign(s.n_tokens * o_stride, kSentinel);
  p.out_ref = p.out;
  std::vector<float> k(n_kv * kv_stride, kNaN), v(n_kv * kv_stride, kNaN);
  for (int64_t j = 0; j < s.len; ++j) {
    for (int64_t e = 0; e < s.n_head_kv * s.head_dim; ++e) {
      float kv = unit(rng);
      if (s.rising_keys) {  // align k with sign(q) of token 0 head 0, growing with j
        const float qd = p.q[e % s.head_dim];
        kv = 0.1f * kv + (qd >= 0 ? 1.0f : -1.0f) * float(j + 1) / float(s.len);
      }
      k[j * kv_stride + e] = kv;
      v[j * kv_stride + e] = unit(rng);
    }
  }
  if (s.kv_type == DType::F16) {
    for (float x : k) p.k16.push_back(fp32_to_fp16(x));
    for (float x : v) p.v16.push_back(fp32_to_fp16(x));
  } else {
    p.k32 = std::move(k);
    p.v32 = std::move(v);
  }
  for (int64_t t = 0; t < s.n_tokens; ++t) p.pos.push_back(int32_t(s.len - s.n_tokens + t));
  const bool f16 = s.kv_type == DType::F16;
  p.args = AttentionArgs{.n_tokens = s.n_tokens,
                         .n_head = s.n_head,
                         .n_head_kv = s.n_head_kv,
                         .head_dim = s.head_dim,
                         .n_kv = n_kv,
                         .q = p.q.data(),
                         .k = f16 ? static_cast<const void*>(p.k16.data()) : p.k32.data(),
                         .v = f16 ? static_cast<const void*>(p.v16.data()) : p.v32.data(),
                         .out = p.out.data(),
                         .pos = p.pos.data(),
                         .kv_type = s.kv_type,
                         .q_token_stride = q_stride,
                         .k_row_stride = kv_stride,
                         .v_row_stride = kv_stride,
                         .out_token_stride = o_stride};
  return p;
}

float kv_value(const Problem& p, const std::vector<float>& f32, const std::vector<fp16_t>& f16,
               int64_t idx) {
  return p.args.kv_type == DType::F16 ? fp16_to_fp32(f16[idx]) : f32[idx];
}

// Error model for one (token, head). S = scale * max_j sum_d |q_d k_jd| bounds |score|.
// Each float score is a dot of D = head_dim terms on L lanes, a sum whose terms pass
// through <= D/L + log2(L) + 2 roundings (gamma_dot, Higham eq. 4.4) -> error gamma_dot S.
// A weight p_j = exp(s_j - m) then errs by eps_p <= 2 gamma_dot S + 2 u S + 4 u
// (both scores, the subtraction, exp and rounding). Perturbing every weight by eps_p moves
// a weighted mean by <= 2 eps_p max|v|; the float sums of len terms and the len/16 rescales
// add (17/16 len + 4) u max|v|.
double tolerance(const Problem& p, int64_t t, int64_t h, int64_t lanes) {
  const AttentionArgs& a = p.args;
  const double scale = 1.0 / std::sqrt(double(a.head_dim));
  const int64_t g = h / (a.n_head / a.n_head_kv);
  const float* q = a.q + t * a.q_token_stride + h * a.head_dim;
  double s_max = 0.0, v_max = 0.0;
  for (int64_t j = 0; j <= a.pos[t]; ++j) {
    double s = 0.0;
    for (int64_t d = 0; d < a.head_dim; ++d) {
      const int64_t idx = j * a.k_row_stride + g * a.head_dim + d;
      s += std::fabs(q[d] * kv_value(p, p.k32, p.k16, idx));
      v_max = std::max(v_max, double(std::fabs(kv_value(p, p.v32, p.v16, idx))));
    }
    s_max = std::max(s_max, s * scale);
  }
  const double dot_gamma = (double(a.head_dim) / double(lanes) + std::log2(double(lanes)) + 2) * kU;
  const double eps_p = 2 * dot_gamma * s_max + 2 * kU * s_max + 4 * kU;
  const double len = double(a.pos[t]) + 1;
  return v_max * (2 * eps_p + (17.0 / 16.0 * len + 4) * kU);
}

// Runs kernel and reference on `p` and compares every output element; padding between
// output rows must keep its sentinel.
void check_against_reference(Problem& p, int64_t target, const char* what) {
  ASSERT_TRUE(validate_attention_args(p.args).ok()) << validate_attention_args(p.args).message();
  attention(p.args);
  AttentionArgs ref_args = p.args;
  ref_args.out = p.out_ref.data();
  attention_ref(ref_args);
  const AttentionArgs& a = p.args;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    for (int64_t h = 0; h < a.n_head; ++h) {
      const double tol = tolerance(p, t, h, float_lanes(target));
      for (int64_t d = 0; d < a.head_dim; ++d) {
        const int64_t idx = t * a.out_token_stride + h * a.head_dim + d;
        ASSERT_NEAR(p.out[idx], p.out_ref[idx], tol)
            << what << " t=" << t << " h=" << h << " d=" << d << " len=" << a.pos[t] + 1;
      }
    }
    for (int64_t i = a.n_head * a.head_dim; i < a.out_token_stride; ++i) {
      ASSERT_EQ(p.out[t * a.out_token_stride + i], kSentinel) << "wrote into output padding";
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

// One visible kv row: softmax weight exactly 1, so the output is that V row bit for bit.
TEST_P(AttentionTest, SingleKvRowReturnsExactlyV) {
  for (DType type : {DType::F16, DType::F32}) {
    for (int64_t head_dim : {36, 128, 256}) {
      Problem p = make_problem(
          Shape{.n_head = 8, .n_head_kv = 2, .head_dim = head_dim, .len = 1, .kv_type = type},
          uint32_t(head_dim));
      ASSERT_TRUE(validate_attention_args(p.args).ok());
      attention(p.args);
      for (int64_t h = 0; h < 8; ++h) {
        for (int64_t d = 0; d < head_dim; ++d) {
          const int64_t idx = (h / 4) * head_dim + d;
          ASSERT_EQ(p.out[h * head_dim + d], kv_value(p, p.v32, p.v16, idx))
              << "h=" << h << " d=" << d;
        }
      }
    }
  }
}

// Splitting the work items (any boundaries, also inside a kv group) must not change a bit:
// each head is computed by the same sequence of operations however heads are batched.
TEST_P(AttentionTest, WorkSplitsAreBitIdentical) {
  Problem p = make_problem(
      Shape{.n_tokens = 3, .n_head = 16, .n_head_kv = 2, .head_dim = 64, .len = 70}, 9);
  attention(p.args);
  const std::vector<float> whole = p.out;
  std::fill(p.out.begin(), p.out.end(), 0.0f);
  const int64_t items = attention_work_items(p.args);
  ASSERT_EQ(items, 48);
  const int64_t bounds[] = {0, 1, 4, 5, 13, 29, 30, 47, 48};
  for (size_t i = 0; i + 1 < std::size(bounds); ++i) attention(p.args, bounds[i], bounds[i + 1]);
  EXPECT_EQ(p.out, whole);
}

TEST(AttentionValidation, RejectsBadArguments) {
  Problem p = make_problem(Shape{}, 3);
  ASSERT_TRUE(validate_attention_args(p.args).ok());
  auto rejects = [&](auto mutate) {
    AttentionArgs a = p.args;
    mutate(a);
    return !validate_attention_args(a).ok();
  };
  EXPECT_TRUE(rejects([](AttentionArgs& a) { a.n_head = 3; }));  // not a multiple of 2
  EXPECT_TRUE(rejects([](AttentionArgs& a) { a.head_dim = 300; }));
  EXPECT_TRUE(rejects([](AttentionArgs& a) { a.kv_type = DType::BF16; }));
  EXPECT_TRUE(rejects([](AttentionArgs& a) { a.k_row_stride = 5; }));
  EXPECT_TRUE(rejects([](AttentionArgs& a) { a.v = nullptr; }));
  int32_t bad_pos = int32_t(p.args.n_kv);
  EXPECT_TRUE(rejects([&](AttentionArgs& a) { a.pos = &bad_pos; }));
  int32_t neg_pos = -1;
  EXPECT_TRUE(rejects([&](AttentionArgs& a) { a.pos = &neg_pos; }));
}

}  // namespace
}  // namespace muse
