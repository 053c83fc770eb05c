// The pre-norm dense transformer block (llama, qwen2, qwen3): attention with GQA, optional
// q/k/v biases and QK-norm, RoPE, then a SwiGLU FFN. Each function adds its branch to the
// residual stream `buf.x` for the T tokens of one step.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/step.h"
#include "model/weights.h"
#include "threading/thread_pool.h"

namespace muse {

// y[T][n_out] = x[T][n_in] W^T (+ bias).
void linear_forward(ThreadPool& pool, MatmulScratch& scratch, const Linear& l, const float* x,
                    int64_t n_tokens, float* y);

// linear_forward for up to 4 layers sharing the input x (one pool job, input quantized once).
void linear_forward_multi(ThreadPool& pool, MatmulScratch& scratch,
                          std::span<const Linear* const> ls, const float* x, int64_t n_tokens,
                          std::span<float* const> ys);

// Independent products of one step (experts, per-head projections) as one batch.
void run_matmul_jobs(ThreadPool& pool, MatmulScratch& scratch, std::span<const MatmulJob> jobs);

// Q8_0 caches only: widens every sequence's cached rows of layer `il` to F32 in buf.kv_f32,
// sequence after sequence (attention reads floats or halves).
void widen_cached_rows(const StepArgs& s, int64_t il);

// Points a's K/V fields (k, v, kv_type, strides, page table) at sequence `si`'s cached rows
// of layer `il`: in place through its page table, or its widened copy for a Q8_0 cache.
// V aliases K when the cache has no V rows (MLA).
void set_cached_rows(const StepArgs& s, int64_t il, size_t si, AttentionArgs& a);

// x += W_o · attention(RoPE(W_q h), RoPE(W_k h), W_v h), h = RMSNorm(x); stores K/V rows of
// the step's positions into layer `il` of the cache first.
void dense_attention_forward(const StepArgs& s, const LayerWeights& w, int64_t il);

// x += W_down (SiLU(W_gate h) * W_up h), h = RMSNorm(x) (Shazeer 2020, "GLU Variants").
void dense_ffn_forward(const StepArgs& s, const LayerWeights& w);

}  // namespace muse
