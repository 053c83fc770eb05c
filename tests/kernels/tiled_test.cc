// The 4-row tiled layout (kernels/tiled.h): an exact rearrangement of GGML rows, and every
// kernel that reads it (dot_tile, dot_panel, matmul, on every compiled target) returns bit
// for bit what it returns for the same rows in GGML layout.
#include "kernels/tiled.h"

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace muse {
namespace {

constexpr DType kTileable[] = {DType::Q8_0, DType::Q4_0};

std::vector<uint8_t> random_rows(DType t, int64_t n_rows, int64_t n_k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const size_t rb = row_bytes(t, n_k);
  std::vector<uint8_t> w(rb * n_rows);
  std::vector<float> x(n_k);
  for (int64_t r = 0; r < n_rows; ++r) {
    const float s = float(1 << (r % 5));
    for (float& v : x) v = s * dist(rng);
    quantize_row_ref(t, x.data(), w.data() + r * rb, n_k);
  }
  return w;
}

std::vector<uint8_t> tiled_copy(DType t, const std::vector<uint8_t>& rows, int64_t n_rows,
                                int64_t n_k) {
  std::vector<uint8_t> out(tiled_bytes(t, n_rows, n_k));
  tile_rows(t, rows.data(), n_rows, n_k, out.data(), 0, n_rows);
  return out;
}

TEST(Tiled, RoundTripsEveryBlock) {
  for (DType t : kTileable) {
    SCOPED_TRACE(dtype_name(t));
    for (int64_t n_rows : {1, 3, 4, 5, 11, 16}) {
      constexpr int64_t kK = 7 * 32;
      const auto rows = random_rows(t, n_rows, kK, uint32_t(n_rows));
      const size_t rb = row_bytes(t, kK), bb = dtype_info(t).type_size;
      // Tiles written in two parallel-style halves equal one pass.
      std::vector<uint8_t> halves(tiled_bytes(t, n_rows, kK));
      const int64_t mid = n_rows > 4 ? 4 : n_rows;
      tile_rows(t, rows.data(), n_rows, kK, halves.data(), 0, mid);
      tile_rows(t, rows.data(), n_rows, kK, halves.data(), mid, n_rows);
      const auto tiled = tiled_copy(t, rows, n_rows, kK);
      EXPECT_EQ(halves, tiled);
      EXPECT_EQ(tiled.size(), size_t((n_rows + 3) / 4 * 4) * rb);
      std::vector<uint8_t> blk(bb);
      for (int64_t r = 0; r < (n_rows + 3) / 4 * 4; ++r)
        for (int64_t b = 0; b < kK / 32; ++b) {
          untile_block(t, tiled.data() + (r / 4) * 4 * rb, int(r % 4), b, blk.data());
          const int64_t src = std::min(r, n_rows - 1);  // a partial tile repeats its last row
          ASSERT_EQ(0, std::memcmp(blk.data(), rows.data() + src * rb + b * bb, bb))
              << "row " << r << " block " << b;
        }
    }
  }
}

class TiledKernels : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override { hwy::SetSupportedTargetsForTest(GetParam()); }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(TiledKernels, TilesAndPanelsMatchRowLayout) {
  constexpr int64_t kK = 37 * 32;
  constexpr int kCols = kPanelCols + 1;
  for (DType t : kTileable) {
    SCOPED_TRACE(dtype_name(t));
    const auto rows = random_rows(t, 4, kK, 5);
    const auto tiled = tiled_copy(t, rows, 4, kK);
    const size_t rb = row_bytes(t, kK);
    const ActType act = act_type(t);
    const size_t ab = act_row_bytes(act, kK);
    std::vector<uint8_t> a(ab * kCols);
    std::mt19937 rng(9);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(kK);
    for (int c = 0; c < kCols; ++c) {
      for (float& v : x) v = (c % 3 == 1 ? 80.0f : 0.05f) * dist(rng);
      if (c == 2)
        for (int64_t i = 0; i < kK; ++i) x[i] = i % 2 ? 1.0f : -1.0f;  // saturating block
      quantize_act_ref(act, x.data(), a.data() + c * ab, kK);
    }
    for (int n_rows = 1; n_rows <= kTileRows; ++n_rows)
      for (int n_cols : {1, 3, 4, 7, kPanelCols}) {
        std::vector<float> want(size_t(kTileRows) * n_cols, -1.0f), got = want, ref = want;
        DotTileArgs args{.type = t,
                         .n_k = kK,
                         .w = rows.data(),
                         .w_stride = rb,
                         .n_rows = n_rows,
                         .a = a.data(),
                         .a_stride = ab,
                         .n_cols = n_cols,
                         .out = want.data(),
                         .out_stride = kTileRows};
        dot_panel(args);
        DotTileArgs tiled_args = args;
        tiled_args.w = tiled.data();
        tiled_args.w_stride = 0;
        tiled_args.tiled = true;
        tiled_args.out = got.data();
        dot_panel(tiled_args);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
              << "panel " << n_rows << "x" << n_cols << " element " << i;
        if (n_cols <= kTileCols) {
          tiled_args.out = got.data();
          std::fill(got.begin(), got.end(), -1.0f);
          dot_tile(tiled_args);
          for (size_t i = 0; i < want.size(); ++i)
            ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
                << "tile " << n_rows << "x" << n_cols << " element " << i;
        }
        // The scalar reference reads the tiled layout too (to float rounding of its sums).
        tiled_args.out = ref.data();
        dot_tile_ref(tiled_args);
        args.out = want.data();
        std::vector<float> ref_rows = want;
        args.out = ref_rows.data();
        dot_tile_ref(args);
        EXPECT_EQ(ref, ref_rows);
      }
  }
}

// dot_rows over several tiles, where x86 pairs tiled Q8_0 tiles for panels of more than
// kTileCols columns: every row count around the pairs (a lone last tile, a partial second
// tile) and column counts that leave 1..4-column remainders, against the row layout bit for
// bit, with activations at the int16 pair-sum limit (all +-127) and weights at -128..127.
TEST_P(TiledKernels, RowsMatchRowLayoutAcrossTilePairs) {
  constexpr int64_t kK = 5 * 32;
  constexpr int kMaxRows = 19, kMaxCols = 2 * kPanelCols + 3;
  for (DType t : kTileable) {
    SCOPED_TRACE(dtype_name(t));
    auto rows = random_rows(t, kMaxRows, kK, 21);
    const size_t rb = row_bytes(t, kK);
    if (t == DType::Q8_0) {  // rows 0 and 9: the extreme quants, alternating signs
      for (int r : {0, 9}) {
        auto* blocks = reinterpret_cast<BlockQ8_0*>(rows.data() + r * rb);
        for (int64_t b = 0; b < kK / 32; ++b)
          for (int j = 0; j < 32; ++j) blocks[b].qs[j] = int8_t(j % 2 ? 127 : -128 + (b % 2));
      }
    }
    const auto tiled = tiled_copy(t, rows, kMaxRows, kK);
    const ActType act = act_type(t);
    const size_t ab = act_row_bytes(act, kK);
    std::vector<uint8_t> a(ab * kMaxCols);
    std::mt19937 rng(4);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(kK);
    for (int c = 0; c < kMaxCols; ++c) {
      for (int64_t i = 0; i < kK; ++i) x[i] = c % 4 == 1 ? (i % 2 ? 3.0f : -3.0f) : dist(rng);
      quantize_act_ref(act, x.data(), a.data() + c * ab, kK);
    }
    for (int n_rows : {1, 4, 5, 7, 8, 9, 12, 13, 16, kMaxRows})
      for (int n_cols : {1, 4, 5, 8, kPanelCols, kPanelCols + 2, kMaxCols}) {
        std::vector<float> want(size_t(kMaxRows) * n_cols, -1.0f), got = want, ref = want;
        DotTileArgs args{.type = t,
                         .n_k = kK,
                         .w = rows.data(),
                         .w_stride = rb,
                         .n_rows = n_rows,
                         .a = a.data(),
                         .a_stride = ab,
                         .n_cols = n_cols,
                         .out = want.data(),
                         .out_stride = kMaxRows};
        dot_rows(args);
        DotTileArgs tiled_args = args;
        tiled_args.w = tiled.data();
        tiled_args.tiled = true;
        tiled_args.out = got.data();
        dot_rows(tiled_args);
        args.out = ref.data();
        dot_tile_ref(args);
        for (int c = 0; c < n_cols; ++c)
          for (int r = 0; r < kMaxRows; ++r) {
            const size_t i = size_t(c) * kMaxRows + r;
            ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
                << n_rows << "x" << n_cols << " row " << r << " column " << c;
            if (r >= n_rows) {
              EXPECT_EQ(got[i], -1.0f) << "wrote past row " << n_rows;
            } else {
              EXPECT_NEAR(got[i], ref[i], 1e-4f * (1.0f + std::fabs(ref[i])))
                  << n_rows << "x" << n_cols << " row " << r << " column " << c;
            }
          }
      }
  }
}

TEST_P(TiledKernels, MatmulMatchesRowLayout) {
  ThreadPool pool(2);
  MatmulScratch scratch;
  for (DType t : kTileable) {
    SCOPED_TRACE(dtype_name(t));
    constexpr int64_t kRows = 37, kK = 9 * 32;  // a partial last tile
    const auto rows = random_rows(t, kRows, kK, 13);
    const auto tiled = tiled_copy(t, rows, kRows, kK);
    for (int64_t n_cols : {1, 2, 5, 16, 40}) {
      std::vector<float> x(size_t(n_cols * kK)), want(size_t(n_cols * kRows)), got(want.size());
      std::mt19937 rng{uint32_t(n_cols)};
      std::normal_distribution<float> dist(0.0f, 1.0f);
      for (float& v : x) v = dist(rng);
      const QMatrix m{.type = t, .data = rows.data(), .n_rows = kRows, .n_k = kK};
      QMatrix mt = m;
      mt.data = tiled.data();
      mt.layout = WeightLayout::kTiles4;
      ASSERT_TRUE(check_matmul(mt).ok());
      matmul(pool, scratch, m, x.data(), n_cols, want.data());
      matmul(pool, scratch, mt, x.data(), n_cols, got.data());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
            << n_cols << " columns, element " << i;
    }
  }
  QMatrix bad{.type = DType::Q4_K, .data = nullptr, .n_rows = 4, .n_k = 256};
  bad.layout = WeightLayout::kTiles4;
  EXPECT_FALSE(check_matmul(bad).ok());
}

INSTANTIATE_TEST_SUITE_P(Tiled, TiledKernels,
                         ::testing::ValuesIn(hwy::SupportedAndGeneratedTargets()),
                         [](const ::testing::TestParamInfo<int64_t>& info) {
                           return std::string(hwy::TargetName(info.param));
                         });

}  // namespace
}  // namespace muse
