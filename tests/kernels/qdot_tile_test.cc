// dot_tile's and dot_panel's shape invariance: the float result for a (row, column) pair must be
// bit for bit the same whatever tile it is computed in (1..kTileRows rows, 1..kTileCols columns,
// any neighbours), since a batched-decode engine relies on batch-N results == batch-1 results and
// matmul splits rows and columns into tiles by count. Checked for every legacy block type on every
// SIMD target this build compiled and this CPU runs.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <bit>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/qdot.h"
#include "quant/quant.h"

namespace muse {
namespace {

constexpr DType kLegacyTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

class QdotTile : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override { hwy::SetSupportedTargetsForTest(GetParam()); }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

std::string TargetParamName(const ::testing::TestParamInfo<int64_t>& info) {
  return hwy::TargetName(info.param);
}

TEST_P(QdotTile, ResultIndependentOfTileShape) {
  constexpr int kRows = kTileRows + 3, kCols = kTileCols + 3;
  // 37 blocks: not a multiple of the blocks per cache line (prefetch cadence).
  constexpr int64_t kN = 37 * 32;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType t : kLegacyTypes) {
    SCOPED_TRACE(dtype_name(t));
    const size_t rb = row_bytes(t, kN);
    const ActType act = act_type(t);
    const size_t ab = act_row_bytes(act, kN);
    std::vector<uint8_t> w(rb * kRows), a(ab * kCols);
    std::vector<float> x(kN);
    for (int r = 0; r < kRows; ++r) {
      // Row scales spread over several octaves, so rows differ in magnitude.
      const float s = float(1 << (r % 4));
      for (float& v : x) v = s * dist(rng);
      quantize_row_ref(t, x.data(), w.data() + r * rb, kN);
    }
    for (int c = 0; c < kCols; ++c) {
      for (int64_t i = 0; i < kN; ++i) x[i] = (c % 2 ? 100.0f : 0.01f) * dist(rng);
      if (c == kCols - 1)  // saturating activations: every block at +-127
        for (int64_t i = 0; i < kN; ++i) x[i] = (i % 3 ? 1.0f : -1.0f);
      quantize_act_ref(act, x.data(), a.data() + c * ab, kN);
    }

    // The 1 x 1 tile of every pair is the reference.
    std::vector<float> ref(kRows * kCols);
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < kCols; ++c)
        dot_tile({.type = t,
                  .n_k = kN,
                  .w = w.data() + r * rb,
                  .w_stride = rb,
                  .n_rows = 1,
                  .a = a.data() + c * ab,
                  .a_stride = ab,
                  .n_cols = 1,
                  .out = &ref[c * kRows + r],
                  .out_stride = size_t(kRows)});

    for (int n_rows = 1; n_rows <= kTileRows; ++n_rows)
      for (int n_cols = 1; n_cols <= kTileCols; ++n_cols)
        for (int r0 = 0; r0 + n_rows <= kRows; ++r0)
          for (int c0 = 0; c0 + n_cols <= kCols; ++c0) {
            std::vector<float> out(kTileRows * kTileCols, -1.0f);
            dot_tile({.type = t,
                      .n_k = kN,
                      .w = w.data() + r0 * rb,
                      .w_stride = rb,
                      .n_rows = n_rows,
                      .a = a.data() + c0 * ab,
                      .a_stride = ab,
                      .n_cols = n_cols,
                      .out = out.data(),
                      .out_stride = kTileRows});
            for (int c = 0; c < n_cols; ++c)
              for (int r = 0; r < n_rows; ++r) {
                const float got = out[c * kTileRows + r];
                const float want = ref[(c0 + c) * kRows + r0 + r];
                ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
                    << "tile " << n_rows << "x" << n_cols << " at row " << r0 + r << " col "
                    << c0 + c << ": " << got << " vs 1x1 " << want;
              }
            // Rows past n_rows are not written.
            for (int c = 0; c < n_cols; ++c)
              for (int r = n_rows; r < kTileRows; ++r) ASSERT_EQ(out[c * kTileRows + r], -1.0f);
          }
  }
}

