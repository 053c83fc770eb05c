// Embedding lookup returns exactly the dequantized table rows and rejects bad ids.
#include "kernels/embedding.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "quant/quant.h"

namespace muse {
namespace {

TEST(Embedding, RowsMatchDequantizedTable) {
  constexpr int64_t kEmbd = 64, kVocab = 10;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<float> table(kEmbd * kVocab);
  for (float& v : table) v = dist(rng);
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const size_t rb = row_bytes(t, kEmbd);
    std::vector<uint8_t> q(rb * kVocab);
    for (int64_t r = 0; r < kVocab; ++r)
      quantize_row_ref(t, table.data() + r * kEmbd, q.data() + r * rb, kEmbd);
    const TensorView view = TensorView::contiguous(t, {kEmbd, kVocab}, q.data());
    const std::vector<int32_t> ids = {3, 0, 9, 3};
    std::vector<float> out(ids.size() * kEmbd);
    ASSERT_TRUE(embedding_lookup(view, ids, out.data()).ok());
    std::vector<float> expect(kEmbd);
    for (size_t i = 0; i < ids.size(); ++i) {
      dequantize_row_ref(t, q.data() + ids[i] * rb, expect.data(), kEmbd);
      for (int64_t k = 0; k < kEmbd; ++k) ASSERT_EQ(out[i * kEmbd + k], expect[k]);
    }
  }
}

TEST(Embedding, RejectsOutOfRangeIds) {
  std::vector<float> table(8 * 4);
  const TensorView view = TensorView::contiguous(DType::F32, {8, 4}, table.data());
  std::vector<float> out(8);
  for (int32_t bad : {-1, 4, 1 << 30}) {
    const int32_t ids[] = {bad};
    const Status s = embedding_lookup(view, ids, out.data());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("outside the vocabulary"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace muse
