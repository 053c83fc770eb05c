// Element types of tensors, numbered exactly as GGML numbers them (the ids stored in GGUF).
// Every id GGML has ever assigned and still reads is listed so that `muse info` can describe
// any file; `dtype_info(t).supported` says whether our kernels compute with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace muse {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct DTypeInfo {
  std::string_view name;  // as GGML prints it: "q4_K", "f16"
  int64_t block_size;     // elements per block (1 for plain types)
  size_t type_size;       // bytes per block
  bool supported;         // muse.cpp can dequantize and compute with it
};

// Returns nullopt for ids GGML does not define (a corrupt or future file).
std::optional<DTypeInfo> dtype_info_of(uint32_t id);
const DTypeInfo& dtype_info(DType t);  // t must be a defined id

inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive

// Bytes of `n` elements of type t; n must be a multiple of the block size.
inline size_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  return size_t(n / info.block_size) * info.type_size;
}

}  // namespace muse
