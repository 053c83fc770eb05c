// Key/value cache of one sequence: per layer, K and V rows for positions [0, n_ctx), each
// row Hkv * Dh elements in the cache type. F32 and F16 rows feed attention directly; Q8_0
// rows (half the memory of F16) are widened to F32 per layer at each step.
// The paged, shareable cache of ARCHITECTURE.md section 4 replaces this in runtime/.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace muse {

struct KvCacheOptions {
  int64_t n_ctx = 0;  // positions
  int64_t n_layer = 0;
  int64_t k_dim = 0;        // Hkv * Dh (elements per K row)
  int64_t v_dim = 0;        // 0: no V rows (MLA: the K row [c_kv ; k_rope] also serves as V)
  DType type = DType::F16;  // F32, F16 or Q8_0
};

Status validate_kv_cache_options(const KvCacheOptions& o);
// "f32" / "f16" / "q8_0" → DType, with an error naming the accepted values.
StatusOr<DType> parse_kv_type(std::string_view name);

class KvCache {
 public:
  explicit KvCache(const KvCacheOptions& o);  // requires validate_kv_cache_options(o).ok()

  const KvCacheOptions& options() const { return opts_; }
  size_t k_row_bytes() const { return k_row_bytes_; }
  size_t v_row_bytes() const { return v_row_bytes_; }
  size_t bytes() const { return data_.size(); }
  // Cache bytes one position occupies across all layers.
  size_t bytes_per_token() const { return size_t(opts_.n_layer) * (k_row_bytes_ + v_row_bytes_); }

  uint8_t* k_row(int64_t layer, int64_t pos) { return k_base(layer) + pos * k_row_bytes_; }
  uint8_t* v_row(int64_t layer, int64_t pos) { return v_base(layer) + pos * v_row_bytes_; }
  const uint8_t* k_base(int64_t layer) const { return data_.data() + layer * layer_bytes_; }
  const uint8_t* v_base(int64_t layer) const { return k_base(layer) + opts_.n_ctx * k_row_bytes_; }
  uint8_t* k_base(int64_t layer) { return data_.data() + layer * layer_bytes_; }
  uint8_t* v_base(int64_t layer) { return k_base(layer) + opts_.n_ctx * k_row_bytes_; }

  // Stores float rows in the cache type.
  void store(uint8_t* row, const float* x, int64_t n) const;

 private:
  KvCacheOptions opts_;
  size_t k_row_bytes_ = 0, v_row_bytes_ = 0, layer_bytes_ = 0;
  std::vector<uint8_t> data_;
};

}  // namespace muse
