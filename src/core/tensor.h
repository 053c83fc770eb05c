// Tensor views: shape, byte strides and element type over memory someone else owns (a
// mapped GGUF file, an Arena, a KV page). GGML order: ne[0] is the contiguous dimension,
// nb[i] the byte stride of dimension i; a row is ne[0] elements, whole blocks for
// quantized types, so nb[0] is the size of one block divided by the block size only
// conceptually and nb[1] = row_bytes(dtype, ne[0]) when contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/dtype.h"

namespace muse {

constexpr int kMaxDims = 4;

struct TensorView {
  DType dtype = DType::F32;
  int n_dims = 0;
  int64_t ne[kMaxDims] = {1, 1, 1, 1};  // elements per dimension
  size_t nb[kMaxDims] = {0, 0, 0, 0};   // bytes between consecutive indices of each dim
  void* data = nullptr;

  // A contiguous view of `dims` (ne[0] first).
  static TensorView contiguous(DType t, std::initializer_list<int64_t> dims, void* data);

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return muse::row_bytes(dtype, ne[0]); }
  size_t bytes() const;  // extent of the data the view covers
  bool is_contiguous() const;

  // Start of row (i1, i2, i3).
  template <class T = void>
  T* row(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) const {
    return reinterpret_cast<T*>(static_cast<uint8_t*>(data) + i1 * nb[1] + i2 * nb[2] + i3 * nb[3]);
  }

  std::string shape_string() const;  // "[4096, 32000]"
};

}  // namespace muse
