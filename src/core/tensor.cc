#include "core/tensor.h"

namespace muse {

TensorView TensorView::contiguous(DType t, std::initializer_list<int64_t> dims, void* data) {
  TensorView v;
  v.dtype = t;
  v.data = data;
  int i = 0;
  for (int64_t d : dims) {
    if (i == kMaxDims) break;
    v.ne[i++] = d;
  }
  v.n_dims = i;
  const DTypeInfo& info = dtype_info(t);
  v.nb[0] = info.type_size;  // per block; per element for plain types
  v.nb[1] = muse::row_bytes(t, v.ne[0]);
  for (int d = 2; d < kMaxDims; ++d) v.nb[d] = v.nb[d - 1] * size_t(v.ne[d - 1]);
  return v;
}

size_t TensorView::bytes() const {
  if (n_elements() == 0) return 0;
  size_t last = row_bytes();
  for (int d = 1; d < kMaxDims; ++d) last += size_t(ne[d] - 1) * nb[d];
  return last;
}

bool TensorView::is_contiguous() const {
  if (nb[1] != row_bytes()) return false;
  for (int d = 2; d < kMaxDims; ++d)
    if (nb[d] != nb[d - 1] * size_t(ne[d - 1])) return false;
  return true;
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < (n_dims ? n_dims : 1); ++d) {
    if (d) s += ", ";
    s += std::to_string(ne[d]);
  }
  return s + "]";
}

}  // namespace muse
