// Paged KV storage and its type conversions.
#include "model/kv_cache.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/fp16.h"
#include "kernels/attention.h"
#include "quant/quant.h"

namespace muse {

Status validate_kv_cache_options(const KvCacheOptions& o) {
  // v_dim 0: values live inside the K rows (MLA's latent cache).
  if (o.n_pages <= 0 || o.n_layer <= 0 || o.k_dim <= 0 || o.v_dim < 0)
    return Errorf("KV cache: sizes must be positive (%lld pages)", (long long)o.n_pages);
  if (o.page_size < kAttentionPageRowsMultiple || o.page_size % kAttentionPageRowsMultiple != 0)
    return Errorf("KV cache: page size %lld must be a positive multiple of %lld",
                  (long long)o.page_size, (long long)kAttentionPageRowsMultiple);
  if (o.type != DType::F32 && o.type != DType::F16 && o.type != DType::Q8_0)
    return Errorf("KV cache: type %s is not supported (f32, f16, q8_0)",
                  std::string(dtype_name(o.type)).c_str());
  if (o.type == DType::Q8_0 && o.v_dim == 0 && o.k_dim % 32 != 0)
    return Errorf(
        "KV cache: q8_0 needs a latent row (kv_lora_rank + rope) that is a multiple "
        "of 32, got %lld; use f16 or f32",
        (long long)o.k_dim);
  if (o.type == DType::Q8_0 && (o.k_dim % 32 != 0 || o.v_dim % 32 != 0))
    return Errorf(
        "KV cache: q8_0 needs K/V rows that are multiples of 32, got %lld and %lld; "
        "use f16 or f32",
        (long long)o.k_dim, (long long)o.v_dim);
  const double bytes = double(o.n_layer) * double(o.n_pages) * double(o.page_size) *
                       double(o.k_dim + o.v_dim) * (o.type == DType::F32 ? 4.0 : 2.0);
  if (bytes > double(int64_t(1) << 40))
    return Errorf("KV cache: %.0f GiB requested; reduce the context size", bytes / (1 << 30));
  return Status::Ok();
}

StatusOr<DType> parse_kv_type(std::string_view name) {
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "q8_0") return DType::Q8_0;
  return Errorf("unknown KV cache type '%s' (expected f32, f16 or q8_0)",
                std::string(name).c_str());
}

KvCache::KvCache(const KvCacheOptions& o) : opts_(o) {
  k_row_bytes_ = row_bytes(o.type, o.k_dim);
  v_row_bytes_ = row_bytes(o.type, o.v_dim);
  page_bytes_ = size_t(o.page_size) * (k_row_bytes_ + v_row_bytes_);
  constexpr size_t kAlign = 64;
  const size_t total = (bytes() + kAlign - 1) / kAlign * kAlign;
  data_ = {static_cast<uint8_t*>(std::aligned_alloc(kAlign, total)), &std::free};
  if (!data_) throw std::bad_alloc();
}

void KvCache::store(uint8_t* row, const float* x, int64_t n) const {
  switch (opts_.type) {
    case DType::F32:
      std::memcpy(row, x, size_t(n) * sizeof(float));
      break;
    case DType::F16: {
      fp16_t* h = reinterpret_cast<fp16_t*>(row);
      for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(x[i]);
      break;
    }
    default:
      quantize_row_ref(opts_.type, x, row, n);
      break;
  }
}

void KvCache::copy_page(int64_t dst, int64_t src, int64_t n_rows) {
  for (int64_t il = 0; il < opts_.n_layer; ++il) {
    std::memcpy(k_row(il, dst, 0), k_row(il, src, 0), size_t(n_rows) * k_row_bytes_);
    if (v_row_bytes_ > 0)
      std::memcpy(v_row(il, dst, 0), v_row(il, src, 0), size_t(n_rows) * v_row_bytes_);
  }
}

}  // namespace muse
