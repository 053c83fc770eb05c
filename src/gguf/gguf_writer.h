// GGUF v3 writer: metadata and tensors in, a llama.cpp-loadable file out, streamed so that
// a tensor's bytes exist in memory only while it is written (fill callbacks).
// Invariants: KVs keep insertion order (setting a key again replaces it in place); tensors
// are laid out in insertion order, each at an offset that is a multiple of the alignment,
// zero-padded to the next multiple (as GGML's own writer does, including the last one).
// The file is written to `<path>.tmp` and renamed, so a failed write leaves no half file.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf.h"

namespace muse {

// GGML keeps tensor names in a 64-byte buffer with a terminator.
constexpr size_t kGgufMaxTensorName = 63;

class GgufWriter {
 public:
  // Fills exactly `dst.size()` bytes with the tensor's data in GGML layout.
  using FillFn = std::function<Status(std::span<uint8_t> dst)>;

  // Scalar setters. Invalid input (an empty key) is remembered and reported by write().
  void set_u8(std::string_view key, uint8_t v);
  void set_i8(std::string_view key, int8_t v);
  void set_u16(std::string_view key, uint16_t v);
  void set_i16(std::string_view key, int16_t v);
  void set_u32(std::string_view key, uint32_t v);
  void set_i32(std::string_view key, int32_t v);
  void set_f32(std::string_view key, float v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  void set_u64(std::string_view key, uint64_t v);
  void set_i64(std::string_view key, int64_t v);
  void set_f64(std::string_view key, double v);

  // Array setters (tokenizer vocabularies, scores, token types, per-layer hyperparameters).
  void set_string_array(std::string_view key, std::span<const std::string> v);
  void set_string_array(std::string_view key, std::span<const std::string_view> v);
  void set_i32_array(std::string_view key, std::span<const int32_t> v);
  void set_u32_array(std::string_view key, std::span<const uint32_t> v);
  void set_i64_array(std::string_view key, std::span<const int64_t> v);
  void set_f32_array(std::string_view key, std::span<const float> v);
  void set_bool_array(std::string_view key, std::span<const bool> v);

  // Copies any value read from another file, e.g. to rewrite a model with new tensors but
  // the same metadata. Arrays of arrays are legal GGUF and round-trip here, but GGML's own
  // reader rejects them, so a file meant for llama.cpp must not contain any.
  void set_value(std::string_view key, const GgufValue& v);

  // Also sets `general.alignment`; must be a power of two. Setting that key through
  // set_u32 has the same effect. Default 32, which is not written unless set.
  void set_alignment(uint32_t alignment);

  // `ne` in GGML order (ne[0] contiguous), 1 to 4 dims, all positive, ne[0] a multiple of
  // the type's block size. `data` must stay valid until write() returns.
  Status add_tensor(std::string_view name, DType dtype, std::span<const int64_t> ne,
                    const void* data);
  Status add_tensor(std::string_view name, DType dtype, std::span<const int64_t> ne, FillFn fill);

  size_t n_tensors() const { return tensors_.size(); }
  size_t n_kvs() const { return kvs_.size(); }

  // Writes the file; returns the first error of any setter, a fill callback or the I/O.
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> ne;
    uint64_t bytes;
    const void* data;  // or null when fill is set
    FillFn fill;
  };

  // Stores the key with its already encoded type + value, replacing an earlier value.
  void put(std::string_view key, const std::string& encoded_type_and_value);
  Status add(std::string_view name, DType dtype, std::span<const int64_t> ne, const void* data,
             FillFn fill);

  std::vector<std::pair<std::string, std::string>> kvs_;  // key, encoded type + value
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  uint32_t alignment_ = kGgufDefaultAlignment;
  Status status_;  // first setter error
};

}  // namespace muse
