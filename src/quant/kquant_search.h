// Internal to quant/: per-sub-block scale searches of the K-quant reference quantizers.
// Both minimise a weighted squared (or absolute) error over integer levels by trying a small
// grid of candidate scales and solving least squares for each, in the manner of GGML's
// `make_qx_quants` / `make_qkx2_quants` / `make_q3_quants`.
#pragma once

#include <cstdint>

namespace muse::quant_internal {

// x_i ~ s * l_i with integer l_i in [-nmax, nmax - 1]. The grid tries scales that map the
// element of largest magnitude to -(nmax + 0.1 k), |k| <= grid; `passes` rounds of
// coordinate descent then move single levels while that lowers the weighted error.
struct SymmetricSearch {
  int grid = 0;
  int passes = 0;
};
// GGML's make_q3_quants refines only groups whose scale comes out positive (its test is
// `slx > 0`); ours refines either sign, hence slightly lower Q3_K error and other bytes.
inline constexpr SymmetricSearch kQ3Search{.grid = 0, .passes = 5};
inline constexpr SymmetricSearch kQ6Search{.grid = 9, .passes = 0};  // GGML make_qx_quants

// Returns s (its sign opposite to the largest-magnitude element) and writes the signed
// levels; s = 0 and all levels 0 when the group is (numerically) zero.
float fit_symmetric(const float* x, const float* w, int n, int nmax, const SymmetricSearch& search,
                    int8_t* levels);

// x_i ~ s * l_i - m with l_i in [0, nmax], s >= 0 and m >= 0 (the range always includes 0).
// Candidate scales put (nmax + rmin + rdelta k) steps across [min(x, 0), max(x)],
// k = 0..nstep; each is refined by a weighted 2x2 least-squares fit of (s, m).
struct AffineSearch {
  float rmin = 0.0f;
  float rdelta = 0.0f;
  int nstep = 0;
  bool abs_error = false;  // judge candidates by weighted |error| instead of error^2
};

// Returns s, writes the levels and *min = m.
float fit_affine(const float* x, const float* w, int n, int nmax, const AffineSearch& search,
                 uint8_t* levels, float* min);

}  // namespace muse::quant_internal
