// Causal multi-head attention with grouped-query heads (GQA) over an F32 or F16 K/V array,
// using a streaming ("online") softmax so no score row of length n_kv is ever stored.
// Invariants: kv row j holds position j; query token t attends rows 0..pos[t]; query head h
// reads kv head h / (n_head / n_head_kv). No threads inside: callers split work items.
// q.k and v/out may have different head dims (DeepSeek multi-head latent attention).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/status.h"

namespace muse {

// Bounds head_dim and head_dim_v. 576 = 512 + 64 is the q/k dim of DeepSeek-V2/V3 attention
// with the up-projections absorbed (MLA, DeepSeek-V2 paper sec. 2.1); its v dim is 512.
constexpr int64_t kAttentionMaxHeadDim = 576;
// Page sizes of a paged K/V are multiples of this (the kernel's tile of kv rows).
constexpr int64_t kAttentionPageRowsMultiple = 16;

// Layouts (element strides, not bytes):
//   q   [n_tokens][n_head][head_dim]     float; token rows q_token_stride apart
//   k   [n_kv][n_head_kv][head_dim]      kv_type (F32 or F16 = IEEE half bits); kv rows
//   v   [n_kv][n_head_kv][head_dim_v]    k_row_stride / v_row_stride apart, heads packed
//   out [n_tokens][n_head][head_dim_v]   float; token rows out_token_stride apart
// A stride of 0 means packed (n_head * head_dim for q, n_head * head_dim_v for out,
// n_head_kv * head_dim for k, n_head_kv * head_dim_v for v).
// Paged K/V (a paged KV cache): with a page_table, kv row j lives in page
// page_table[j / page_rows] at row j % page_rows, and page i starts page_stride elements
// after page 0 for both k and v, i.e. row j of k is
//   k + page_table[j / page_rows] * page_stride + (j % page_rows) * k_row_stride
// (v likewise). page_rows is a multiple of kAttentionPageRowsMultiple, so each tile of
// rows the kernel visits lies inside one page.
// Example: AttentionArgs{.n_head = 32, .n_head_kv = 8, .head_dim = 128, .n_kv = len,
//                        .q = q, .k = k, .v = v, .out = out, .pos = &pos}.
// MLA with a latent cache: each row is [c_kv(512) ; k_rope(64)] and V is its first 512
// elements, so v may alias k: .n_head_kv = 1, .head_dim = 576, .head_dim_v = 512, .v = k,
// .k_row_stride = .v_row_stride = 576, .scale = the model's (not 1/sqrt(576)).
struct AttentionArgs {
  int64_t n_tokens = 1;  // query tokens: 1 for decode, a block for prefill
  int64_t n_head = 0;
  int64_t n_head_kv = 0;   // divides n_head
  int64_t head_dim = 0;    // of q and k rows: 1..kAttentionMaxHeadDim
  int64_t head_dim_v = 0;  // of v and out rows: 1..kAttentionMaxHeadDim; 0 = head_dim
  int64_t n_kv = 0;        // kv rows available

  const float* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;  // may alias k (same buffer, overlapping rows)
  float* out = nullptr;
  const int32_t* pos = nullptr;  // [n_tokens]; 0 <= pos[t] < n_kv

  DType kv_type = DType::F16;
  int64_t q_token_stride = 0;
  int64_t k_row_stride = 0;
  int64_t v_row_stride = 0;
  int64_t out_token_stride = 0;
  float scale = 0.0f;  // softmax scale applied to q.k; 0 = 1/sqrt(head_dim)

  const int32_t* page_table = nullptr;  // null: rows are contiguous (stride apart)
  int64_t page_rows = 0;                // rows per page
  int64_t page_stride = 0;              // elements between pages, for k and for v
};

// Checks sizes, strides, pointers and every pos[t]; call once before splitting work.
Status validate_attention_args(const AttentionArgs& a);

// Work item i is (token i / n_head, head i % n_head). The heads of one token inside a range
// share one sweep over the kv rows (up to 36 heads of dim 128, 18 of dim 256 or 8 of dim
// 576 per sweep), and the two heads of a pair within a kv group share every K/V load. At
// decode with GQA the kernel is memory-bound: each K/V element feeds 4 flops per query head
// of its group (MLA, with every head on one latent kv head, is compute-bound instead).
// Ranges aligned to kv groups (multiples of n_head / n_head_kv) read each cache byte once
// per token when the group fits one sweep, else once per sweep.
inline int64_t attention_work_items(const AttentionArgs& a) { return a.n_tokens * a.n_head; }

// Writes out rows of items [item_begin, item_end). `a` must pass validate_attention_args.
// Stack use ~38 KiB whatever the head dims (larger dims mean fewer heads per sweep); no
// allocation.
void attention(const AttentionArgs& a, int64_t item_begin, int64_t item_end);

// All work items on the calling thread.
inline void attention(const AttentionArgs& a) { attention(a, 0, attention_work_items(a)); }

}  // namespace muse
