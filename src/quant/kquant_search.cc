// Scale searches for the K-quant reference quantizers (see kquant_search.h). Group sizes are
// at most 32, so every candidate is evaluated exactly rather than estimated.
// Numerical zero is GGML's `GROUP_MAX_EPS` (1e-15): such groups quantize to all zeros.

#include "quant/kquant_search.h"

#include <algorithm>
#include <cmath>

#include "quant/quant_impl.h"

namespace muse::quant_internal {
namespace {

constexpr float kGroupEps = 1e-15f;
constexpr int kMaxGroup = 32;

}  // namespace

float fit_symmetric(const float* x, const float* w, int n, int nmax, const SymmetricSearch& search,
                    int8_t* levels) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (!(amax >= kGroupEps)) {  // also catches NaN
    std::fill(levels, levels + n, int8_t(0));
    return 0.0f;
  }
  // For a given set of levels the best scale is sum(w x l) / sum(w l^2), and it removes
  // sum(w x l)^2 / sum(w l^2) from the weighted squared error: that ratio is the score.
  // The score nearly equals sum(w x^2) and the error is the small difference, so sums are
  // kept in double: in float (as GGML does) near-ties are mis-ranked, sometimes choosing a
  // worse candidate than the first; ~2 % of Q6_K blocks differ from GGML's bytes for this.
  double best_lx = 0.0, best_l2 = 0.0, best_score = 0.0;
  int8_t trial[kMaxGroup];
  for (int step = 0; step <= 2 * search.grid; ++step) {
    // k = 0 first, then -grid..grid without 0: the plain absmax scale wins ties.
    const int k =
        step == 0 ? 0 : (step <= search.grid ? step - 1 - search.grid : step - search.grid);
    const float iscale = -(float(nmax) + 0.1f * float(k)) / max;
    double sum_lx = 0.0, sum_l2 = 0.0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      trial[i] = int8_t(l);
      sum_lx += double(w[i]) * x[i] * l;
      sum_l2 += double(w[i]) * l * l;
    }
    // score > best_score, written without a division (sum_l2 > 0 was checked).
    const bool better = step == 0 || (sum_l2 > 0.0 && sum_lx * sum_lx > best_score * sum_l2);
    if (better) {
      best_lx = sum_lx;
      best_l2 = sum_l2;
      best_score = sum_l2 > 0.0 ? sum_lx / sum_l2 * sum_lx : 0.0;
      std::copy(trial, trial + n, levels);
    }
  }
  // Coordinate descent: re-round one element against the best scale of all the others and
  // keep the change if the score rises.
  for (int pass = 0; pass < search.passes; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const double l_old = levels[i];
      const double rest_lx = best_lx - double(w[i]) * x[i] * l_old;
      const double rest_l2 = best_l2 - double(w[i]) * l_old * l_old;
      if (rest_lx == 0.0) continue;
      // Clamped in double first: with denormal sums the ratio may exceed float's range.
      const double target = std::clamp(x[i] * rest_l2 / rest_lx, -1e6, 1e6);
      const int l_new = std::clamp(nearest_int(float(target)), -nmax, nmax - 1);
      if (l_new == levels[i]) continue;
      const double new_lx = rest_lx + double(w[i]) * x[i] * l_new;
      const double new_l2 = rest_l2 + double(w[i]) * l_new * l_new;
      if (new_l2 > 0.0 && new_lx * new_lx * best_l2 > best_lx * best_lx * new_l2) {
        levels[i] = int8_t(l_new);
        best_lx = new_lx;
        best_l2 = new_l2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  return best_l2 > 0.0 ? float(best_lx / best_l2) : 0.0f;
}

float fit_affine(const float* x, const float* w, int n, int nmax, const AffineSearch& search,
                 uint8_t* levels, float* min_out) {
  float lo = x[0], hi = x[0], sum_w = 0.0f, sum_x = 0.0f;
  for (int i = 0; i < n; ++i) {
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  lo = std::fmin(lo, 0.0f);  // the grid always contains 0, so m = -lo >= 0
  if (!(hi - lo > 0.0f)) {   // all x equal and <= 0 (or all NaN): offset only
    std::fill(levels, levels + n, uint8_t(0));
    *min_out = std::isfinite(lo) ? -lo : 0.0f;
    return 0.0f;
  }
  auto error_of = [&](const uint8_t* l, float s, float m) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float diff = s * float(l[i]) + m - x[i];
      err += w[i] * (search.abs_error ? std::fabs(diff) : diff * diff);
    }
    return err;
  };
  // Start from the plain min/max grid.
  const float iscale0 = float(nmax) / (hi - lo);
  float scale = 1.0f / iscale0, offset = lo;
  for (int i = 0; i < n; ++i)
    levels[i] = uint8_t(std::clamp(nearest_int(iscale0 * (x[i] - lo)), 0, nmax));
  float best_err = error_of(levels, scale, offset);

  // The grid's origin follows the best offset found so far (as in GGML's search): each
  // improvement re-centres the later, finer candidates, which refines the fit iteratively.
  uint8_t trial[kMaxGroup];
  for (int k = 0; k <= search.nstep; ++k) {
    const float iscale = (search.rmin + search.rdelta * float(k) + float(nmax)) / (hi - offset);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - offset)), 0, nmax);
      trial[i] = uint8_t(l);
      sum_l += w[i] * float(l);
      sum_l2 += w[i] * float(l) * float(l);
      sum_xl += w[i] * float(l) * x[i];
    }
    // Normal equations of min sum w (s l + o - x)^2 over (s, o).
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0.0f)) continue;
    float s = (sum_w * sum_xl - sum_x * sum_l) / det;
    float o = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (o > 0.0f) {  // the format needs o <= 0: refit s alone with o = 0
      o = 0.0f;
      s = sum_xl / sum_l2;
    }
    const float err = error_of(trial, s, o);
    if (err < best_err) {
      best_err = err;
      scale = s;
      offset = o;
      std::copy(trial, trial + n, levels);
    }
  }
  *min_out = -offset;
  return scale;
}

}  // namespace muse::quant_internal
