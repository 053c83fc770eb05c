// Absorbed and decompressed multi-head latent attention are the same function evaluated in
// two orders: on the same cache and tokens their logits agree to float rounding. Checked on
// the F32 deepseek2 fixture, for one long step and for token-by-token decode after a prompt.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "gguf/test_util.h"
#include "model/context.h"
#include "model/model.h"
#include "threading/thread_pool.h"

namespace muse {
namespace {

using testing::fixture;

// Tolerance: |logit| is O(1) here and both paths accumulate in f32 over C = 64 latent and
// 40 positions; observed differences are ~1e-6.
constexpr float kTol = 1e-4f;

std::vector<int32_t> some_tokens(int n, int32_t vocab) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(int32_t((i * 7919 + 13) % vocab));
  return t;
}

// Logits of every token, evaluated in steps of `step` tokens.
std::vector<float> run(const Model& m, ThreadPool& pool, MlaMode mode, DType kv,
                       const std::vector<int32_t>& tokens, size_t step) {
  auto ctx = ModelContext::create(m, pool, {.n_ctx = 256, .kv_type = kv, .mla_mode = mode});
  EXPECT_TRUE(ctx.ok()) << ctx.status().message();
  std::vector<float> out;
  for (size_t i = 0; i < tokens.size(); i += step) {
    const size_t n = std::min(step, tokens.size() - i);
    EXPECT_TRUE((*ctx)->eval({tokens.data() + i, n}, true).ok());
    for (int64_t j = 0; j < (*ctx)->n_logits(); ++j) {
      const auto l = (*ctx)->logits(j);
      out.insert(out.end(), l.begin(), l.end());
    }
  }
  return out;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0.0f;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

class MlaPaths : public ::testing::TestWithParam<DType> {};

TEST_P(MlaPaths, AbsorbedEqualsDecompressed) {
  const std::string path = fixture("models/deepseek2-tiny-f32.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  ThreadPool pool(2);
  const auto tokens = some_tokens(40, int32_t((*model)->config().n_vocab));
  const DType kv = GetParam();

  // One 40-token step through each path.
  const auto a = run(**model, pool, MlaMode::kAbsorbed, kv, tokens, 40);
  const auto d = run(**model, pool, MlaMode::kDecompressed, kv, tokens, 40);
  const float step_diff = max_diff(a, d);
  EXPECT_LE(step_diff, kTol);
  // Token-by-token decode (absorbed) against one decompressed step over the same tokens.
  const auto a1 = run(**model, pool, MlaMode::kAbsorbed, kv, tokens, 1);
  const float decode_diff = max_diff(a1, d);
  EXPECT_LE(decode_diff, kTol);
  std::printf("kv %s: absorbed vs decompressed max |diff| %.2e (one step), %.2e (decode)\n",
              dtype_name(kv).data(), double(step_diff), double(decode_diff));
}

INSTANTIATE_TEST_SUITE_P(KvTypes, MlaPaths, ::testing::Values(DType::F32, DType::F16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace muse
