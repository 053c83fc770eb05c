// Paged key/value storage shared by every sequence of a context or engine. The cache is
// `n_pages` pages of `page_size` positions; a sequence's positions live in the pages of its
// page table (position p in page pages[p / page_size], slot p % page_size), so sequences can
// share pages (a forked branch, a cached prompt prefix) and grow without reallocation.
// Which page belongs to whom, reference counts and the prefix cache are runtime/'s business
// (runtime/kv_pages.h); this class only stores rows and knows where they are.
//
// Layout: [layer][page][K rows][V rows], rows in the cache type. F32 and F16 rows feed
// attention directly through its page table; Q8_0 rows (half the memory of F16) are widened
// to F32 per layer and step. For MLA (v_dim = 0) a page holds latent rows [c_kv ; k_rope]
// only, which serve as keys and values.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/dtype.h"
#include "core/status.h"

namespace muse {

struct KvCacheOptions {
  int64_t n_pages = 0;
  int64_t page_size = 16;  // positions per page: a multiple of 16 (kAttentionPageRowsMultiple)
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
  int64_t page_size() const { return opts_.page_size; }
  int64_t n_pages() const { return opts_.n_pages; }
  size_t k_row_bytes() const { return k_row_bytes_; }
  size_t v_row_bytes() const { return v_row_bytes_; }
  // Bytes from one page of a layer to the next (K and V rows of page_size positions).
  size_t page_stride_bytes() const { return page_bytes_; }
  size_t bytes() const { return page_bytes_ * size_t(opts_.n_pages * opts_.n_layer); }
  // Cache bytes one position occupies across all layers.
  size_t bytes_per_token() const { return size_t(opts_.n_layer) * (k_row_bytes_ + v_row_bytes_); }

  uint8_t* k_row(int64_t layer, int64_t page, int64_t slot) {
    return page_base(layer, page) + slot * k_row_bytes_;
  }
  uint8_t* v_row(int64_t layer, int64_t page, int64_t slot) {
    return page_base(layer, page) + opts_.page_size * k_row_bytes_ + slot * v_row_bytes_;
  }
  const uint8_t* k_row(int64_t layer, int64_t page, int64_t slot) const {
    return const_cast<KvCache*>(this)->k_row(layer, page, slot);
  }
  const uint8_t* v_row(int64_t layer, int64_t page, int64_t slot) const {
    return const_cast<KvCache*>(this)->v_row(layer, page, slot);
  }
  // Rows of position `pos` of a sequence with page table `pages`.
  const uint8_t* k_at(int64_t layer, std::span<const int32_t> pages, int64_t pos) const {
    return k_row(layer, pages[size_t(pos / opts_.page_size)], pos % opts_.page_size);
  }
  const uint8_t* v_at(int64_t layer, std::span<const int32_t> pages, int64_t pos) const {
    return v_row(layer, pages[size_t(pos / opts_.page_size)], pos % opts_.page_size);
  }
  uint8_t* k_at(int64_t layer, std::span<const int32_t> pages, int64_t pos) {
    return k_row(layer, pages[size_t(pos / opts_.page_size)], pos % opts_.page_size);
  }
  uint8_t* v_at(int64_t layer, std::span<const int32_t> pages, int64_t pos) {
    return v_row(layer, pages[size_t(pos / opts_.page_size)], pos % opts_.page_size);
  }

  // Stores float rows in the cache type.
  void store(uint8_t* row, const float* x, int64_t n) const;
  // Copies the first n_rows positions of page `src` into page `dst`, in every layer
  // (copy-on-write of a shared, partly filled page).
  void copy_page(int64_t dst, int64_t src, int64_t n_rows);

 private:
  uint8_t* page_base(int64_t layer, int64_t page) {
    return data_.get() + (size_t(layer) * size_t(opts_.n_pages) + size_t(page)) * page_bytes_;
  }

  KvCacheOptions opts_;
  size_t k_row_bytes_ = 0, v_row_bytes_ = 0, page_bytes_ = 0;
  // Not zeroed: the OS backs a page of memory only when a row is first written.
  std::unique_ptr<uint8_t, void (*)(void*)> data_{nullptr, nullptr};
};

}  // namespace muse
