// The gym's random numbers: splitmix64 (Steele, Lea, Flood 2014), written out here so a
// seed names the same items on every compiler and standard library (the distributions in
// <random> are implementation-defined, so `std::uniform_int_distribution` would not).
#pragma once

#include <cstdint>
#include <span>

#include "core/splitmix.h"

namespace muse::gym {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() { return splitmix64(state_); }

  // Uniform in [lo, hi] (lo <= hi) by the multiply-high map (Lemire 2019) without the
  // rejection step: the bias is below range / 2^64, far under anything the tasks can feel.
  int64_t uniform(int64_t lo, int64_t hi) {
    const uint64_t range = uint64_t(hi - lo) + 1;
    return lo + int64_t((static_cast<unsigned __int128>(next()) * range) >> 64);
  }

  bool percent(int p) { return uniform(0, 99) < p; }

  template <class T>
  const T& pick(std::span<const T> items) {
    return items[size_t(uniform(0, int64_t(items.size()) - 1))];
  }

 private:
  uint64_t state_;
};

// One well-mixed seed from several words: item `i` of a stream draws from
// `Rng(mix(seed, i))`, so a stream's prefix does not depend on how many items follow.
inline uint64_t mix(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xd1b54a32d192ed03ull));
  r.next();
  return r.next();
}

}  // namespace muse::gym
