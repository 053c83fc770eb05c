// Loading with the 4-row tiled layout (ModelLoadOptions::tile, on by default): the matrices
// it should tile are tiled, the ones it must leave alone are left alone, and a forward pass
// gives bit-identical logits to the row layout, for dense, MoE and MLA models in Q8_0 and
// Q4_0 (rows not a multiple of 4 included).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "gguf/test_util.h"
#include "model/context.h"
#include "model/gen_model.h"
#include "model/model.h"

namespace muse {
namespace {

std::vector<float> all_logits(const Model& m, ThreadPool& pool, MlaMode mode) {
  const std::vector<int32_t> toks = {1, 7, 42, 3, 3, 19, 0, 49, 25, 11};
  auto ctx = ModelContext::create(
      m, pool, {.n_ctx = 64, .n_batch = 16, .kv_type = DType::F32, .mla_mode = mode});
  EXPECT_TRUE(ctx.ok()) << ctx.status().message();
  if (!ctx.ok()) return {};
  std::vector<float> out;
  EXPECT_TRUE((*ctx)->eval(toks, true).ok());
  for (size_t t = 0; t < toks.size(); ++t) {
    const auto l = (*ctx)->logits(int64_t(t));
    out.insert(out.end(), l.begin(), l.end());
  }
  for (int32_t tok : {5, 9}) {  // then decode steps (one column: the matvec path)
    EXPECT_TRUE((*ctx)->eval({&tok, 1}).ok());
    const auto l = (*ctx)->logits(0);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

struct Case {
  std::string arch;
  DType type;
  int64_t n_embd, n_ff;
};

class TiledWeights : public ::testing::TestWithParam<Case> {};

TEST_P(TiledWeights, BitIdenticalForward) {
  const Case& c = GetParam();
  testing::TempDir dir;
  const std::string path = dir.file("m.gguf");
  GenModelOptions g;
  g.arch = c.arch;
  g.type = c.type;
  g.n_embd = c.n_embd;
  g.n_ff = c.n_ff;
  g.n_head = 4;
  g.n_layer = 2;
  g.n_vocab = 300;  // not a multiple of 4: a partial tile in the output matrix
  ASSERT_TRUE(gen_model(g, path).ok());
  auto rows = Model::load(path, {.tile = false});
  auto tiled = Model::load(path);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_TRUE(tiled.ok()) << tiled.status().message();

  const ModelWeights& w = (*tiled)->weights();
  EXPECT_FALSE(w.tiled.empty());
  EXPECT_EQ(w.output.w.layout, w.output_tied ? WeightLayout::kRows : WeightLayout::kTiles4);
  for (const LayerWeights& l : w.layers) {
    EXPECT_EQ(l.wo.w.layout, WeightLayout::kTiles4);
    if (l.moe) {
      EXPECT_EQ(l.experts.gate_exps.layout, WeightLayout::kTiles4);
      EXPECT_EQ(l.experts.down_exps.layout, WeightLayout::kTiles4);
    } else {
      EXPECT_EQ(l.ffn_up.w.layout, WeightLayout::kTiles4);
    }
    if (l.mla.wkv_b.data != nullptr) {  // N = 32 and Dv = 32: per-head slices on whole tiles
      EXPECT_EQ(l.mla.wkv_b.layout, WeightLayout::kTiles4);
      EXPECT_EQ(l.mla.wk_b_t.layout, WeightLayout::kTiles4);
    }
  }
  for (const LayerWeights& l : (*rows)->weights().layers)
    EXPECT_EQ(l.wo.w.layout, WeightLayout::kRows);

  ThreadPool pool(2);
  for (MlaMode mode : {MlaMode::kAbsorbed, MlaMode::kDecompressed}) {
    const auto want = all_logits(**rows, pool, mode), got = all_logits(**tiled, pool, mode);
    ASSERT_EQ(want.size(), got.size());
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
        << "MLA mode " << int(mode);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TiledWeights,
                         ::testing::Values(Case{"llama", DType::Q8_0, 128, 352},
                                           Case{"llama", DType::Q4_0, 128, 352},
                                           Case{"qwen2moe", DType::Q8_0, 128, 256},
                                           Case{"deepseek2", DType::Q4_0, 128, 256},
                                           Case{"muse", DType::Q8_0, 128, 256}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.arch + "_" + std::string(dtype_name(info.param.type));
                         });

}  // namespace
}  // namespace muse
