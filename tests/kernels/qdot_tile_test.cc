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

// Weight rows and quantized activation columns of one type, and the 1 x 1 dot_tile of every
// (row, column) pair, which the tests take as the reference. Row scales spread over several
// octaves; columns alternate small and large magnitudes, and every 7th column saturates
// (every activation block at +-127).
struct Operands {
  int n_rows, n_cols;
  int64_t n;
  size_t rb, ab;
  std::vector<uint8_t> w, a;
  std::vector<float> ref;  // [c * n_rows + r]
};

Operands make_operands(DType t, int n_rows, int n_cols, int64_t n, uint32_t seed) {
  Operands o{n_rows, n_cols, n, row_bytes(t, n), act_row_bytes(act_type(t), n), {}, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  o.w.resize(o.rb * n_rows);
  o.a.resize(o.ab * n_cols);
  std::vector<float> x(n);
  for (int r = 0; r < n_rows; ++r) {
    for (float& v : x) v = float(1 << (r % 4)) * dist(rng);
    quantize_row_ref(t, x.data(), o.w.data() + r * o.rb, n);
  }
  for (int c = 0; c < n_cols; ++c) {
    for (int64_t i = 0; i < n; ++i)
      x[i] = c % 7 == 6 ? (i % 3 ? 1.0f : -1.0f) : (c % 2 ? 100.0f : 0.01f) * dist(rng);
    quantize_act_ref(act_type(t), x.data(), o.a.data() + c * o.ab, n);
  }
  o.ref.resize(size_t(n_rows) * n_cols);
  for (int r = 0; r < n_rows; ++r)
    for (int c = 0; c < n_cols; ++c)
      dot_tile({.type = t,
                .n_k = n,
                .w = o.w.data() + r * o.rb,
                .w_stride = o.rb,
                .n_rows = 1,
                .a = o.a.data() + c * o.ab,
                .a_stride = o.ab,
                .n_cols = 1,
                .out = &o.ref[c * n_rows + r],
                .out_stride = size_t(n_rows)});
  return o;
}

// Runs `kernel` on rows [r0, r0 + n_rows) and columns [c0, c0 + n_cols) of `o` into a
// kTileRows-row output and checks every result bit for bit against the 1 x 1 reference, and
// that rows past n_rows are left alone.
void expect_matches_1x1(const Operands& o, DType t, int n_rows, int n_cols, int r0, int c0,
                        void (*kernel)(const DotTileArgs&), const char* what) {
  std::vector<float> out(size_t(kTileRows) * n_cols, -1.0f);
  kernel({.type = t,
          .n_k = o.n,
          .w = o.w.data() + r0 * o.rb,
          .w_stride = o.rb,
          .n_rows = n_rows,
          .a = o.a.data() + c0 * o.ab,
          .a_stride = o.ab,
          .n_cols = n_cols,
          .out = out.data(),
          .out_stride = kTileRows});
  for (int c = 0; c < n_cols; ++c)
    for (int r = 0; r < kTileRows; ++r) {
      const float got = out[c * kTileRows + r];
      if (r >= n_rows) {
        ASSERT_EQ(got, -1.0f) << what << ": row " << r << " written by " << n_rows << " rows";
        continue;
      }
      const float want = o.ref[(c0 + c) * o.n_rows + r0 + r];
      ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
          << what << " " << n_rows << "x" << n_cols << " at row " << r0 + r << " col " << c0 + c
          << ": " << got << " vs 1x1 " << want;
    }
}

TEST_P(QdotTile, ResultIndependentOfTileShape) {
  constexpr int kRows = kTileRows + 3, kCols = kTileCols + 3;
  // 37 blocks: not a multiple of the blocks per cache line (prefetch cadence).
  constexpr int64_t kN = 37 * 32;
  for (DType t : kLegacyTypes) {
    SCOPED_TRACE(dtype_name(t));
    const Operands o = make_operands(t, kRows, kCols, kN, 7);
    for (int n_rows = 1; n_rows <= kTileRows; ++n_rows)
      for (int n_cols = 1; n_cols <= kTileCols; ++n_cols)
        for (int r0 = 0; r0 + n_rows <= kRows; ++r0)
          for (int c0 = 0; c0 + n_cols <= kCols; ++c0)
            ASSERT_NO_FATAL_FAILURE(
                expect_matches_1x1(o, t, n_rows, n_cols, r0, c0, dot_tile, "tile"));
  }
}

// dot_panel against the same 1 x 1 tiles: every panel width up to kPanelCols, every row
// count, and columns that saturate (all +-127) mixed with small and large ones.
TEST_P(QdotTile, PanelEqualsTiles) {
  constexpr int kRows = kTileRows + 1, kCols = kPanelCols + 2;
  static_assert(kPanelCols > 13);
  constexpr int64_t kN = 21 * 32;
  for (DType t : kLegacyTypes) {
    SCOPED_TRACE(dtype_name(t));
    const Operands o = make_operands(t, kRows, kCols, kN, 11);
    for (int n_rows = 1; n_rows <= kTileRows; ++n_rows)
      for (int n_cols : {1, 2, 4, 5, 8, 13, kPanelCols - 1, kPanelCols})
        for (int r0 : {0, kRows - n_rows})
          for (int c0 : {0, kCols - n_cols})
            ASSERT_NO_FATAL_FAILURE(
                expect_matches_1x1(o, t, n_rows, n_cols, r0, c0, dot_panel, "panel"));
  }
}

// dot_rows (a whole run of rows and any column count in one call) against 1 x 1 tiles, for
// the legacy types (one dispatched loop) and types that go tile by tile (K-quant, F16).
TEST_P(QdotTile, RowsEqualTiles) {
  constexpr int kRows = 11, kCols = kPanelCols + 5;
  constexpr int64_t kN = 256;
  std::vector<DType> types(std::begin(kLegacyTypes), std::end(kLegacyTypes));
  types.push_back(DType::Q4_K);
  types.push_back(DType::F16);
  for (DType t : types) {
    SCOPED_TRACE(dtype_name(t));
    const Operands o = make_operands(t, kRows, kCols, kN, 17);
    const size_t rb = o.rb, ab = o.ab;
    const std::vector<uint8_t>&w = o.w, &a = o.a;
    const std::vector<float>& ref = o.ref;
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
