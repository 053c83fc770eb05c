// Expert row grouping, gather and weighted combine (see moe_mix.h); every loop runs over
// tokens, so each expert row is touched by exactly one task.
#include "train/ops/moe_mix.h"

#include <algorithm>

#include "kernels/ops.h"

namespace muse {
namespace {
constexpr int64_t kTokenChunk = 16;
}  // namespace

void moe_plan(const int32_t* ids, int64_t n_tokens, int64_t n_expert, int64_t n_used,
              MoePlan& plan) {
  const int64_t E = n_expert, K = n_used;
  plan.n_tokens = n_tokens;
  plan.n_expert = E;
  plan.n_used = K;
  plan.count.assign(size_t(E), 0);
  plan.offset.assign(size_t(E + 1), 0);
  plan.row_of.resize(size_t(n_tokens * K));
  for (int64_t i = 0; i < n_tokens * K; ++i) ++plan.count[size_t(ids[i])];
  for (int64_t e = 0; e < E; ++e)
    plan.offset[size_t(e + 1)] = plan.offset[size_t(e)] + plan.count[size_t(e)];
  std::vector<int64_t> fill(plan.offset.begin(), plan.offset.end() - 1);
  for (int64_t i = 0; i < n_tokens * K; ++i)
    plan.row_of[size_t(i)] = int32_t(fill[size_t(ids[i])]++);
}

void moe_gather_forward(ThreadPool& pool, const MoePlan& plan, const float* x, int64_t width,
                        float* xe) {
  const int64_t K = plan.n_used;
  for_chunks(pool, plan.n_tokens, kTokenChunk, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t k = 0; k < K; ++k)
        std::copy_n(x + t * width, width, xe + int64_t(plan.row_of[size_t(t * K + k)]) * width);
  });
}

void moe_gather_backward(ThreadPool& pool, const MoePlan& plan, const float* dxe, int64_t width,
                         float* dx, GradMode dx_mode) {
  const int64_t K = plan.n_used;
  for_chunks(pool, plan.n_tokens, kTokenChunk, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* d = dx + t * width;
      for (int64_t k = 0; k < K; ++k) {
        const float* src = dxe + int64_t(plan.row_of[size_t(t * K + k)]) * width;
        if (k == 0 && dx_mode == GradMode::kWrite) {
          std::copy_n(src, width, d);
        } else {
          add(d, src, d, width);
        }
      }
    }
  });
}

void moe_combine_forward(ThreadPool& pool, const MoePlan& plan, const float* weights,
                         const float* ye, int64_t width, float* y) {
  const int64_t K = plan.n_used;
  for_chunks(pool, plan.n_tokens, kTokenChunk, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* out = y + t * width;
      std::fill_n(out, width, 0.0f);
      for (int64_t k = 0; k < K; ++k)
        axpy(weights[t * K + k], ye + int64_t(plan.row_of[size_t(t * K + k)]) * width, out, width);
    }
  });
}

void moe_combine_backward(ThreadPool& pool, const MoePlan& plan, const float* weights,
                          const float* ye, const float* dy, int64_t width, float* dweights,
                          float* dye) {
  const int64_t K = plan.n_used;
  for_chunks(pool, plan.n_tokens, kTokenChunk, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* g = dy + t * width;
      for (int64_t k = 0; k < K; ++k) {
        const int64_t row = plan.row_of[size_t(t * K + k)];
        dweights[t * K + k] = dot_f32(g, ye + row * width, width);
        float* d = dye + row * width;
        std::fill_n(d, width, 0.0f);
        axpy(weights[t * K + k], g, d, width);
      }
    }
  });
}

}  // namespace muse
