// Token embedding lookup and its backward (a scatter-add into the table's gradient).
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"
#include "train/ops/common.h"

namespace muse {

// out[t] = table[ids[t]] for table [V][D], out [T][D]. Fails, writing nothing, when an id is
// outside [0, V) (token ids come from data files).
Status embedding_forward(const float* table, int64_t n_vocab, int64_t n_embd,
                         std::span<const int32_t> ids, float* out);

// dtable[ids[t]] += dout[t]. Ids must have passed embedding_forward. Columns are split over
// the pool, so repeated ids never race and the sums run in token order for any thread count.
void embedding_backward(ThreadPool& pool, std::span<const int32_t> ids, const float* dout,
                        int64_t n_embd, float* dtable);

}  // namespace muse
