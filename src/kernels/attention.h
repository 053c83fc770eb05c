// Causal multi-head attention with grouped-query heads (GQA) over an F32 or F16 K/V array,
// using a streaming ("online") softmax so no score row of length n_kv is ever stored.
// Invariants: kv row j holds position j; query token t attends rows 0..pos[t]; query head h
// reads kv head h / (n_head / n_head_kv). No threads inside: callers split work items.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"

namespace muse {

constexpr int64_t kAttentionMaxHeadDim = 256;  // bounds the on-stack accumulators

// Layouts (element strides, not bytes):
//   q   [n_tokens][n_head][head_dim]     float; token rows q_token_stride apart
//   k,v [n_kv][n_head_kv][head_dim]      kv_type (F32 or F16 = IEEE half bits); kv rows
//                                        k_row_stride / v_row_stride apart, heads packed
//   out [n_tokens][n_head][head_dim]     float; token rows out_token_stride apart
// A stride of 0 means packed (n_head * head_dim for q/out, n_head_kv * head_dim for k/v).
// Example: AttentionArgs{.n_head = 32, .n_head_kv = 8, .head_dim = 128, .n_kv = len,
//                        .q = q, .k = k, .v = v, .out = out, .pos = &pos}.
struct AttentionArgs {
  int64_t n_tokens = 1;  // query tokens: 1 for decode, a block for prefill
  int64_t n_head = 0;
  int64_t n_head_kv = 0;  // divides n_head
  int64_t head_dim = 0;   // 1..kAttentionMaxHeadDim
  int64_t n_kv = 0;       // kv rows available

  const float* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  float* out = nullptr;
  const int32_t* pos = nullptr;  // [n_tokens]; 0 <= pos[t] < n_kv

  DType kv_type = DType::F16;
  int64_t q_token_stride = 0;
  int64_t k_row_stride = 0;
  int64_t v_row_stride = 0;
  int64_t out_token_stride = 0;
  float scale = 0.0f;  // softmax scale applied to q.k; 0 = 1/sqrt(head_dim)
};

// Checks sizes, strides, pointers and every pos[t]; call once before splitting work.
Status validate_attention_args(const AttentionArgs& a);

// Work item i is (token i / n_head, head i % n_head). The heads of one token inside a range
// share one sweep over the kv rows (up to 32 heads of dim 128 per sweep), and the two heads
// of a pair within a kv group share every K/V load. At decode the kernel is memory-bound:
// each K/V element feeds 4 flops per query head of its group. Ranges aligned to kv groups
// (multiples of n_head / n_head_kv) read each cache byte once per token.
inline int64_t attention_work_items(const AttentionArgs& a) { return a.n_tokens * a.n_head; }

// Writes out rows of items [item_begin, item_end). `a` must pass validate_attention_args.
// Stack use ~34 KiB; no allocation.
void attention(const AttentionArgs& a, int64_t item_begin, int64_t item_end);

// All work items on the calling thread.
inline void attention(const AttentionArgs& a) { attention(a, 0, attention_work_items(a)); }

}  // namespace muse
