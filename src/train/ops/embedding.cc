// Embedding lookup and scatter-add (see embedding.h); ids are validated once, in forward.
#include "train/ops/embedding.h"

#include <algorithm>

namespace muse {

Status embedding_forward(const float* table, int64_t n_vocab, int64_t n_embd,
                         std::span<const int32_t> ids, float* out) {
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || ids[t] >= n_vocab)
      return Errorf("embedding: token %zu has id %d, outside the vocabulary [0, %lld)", t, ids[t],
                    static_cast<long long>(n_vocab));
  }
  for (size_t t = 0; t < ids.size(); ++t)
    std::copy_n(table + int64_t(ids[t]) * n_embd, n_embd, out + int64_t(t) * n_embd);
  return Status::Ok();
}

void embedding_backward(ThreadPool& pool, std::span<const int32_t> ids, const float* dout,
                        int64_t n_embd, float* dtable) {
  for_chunks(pool, n_embd, 64, [&](int64_t d0, int64_t d1) {
    for (size_t t = 0; t < ids.size(); ++t) {
      const float* src = dout + int64_t(t) * n_embd;
      float* dst = dtable + int64_t(ids[t]) * n_embd;
      for (int64_t d = d0; d < d1; ++d) dst[d] += src[d];
    }
  });
}

}  // namespace muse
