// Causal multi-head attention core for training, in the multi-head latent attention form
// (DeepSeek-V2, arXiv:2405.04434 section 2.1.3): each head's query and key are
// [nope ; rope] parts, the rope part of the key is one vector per token shared by every head,
// and the value head width may differ from the query/key width. Plain multi-head attention
// is dim_rope = 0. Forward saves the probabilities (T x T per head, fine for T <= 256), so
// backward is exact: with S = scale·q·kᵀ (causally masked), P = softmax(S), O = P·v:
//   dv = Pᵀ·dO,  dP = dO·vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)),
//   dq = scale·dS·k,  dk = scale·dSᵀ·q  (the shared dk_rope sums over heads).
// Every product runs on kernels/gemm_f32 in blocks of 64 query rows that skip the masked
// upper triangle; tasks are (sequence, head) pairs spread over the pool. Each task first joins
// its head's [k_nope ; k_rope] into one buffer, so q·kᵀ, dS·k and dSᵀ·q are single products.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gemm_f32.h"
#include "train/ops/common.h"

namespace muse {

struct AttentionDims {
  int64_t n_seq = 1;     // B independent sequences, stored one after another (T = B * L)
  int64_t seq_len = 0;   // L; token i attends to tokens 0..i of its own sequence
  int64_t n_head = 0;    // H
  int64_t dim_nope = 0;  // N: per-head q/k dims without rotation (may be 0)
  int64_t dim_rope = 0;  // R: rotated q/k dims; the key's are shared by all heads (may be 0)
  int64_t dim_v = 0;     // Dv
  float scale = 0.0f;    // on q·k; 0 = 1/sqrt(N + R). MLA models: ModelConfig::kq_scale()
};

// Element (t, h, i) at data[t * token_stride + h * head_stride + i].
struct HeadsIn {
  const float* data = nullptr;
  int64_t token_stride = 0;
  int64_t head_stride = 0;
};
struct HeadsOut {
  float* data = nullptr;
  int64_t token_stride = 0;
  int64_t head_stride = 0;
};

struct AttentionInputs {
  HeadsIn q;       // [T][H][N + R]: q_nope then the rotated q_rope, per head
  HeadsIn k_nope;  // [T][H][N] (MLA: the W_uk rows of kv_b's output)
  HeadsIn k_rope;  // [T][R], head_stride ignored: one rotated key per token, all heads
  HeadsIn v;       // [T][H][Dv]
};

struct AttentionSaved {
  std::vector<float> probs;  // [B][H][L][L], zero above the diagonal
  std::vector<float> work;   // scratch of both passes: per-worker head buffers, dk_rope parts
};

// out [T][H][Dv] (must not overlap the inputs).
void attention_forward(ThreadPool& pool, GemmScratch& scratch, const AttentionDims& d,
                       const AttentionInputs& in, HeadsOut out, AttentionSaved& saved);

// All input gradients are written, in the layouts of the inputs (dq [T][H][N + R],
// dk_nope [T][H][N], dk_rope [T][R], dv [T][H][Dv]); null data skips dk_nope or dk_rope when
// N or R is 0. `saved.work` is scratch; `saved.probs` is left as forward wrote it.
struct AttentionGrads {
  HeadsOut dq, dk_nope, dk_rope, dv;
};
void attention_backward(ThreadPool& pool, GemmScratch& scratch, const AttentionDims& d,
                        const AttentionInputs& in, HeadsIn dout, AttentionSaved& saved,
                        const AttentionGrads& g);

}  // namespace muse
