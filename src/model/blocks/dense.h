// The pre-norm dense transformer block (llama, qwen2, qwen3): attention with GQA, optional
// q/k/v biases and QK-norm, RoPE, then a SwiGLU FFN. Each function adds its branch to the
// residual stream `buf.x` for the T tokens of one step.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/ops.h"
#include "model/config.h"
#include "model/context.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "threading/thread_pool.h"

namespace muse {

struct StepArgs {
  ThreadPool& pool;
  StepBuffers& buf;
  KvCache& kv;
  const ModelConfig& config;
  const RopeParams& rope;  // tables for the step's positions are already in buf.rope
  int64_t n_tokens;        // T
  int64_t n_past;          // position of the step's first token
};

// y[T][n_out] = x[T][n_in] W^T (+ bias).
void linear_forward(ThreadPool& pool, MatmulScratch& scratch, const Linear& l, const float* x,
                    int64_t n_tokens, float* y);

// linear_forward for up to 4 layers sharing the input x (one pool job, input quantized once).
void linear_forward_multi(ThreadPool& pool, MatmulScratch& scratch,
                          std::span<const Linear* const> ls, const float* x, int64_t n_tokens,
                          std::span<float* const> ys);

// Independent products of one step (experts, per-head projections) as one batch.
void run_matmul_jobs(ThreadPool& pool, MatmulScratch& scratch, std::span<const MatmulJob> jobs);

// x += W_o · attention(RoPE(W_q h), RoPE(W_k h), W_v h), h = RMSNorm(x); stores K/V rows of
// the step's positions into layer `il` of the cache first.
void dense_attention_forward(const StepArgs& s, const LayerWeights& w, int64_t il);

// x += W_down (SiLU(W_gate h) * W_up h), h = RMSNorm(x) (Shazeer 2020, "GLU Variants").
void dense_ffn_forward(const StepArgs& s, const LayerWeights& w);

}  // namespace muse
