// The project's seeded hashing, written out so a seed means the same numbers on every
// compiler and standard library (<random>'s distributions are implementation-defined):
// splitmix64 (Steele, Lea & Flood 2014) and 64-bit FNV-1a for names.
#pragma once

#include <cstdint>
#include <string_view>

namespace muse {

// Advances `state` by the golden-ratio gamma and returns its mixed value. Any seed,
// including 0, gives a well-mixed stream.
constexpr uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// splitmix64's output for `x` as a state, without keeping the advanced state: a one-shot mix.
constexpr uint64_t splitmix64_mix(uint64_t x) { return splitmix64(x); }

constexpr uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

}  // namespace muse
