// Conformance of the dense architectures against llama.cpp (build c392e50) goldens in
// ../shared/fixtures/golden, with the tolerances of ../shared/fixtures/README.md:
//   F32 models: every reference top-16 logit within 5e-3.
//   Quantized models: within 0.1 (our activations are quantized with an f32 block scale,
//   llama.cpp's with an f16 one, so the tighter 0.01 rule does not apply).
// Checked teacher-forced over prompt + reference greedy tokens, with an F32 KV cache as the
// goldens were made: at every greedy step our argmax must be a token whose reference logit
// is within 0.1 of the reference maximum.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "gguf/test_util.h"
#include "model/context.h"
#include "model/model.h"
#include "threading/thread_pool.h"

namespace muse {
namespace {

using nlohmann::json;
using testing::fixture;

struct GoldenCase {
  std::string model;  // file stem in fixtures/models
  float tol;
  // Fraction of positions (prompt positions and greedy steps) that must meet `tol` and the
  // near-tie rule: 1 everywhere except the quantized MoE files, whose routers may flip an
  // expert on a near-tie (fixtures README: at least 90 %).
  double min_pass = 1.0;
  MlaMode mla_mode = MlaMode::kAuto;
  const char* suffix = "";  // test name suffix for cases that differ only in mla_mode
};

std::string golden_path(const std::string& model, int prompt) {
  return fixture("golden/" + model + ".p" + std::to_string(prompt) + ".json");
}

// Largest |ours - reference| over the reference top-16 of one position.
float max_top16_error(const json& ref_top16, std::span<const float> logits, int32_t* worst) {
  float err = 0.0f;
  for (const json& e : ref_top16) {
    const int32_t id = e[0].get<int32_t>();
    const float d = std::abs(logits[id] - e[1].get<float>());
    if (d > err) {
      err = d;
      *worst = id;
    }
  }
  return err;
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, TeacherForcedTop16) {
  const GoldenCase& gc = GetParam();
  const std::string model_path = fixture("models/" + gc.model + ".gguf");
  MUSE_REQUIRE_FIXTURE(model_path);
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  ThreadPool pool(2);
  int n_prompts = 0, n_checked = 0, n_passed = 0;
  float max_err = 0.0f;
  const bool strict = gc.min_pass >= 1.0;
  for (int p = 1; std::filesystem::exists(golden_path(gc.model, p)); ++p, ++n_prompts) {
    std::ifstream in(golden_path(gc.model, p));
    const json g = json::parse(in);
    const auto prompt = g["tokens"].get<std::vector<int32_t>>();
    const auto greedy = g["greedy"].get<std::vector<int32_t>>();
    std::vector<int32_t> tokens = prompt;
    tokens.insert(tokens.end(), greedy.begin(), greedy.end() - 1);

    auto ctx = ModelContext::create(**model, pool,
                                    {.n_ctx = 512, .kv_type = DType::F32, .mla_mode = gc.mla_mode});
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    ASSERT_TRUE((*ctx)->eval(tokens, /*all_logits=*/true).ok());

    const json& per_pos = g["top16_per_position"];
    ASSERT_EQ(per_pos.size(), prompt.size());
    for (size_t i = 0; i < prompt.size(); ++i) {
      int32_t worst = -1;
      const float err = max_top16_error(per_pos[i], (*ctx)->logits(int64_t(i)), &worst);
      if (strict) {
        EXPECT_LE(err, gc.tol) << gc.model << " p" << p << " position " << i << " token " << worst;
      }
      max_err = std::max(max_err, err);
      ++n_checked;
      n_passed += err <= gc.tol;
    }
    const json& steps = g["top16_before_each_greedy_token"];
    ASSERT_EQ(steps.size(), greedy.size());
    for (size_t s = 0; s < greedy.size(); ++s) {
      const auto logits = (*ctx)->logits(int64_t(prompt.size() - 1 + s));
      int32_t worst = -1;
      const float err = max_top16_error(steps[s], logits, &worst);
      if (strict) {
        EXPECT_LE(err, gc.tol) << gc.model << " p" << p << " greedy step " << s;
      }
      max_err = std::max(max_err, err);
      const int32_t ours = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
      const float ref_max = steps[s][0][1].get<float>();
      float ref_ours = -1e30f;
      for (const json& e : steps[s])
        if (e[0].get<int32_t>() == ours) ref_ours = e[1].get<float>();
      if (strict) {
        EXPECT_GE(ref_ours, ref_max - 0.1f)
            << gc.model << " p" << p << " step " << s << ": argmax " << ours
            << " is not a near-tie of the reference choice " << steps[s][0][0];
      }
      ++n_checked;
      n_passed += err <= gc.tol && ref_ours >= ref_max - 0.1f;
    }
  }
  EXPECT_GT(n_prompts, 0) << "no goldens for " << gc.model;
  EXPECT_GE(double(n_passed), gc.min_pass * n_checked)
      << gc.model << ": " << n_passed << " of " << n_checked << " positions within tolerance";
  std::printf(
      "%s%s: %d prompts, max |logit - reference| = %.2e (tolerance %.0e), %d/%d "
      "positions pass\n",
      gc.model.c_str(), gc.suffix, n_prompts, double(max_err), double(gc.tol), n_passed, n_checked);
}

std::string case_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string n = info.param.model + info.param.suffix;
  std::replace_if(
      n.begin(), n.end(), [](char c) { return !std::isalnum(c); }, '_');
  return n;
}

INSTANTIATE_TEST_SUITE_P(Dense, GoldenTest,
                         ::testing::Values(GoldenCase{"stories260K", 5e-3f},
                                           GoldenCase{"llama-spm-tiny-f32", 5e-3f},
                                           GoldenCase{"llama-spm-tiny-q8_0", 0.1f},
                                           GoldenCase{"llama-spm-tiny-q4_0", 0.1f},
                                           GoldenCase{"llama-spm-kquant-q4_k_m", 0.1f},
                                           GoldenCase{"llama-spm-kquant-q6_k", 0.1f},
                                           GoldenCase{"qwen2-gpt2-tiny-q8_0", 0.1f}),
                         case_name);

// Mixture of experts and latent attention. The F32 files route exactly like llama.cpp, so
// they meet the F32 rule everywhere; deepseek2 runs once per MLA path. llama.cpp c392e50
// evaluated these files decompressed (K = W_uk Q8(c), V = W_uv Q8(c)); our absorbed path
// quantizes other activations (the folded query, the attended latent), which flips a router
// near-tie at a few positions of deepseek2-tiny-q8_0 (213/220 pass; decompressed 220/220).
INSTANTIATE_TEST_SUITE_P(
    Moe, GoldenTest,
    ::testing::Values(
        GoldenCase{"qwen2moe-tiny-f32", 5e-3f},
        GoldenCase{"deepseek2-tiny-f32", 5e-3f, 1.0, MlaMode::kAbsorbed, "-absorbed"},
        GoldenCase{"deepseek2-tiny-f32", 5e-3f, 1.0, MlaMode::kDecompressed, "-decompressed"},
        GoldenCase{"qwen2moe-gpt2-tiny-q8_0", 0.1f, 0.9},
        GoldenCase{"deepseek2-tiny-q8_0", 0.1f, 0.9, MlaMode::kAbsorbed, "-absorbed"},
        GoldenCase{"deepseek2-tiny-q8_0", 0.1f, 0.9, MlaMode::kDecompressed, "-decompressed"}),
    case_name);

// stories260K from BOS alone: 256 greedy tokens equal the reference exactly (an independent
// llama2.c implementation produced them; the text is the model's published output).
TEST(Golden, Stories260KGreedyFromBos) {
  const std::string model_path = fixture("models/stories260K.gguf");
  const std::string ref_path = fixture("golden/stories260K_greedy_bos_256.txt");
  MUSE_REQUIRE_FIXTURE(model_path);
  MUSE_REQUIRE_FIXTURE(ref_path);
  std::ifstream in(ref_path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const size_t at = text.find("IDS [");
  ASSERT_NE(at, std::string::npos);
  std::vector<int32_t> want;
  const std::string ids = text.substr(at + 5, text.find(']', at) - at - 5);
  for (size_t i = 0; i < ids.size();) {
    size_t end = ids.find(',', i);
    if (end == std::string::npos) end = ids.size();
    want.push_back(std::stoi(ids.substr(i, end - i)));
    i = end + 1;
  }
  ASSERT_EQ(want.size(), 256u);

  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  ThreadPool pool(2);
  auto ctx = ModelContext::create(**model, pool, {.n_ctx = 512, .kv_type = DType::F32});
  ASSERT_TRUE(ctx.ok());
  std::vector<int32_t> got;
  int32_t token = 1;  // BOS
  for (int i = 0; i < 256; ++i) {
    ASSERT_TRUE((*ctx)->eval({&token, 1}).ok());
    const auto logits = (*ctx)->logits();
    token = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    got.push_back(token);
  }
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace muse

namespace muse {
namespace {

// Reduced-precision KV caches stay near the F32-cache goldens. Measured on the longest
// prompt of llama-spm-tiny-f32 (head dim 32, so a Q8_0 block is one head; stories260K's
// head dim 8 puts four heads under one scale and moves logits by up to 1.8): 5e-4 for F16,
// 0.015 for Q8_0. Bounds are ~3-4x those, so a broken conversion still fails.
TEST(Golden, ReducedPrecisionKvCache) {
  const std::string model_path = fixture("models/llama-spm-tiny-f32.gguf");
  MUSE_REQUIRE_FIXTURE(model_path);
  MUSE_REQUIRE_FIXTURE(golden_path("llama-spm-tiny-f32", 3));
  std::ifstream in(golden_path("llama-spm-tiny-f32", 3));
  const json g = json::parse(in);
  const auto prompt = g["tokens"].get<std::vector<int32_t>>();
  auto model = Model::load(model_path);
  ASSERT_TRUE(model.ok());
  ThreadPool pool(2);
  const struct {
    DType type;
    float bound;
  } cases[] = {{DType::F16, 2e-3f}, {DType::Q8_0, 0.05f}};
  for (const auto& c : cases) {
    auto ctx = ModelContext::create(**model, pool, {.n_ctx = 512, .kv_type = c.type});
    ASSERT_TRUE(ctx.ok());
    ASSERT_TRUE((*ctx)->eval(prompt, true).ok());
    float max_err = 0.0f;
    for (size_t i = 0; i < prompt.size(); ++i) {
      int32_t worst = -1;
      max_err = std::max(
          max_err, max_top16_error(g["top16_per_position"][i], (*ctx)->logits(int64_t(i)), &worst));
    }
    std::printf("KV %s: max |logit - reference| = %.3g\n", std::string(dtype_name(c.type)).c_str(),
                double(max_err));
    EXPECT_LE(max_err, c.bound) << dtype_name(c.type);
    EXPECT_GT(max_err, 0.0f) << "reduced precision cannot be exact";
  }
}

}  // namespace
}  // namespace muse
