// Moving token rows to and from the experts of a mixture-of-experts layer. As at inference
// (model/blocks/moe.cc), the rows routed to each expert are grouped contiguously (tokens in
// order inside a group), so each expert's FFN is one linear op over its rows:
//   gather:   xe[row_of(t, k)] = x[t]
//   combine:  y[t] = Σ_k w[t][k] · ye[row_of(t, k)]
// Backward of gather sums the expert rows of a token; backward of combine gives the mixing
// weights dw[t][k] = dy[t]·ye[row] (which feed router_backward) and dye[row] = w[t][k]·dy[t].
#pragma once

#include <cstdint>
#include <vector>

#include "train/ops/common.h"

namespace muse {

struct MoePlan {
  int64_t n_tokens = 0, n_expert = 0, n_used = 0;  // T, E, K
  std::vector<int64_t> count;                      // [E] rows of each expert
  std::vector<int64_t> offset;                     // [E + 1] first row of each expert
  std::vector<int32_t> row_of;                     // [T][K] row of (token, k)
  int64_t rows() const { return n_tokens * n_used; }
};

// Groups the T·K (token, expert) pairs of ids [T][K] (each in [0, E)) by expert.
void moe_plan(const int32_t* ids, int64_t n_tokens, int64_t n_expert, int64_t n_used,
              MoePlan& plan);

// xe [T·K][D] rows grouped by expert, written.
void moe_gather_forward(ThreadPool& pool, const MoePlan& plan, const float* x, int64_t width,
                        float* xe);
// dx [T][D] (=|+=) Σ_k dxe[row_of(t, k)].
void moe_gather_backward(ThreadPool& pool, const MoePlan& plan, const float* dxe, int64_t width,
                         float* dx, GradMode dx_mode);

// y [T][D] written; weights [T][K], ye [T·K][D].
void moe_combine_forward(ThreadPool& pool, const MoePlan& plan, const float* weights,
                         const float* ye, int64_t width, float* y);
// dweights [T][K] and dye [T·K][D] written.
void moe_combine_backward(ThreadPool& pool, const MoePlan& plan, const float* weights,
                          const float* ye, const float* dy, int64_t width, float* dweights,
                          float* dye);

}  // namespace muse
