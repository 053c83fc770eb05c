// Embedding row lookup: token ids -> float rows of a [n_embd, n_vocab] table of any
// supported type (the table stays quantized in the mapped file; only the looked-up rows are
// dequantized). Ids are checked, since they come from users and tokenizers.
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"
#include "core/tensor.h"

namespace muse {

// out is [ids.size()][table.ne[0]] floats.
Status embedding_lookup(const TensorView& table, std::span<const int32_t> ids, float* out);

}  // namespace muse
