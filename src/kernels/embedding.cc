#include "kernels/embedding.h"

#include "quant/quant.h"

namespace muse {

Status embedding_lookup(const TensorView& table, std::span<const int32_t> ids, float* out) {
  if (!dtype_info(table.dtype).supported)
    return Errorf("embedding table type %s is not supported",
                  std::string(dtype_name(table.dtype)).c_str());
  const int64_t n_embd = table.ne[0], n_vocab = table.ne[1];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= n_vocab)
      return Errorf("token id %d at position %zu is outside the vocabulary [0, %lld)", ids[i], i,
                    (long long)n_vocab);
  }
  for (size_t i = 0; i < ids.size(); ++i)
    dequantize_row_ref(table.dtype, table.row(ids[i]), out + i * n_embd, n_embd);
  return Status::Ok();
}

}  // namespace muse
