// Rotary position embedding for training, the exact rotation inference applies
// (kernels/ops.h `rope_apply`, GGML mode 0 "normal" pairs (x[2i], x[2i+1]) for muse and
// deepseek2, NeoX halves for qwen2). Each pair is multiplied by m·R(θ) (m = attn_factor,
// 1 unless YaRN), so the backward is the transpose m·R(−θ): the same kernel with the sine
// column negated.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/ops.h"

namespace muse {

// cos/sin tables of a batch's positions, filled once per batch and shared by every layer.
struct RopeTables {
  RopeParams params;
  int64_t n_tokens = 0;
  std::vector<float> fwd;  // [T][rope_table_size(n_rot)]
  std::vector<float> inv;  // the same with the sine half negated: the transpose
};

// Checks the params (validate_rope_params against head dim n_rot) and fills both tables.
Status rope_tables_init(const RopeParams& p, std::span<const int32_t> pos, RopeTables& out);

// Rotates, in place, the first n_rot elements of each head of each token: element i of head h
// of token t is x[t * token_stride + h * head_stride + i]. MLA's q: x = q + qk_nope,
// head_stride = qk_nope + qk_rope, token_stride = H * head_stride; its shared rope key:
// n_head = 1. Nothing to save: backward needs only the tables.
void rope_forward(const RopeTables& t, float* x, int64_t n_head, int64_t token_stride,
                  int64_t head_stride);

// dx = Rᵀ dy, in place on the gradient (same layout as forward).
void rope_backward(const RopeTables& t, float* dy, int64_t n_head, int64_t token_stride,
                   int64_t head_stride);

}  // namespace muse
