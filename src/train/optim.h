// Optimizer pieces of a training step: AdamW with decoupled weight decay, the warmup + cosine
// learning-rate schedule, and global-norm gradient clipping. All work on fp32 master weights
// and their gradients as flat arrays; the caller loops over its parameter tensors.
#pragma once

#include <cstdint>
#include <span>

#include "threading/thread_pool.h"

namespace muse {

// Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", in PyTorch's AdamW form:
//   m = β1·m + (1−β1)·g,  v = β2·v + (1−β2)·g²,
//   p = p·(1 − lr·wd) − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + eps).
struct AdamWParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // 0 for norms, biases and embeddings by the usual convention
};

// One update of n parameters at step t (1-based: t = 1 is the first update). m and v start at
// zero and persist between steps.
void adamw_step(ThreadPool& pool, const AdamWParams& a, int64_t step, float* param,
                const float* grad, float* m, float* v, int64_t n);

// Linear warmup to peak_lr over warmup_steps, then a half cosine down to min_lr at
// total_steps, min_lr after. Step s is 0-based; warmup gives peak·(s+1)/warmup so the first
// step already moves the weights.
struct LrSchedule {
  float peak_lr = 1e-3f;
  float min_lr = 0.0f;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
};
float lr_at(const LrSchedule& s, int64_t step);

// sqrt(Σ_tensors Σ_i g_i²), accumulated in double.
double grad_global_norm(ThreadPool& pool, std::span<const std::span<float>> grads);

// When the global norm exceeds max_norm, scales every gradient by max_norm / norm so the
// new norm is max_norm (Pascanu et al. 2013). Returns the norm before clipping; a non-finite
// norm leaves the gradients untouched (the caller should skip that step).
double clip_grad_global_norm(ThreadPool& pool, std::span<const std::span<float>> grads,
                             double max_norm);

}  // namespace muse
