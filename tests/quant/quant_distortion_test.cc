// Distortion statistics of every reference quantizer on 64K values of N(0, 1): prints a
// table (type, bits per weight, relative RMSE, max abs error) and asserts each RMSE is below
// test::RmseBound, and that more bits never cost accuracy within a family.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <vector>

#include "quant/quant.h"
#include "quant_test_util.h"

namespace muse {
namespace {

TEST(QuantDistortion, GaussianTable) {
  constexpr int64_t kN = 65536;
  test::Gaussian g(2024);
  const std::vector<float> x = g.Row(kN);
  std::map<DType, double> rmse;
  std::printf("%-6s %8s %12s %12s %10s\n", "type", "bits/w", "rel. RMSE", "max |err|", "bound");
  for (DType t : test::AllRefTypes()) {
    const std::vector<float> y = test::RoundTrip(t, x);
    const DTypeInfo& info = dtype_info(t);
    const double bpw = 8.0 * double(info.type_size) / double(info.block_size);
    rmse[t] = test::RelativeRmse(x, y);
    std::printf("%-6s %8.3f %12.5f %12.5f %10.5f\n", test::Name(t).c_str(), bpw, rmse[t],
                test::MaxAbsError(x, y), test::RmseBound(t));
    EXPECT_LE(rmse[t], test::RmseBound(t)) << test::Name(t);
  }
  // Orderings that hold for any sound implementation of these formats.
  EXPECT_LT(rmse[DType::Q3_K], rmse[DType::Q2_K]);
  EXPECT_LT(rmse[DType::Q4_K], rmse[DType::Q3_K]);
  EXPECT_LT(rmse[DType::Q5_K], rmse[DType::Q4_K]);
  EXPECT_LT(rmse[DType::Q6_K], rmse[DType::Q5_K]);
  EXPECT_LT(rmse[DType::Q4_1], rmse[DType::Q4_0]);
  EXPECT_LT(rmse[DType::Q5_1], rmse[DType::Q5_0]);
  EXPECT_LT(rmse[DType::Q5_0], rmse[DType::Q4_1]);
  EXPECT_LT(rmse[DType::Q8_0], rmse[DType::Q6_K]);
  // At equal bits (4.5 and 5.5) the K-quants' searched scales beat the legacy formats.
  EXPECT_LT(rmse[DType::Q4_K], rmse[DType::Q4_0]);
  EXPECT_LT(rmse[DType::Q5_K], rmse[DType::Q5_0]);
}

}  // namespace
}  // namespace muse
