// Declarations of the generated Unicode tables (unicode_data.cc, written by
// gen_unicode_data.py). Only unicode.cc reads them; everything else asks unicode.h.
// Every table is sorted by code point and its ranges do not overlap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace muse::unicode_data {

// One flag per major general category, as llama.cpp's `unicode_cpt_flags` has them.
enum CptFlag : uint16_t {
  kUndefined = 0x0001,  // Cn: unassigned
  kNumber = 0x0002,     // \p{N}
  kLetter = 0x0004,     // \p{L}
  kSeparator = 0x0008,  // \p{Z}
  kMark = 0x0010,       // \p{M}
  kPunctuation = 0x0020,
  kSymbol = 0x0040,
  kControl = 0x0080,  // Cc, Cf, Co, Cs
};

// `flags` holds from `first` up to the next row's `first` (the last row up to U+10FFFF).
struct CategoryRange {
  uint32_t first;
  uint16_t flags;
};

// Code points first, first + step, ..., last lowercase to themselves plus `delta`.
struct LowercaseRun {
  uint32_t first;
  uint32_t last;
  int32_t delta;
  uint32_t step;
};

// Code points first..last decompose (NFD) to sequences that start with `base`.
struct NfdRange {
  uint32_t first;
  uint32_t last;
  uint32_t base;
};

extern const CategoryRange kCategoryRanges[];
extern const size_t kCategoryRangesSize;
extern const LowercaseRun kLowercaseRuns[];
extern const size_t kLowercaseRunsSize;
extern const NfdRange kNfdRanges[];
extern const size_t kNfdRangesSize;

}  // namespace muse::unicode_data
