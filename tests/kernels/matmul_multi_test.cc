// matmul_multi must give exactly what separate matmul calls give, for matrices of mixed
// types and activation formats sharing one input (a Q4_K_M layer mixes Q4_K and Q6_K), and
// for more matrices than one job holds.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "quant/quant.h"

namespace muse {
namespace {

struct Owned {
  std::vector<uint8_t> bytes;
  QMatrix m;
};

Owned random_matrix(DType t, int64_t rows, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(k));
  Owned o;
  const size_t rb = row_bytes(t, k);
  o.bytes.resize(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    quantize_row_ref(t, row.data(), o.bytes.data() + r * rb, k);
  }
  o.m = QMatrix{.type = t, .data = o.bytes.data(), .n_rows = rows, .n_k = k};
  return o;
}

TEST(MatmulMulti, EqualsSeparateCalls) {
  const int64_t k = 512;
  const DType types[] = {DType::Q4_K, DType::Q6_K, DType::Q8_0, DType::F32, DType::Q4_0};
  const int64_t rows[] = {64, 37, 128, 5, 300};
  std::vector<Owned> owned;
  std::vector<QMatrix> ws;
  for (int i = 0; i < 5; ++i) {
    owned.push_back(random_matrix(types[i], rows[i], k, 10 + i));
    ws.push_back(owned.back().m);
  }
  ThreadPool pool(2);
  MatmulScratch scratch;
  for (int64_t n_cols : {1, 3, 9}) {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n_cols * k));
    for (float& v : x) v = dist(rng);
    std::vector<std::vector<float>> got(5), want(5);
    std::vector<float*> ys;
    for (int i = 0; i < 5; ++i) {
      got[i].assign(size_t(n_cols * rows[i]), -1.0f);
      want[i].assign(size_t(n_cols * rows[i]), -2.0f);
      ys.push_back(got[i].data());
      matmul(pool, scratch, ws[i], x.data(), n_cols, want[i].data());
    }
    matmul_multi(pool, scratch, ws, x.data(), n_cols, ys);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(got[i], want[i]) << "matrix " << i << " cols " << n_cols;
  }
}

}  // namespace
}  // namespace muse