// dot_panel against the same 1 x 1 tiles: every panel width up to kPanelCols, every row
// count, and columns that saturate (all +-127) mixed with small and large ones.
TEST_P(QdotTile, PanelEqualsTiles) {
  constexpr int kRows = kTileRows + 1, kCols = kPanelCols + 2;
  static_assert(kPanelCols > 13);
  constexpr int64_t kN = 21 * 32;
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType t : kLegacyTypes) {
    SCOPED_TRACE(dtype_name(t));
    const size_t rb = row_bytes(t, kN);
    const ActType act = act_type(t);
    const size_t ab = act_row_bytes(act, kN);
    std::vector<uint8_t> w(rb * kRows), a(ab * kCols);
    std::vector<float> x(kN);
    for (int r = 0; r < kRows; ++r) {
      for (float& v : x) v = float(1 << r) * dist(rng);
      quantize_row_ref(t, x.data(), w.data() + r * rb, kN);
    }
    for (int c = 0; c < kCols; ++c) {
      for (int64_t i = 0; i < kN; ++i)
        x[i] = c % 7 == 3 ? (i % 3 ? 1.0f : -1.0f) : (c % 2 ? 50.0f : 0.02f) * dist(rng);
      quantize_act_ref(act, x.data(), a.data() + c * ab, kN);
    }
    std::vector<float> ref(kRows * kCols);
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < kCols; ++c)
        dot_tile({.type = t,
                  .n_k = kN,
                  .w = w.data() + r * rb,
                  .w_stride = rb,
                  .n_rows = 1,
                  .a = a.data() + c * ab,
                  .a_stride = ab,
                  .n_cols = 1,
                  .out = &ref[c * kRows + r],
                  .out_stride = size_t(kRows)});
    for (int n_rows = 1; n_rows <= kTileRows; ++n_rows)
      for (int n_cols : {1, 2, 4, 5, 8, 13, kPanelCols - 1, kPanelCols})
        for (int r0 : {0, kRows - n_rows})
          for (int c0 : {0, kCols - n_cols}) {
            std::vector<float> out(size_t(kTileRows) * n_cols, -1.0f);
            dot_panel({.type = t,
                       .n_k = kN,
                       .w = w.data() + r0 * rb,
                       .w_stride = rb,
                       .n_rows = n_rows,
                       .a = a.data() + c0 * ab,
                       .a_stride = ab,
                       .n_cols = n_cols,
                       .out = out.data(),
                       .out_stride = kTileRows});
            for (int c = 0; c < n_cols; ++c)
              for (int r = 0; r < kTileRows; ++r) {
                const float got = out[c * kTileRows + r];
                if (r >= n_rows) {
                  ASSERT_EQ(got, -1.0f)
                      << "row " << r << " written by a " << n_rows << "-row panel";
                  continue;
                }
                const float want = ref[(c0 + c) * kRows + r0 + r];
                ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
                    << "panel " << n_rows << "x" << n_cols << " at row " << r0 + r << " col "
                    << c0 + c << ": " << got << " vs 1x1 " << want;
              }
          }
  }
}

// dot_rows (a whole run of rows and any column count in one call) against 1 x 1 tiles, for
// the legacy types (one dispatched loop) and types that go tile by tile (K-quant, F16).
TEST_P(QdotTile, RowsEqualTiles) {
  constexpr int kRows = 11, kCols = kPanelCols + 5;
  constexpr int64_t kN = 256;
  std::mt19937 rng(17);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<DType> types(std::begin(kLegacyTypes), std::end(kLegacyTypes));
  types.push_back(DType::Q4_K);
  types.push_back(DType::F16);
  for (DType t : types) {
    SCOPED_TRACE(dtype_name(t));
    const size_t rb = row_bytes(t, kN);
    const ActType act = act_type(t);
    const size_t ab = act_row_bytes(act, kN);
    std::vector<uint8_t> w(rb * kRows), a(ab * kCols);
    std::vector<float> x(kN);
    for (int r = 0; r < kRows; ++r) {
      for (float& v : x) v = dist(rng);
      quantize_row_ref(t, x.data(), w.data() + r * rb, kN);
    }
    for (int c = 0; c < kCols; ++c) {
      for (float& v : x) v = dist(rng);
      quantize_act_ref(act, x.data(), a.data() + c * ab, kN);
    }
    std::vector<float> ref(kRows * kCols);
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < kCols; ++c)
        dot_tile({.type = t,
                  .n_k = kN,
                  .w = w.data() + r * rb,
                  .w_stride = rb,
                  .n_rows = 1,
                  .a = a.data() + c * ab,
                  .a_stride = ab,
                  .n_cols = 1,
                  .out = &ref[c * kRows + r],
                  .out_stride = size_t(kRows)});
    for (int n_rows : {1, 4, 7, kRows})
      for (int n_cols : {1, 3, kPanelCols, kCols}) {
        std::vector<float> out(size_t(kRows) * kCols, -1.0f);
        dot_rows({.type = t,
                  .n_k = kN,
                  .w = w.data(),
                  .w_stride = rb,
                  .n_rows = n_rows,
                  .a = a.data(),
                  .a_stride = ab,
                  .n_cols = n_cols,
                  .out = out.data(),
                  .out_stride = size_t(kRows)});
        for (int c = 0; c < kCols; ++c)
          for (int r = 0; r < kRows; ++r) {
            const float got = out[c * kRows + r];
            if (r >= n_rows || c >= n_cols) {
              ASSERT_EQ(got, -1.0f) << "wrote row " << r << " col " << c;
              continue;
            }
            ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(ref[c * kRows + r]))
                << n_rows << " rows x " << n_cols << " cols: row " << r << " col " << c;
          }
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Qdot, QdotTile, ::testing::ValuesIn(hwy::SupportedAndGeneratedTargets()),
                         TargetParamName);

}  // namespace
}  // namespace muse
