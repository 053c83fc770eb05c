// Multi-head latent attention (DeepSeek-V2, arXiv:2405.04434 section 2.1). Per token the
// cache keeps only the normalized latent c_kv = RMSNorm(W_dkv h) (kv_lora_rank wide) and one
// rope key k_r = RoPE(W_kr h) shared by every head: one row [c_kv ; k_r] per layer.
//
// Two exact ways to attend over that cache:
// * absorbed (decode): q_nope·k_nope = q_nope·(W_uk c) = (W_uk^T q_nope)·c, so each head's
//   query is folded into latent space and attention reads the latent rows directly as keys
//   and as values; W_uv is applied to each head's attended latent afterwards.
// * decompressed (long prefill chunks): expand every cached position to per-head keys
//   [W_uk c ; k_r] and values W_uv c once per chunk, then ordinary multi-head attention —
//   fewer flops per (query, position) pair once the chunk is long enough to amortize it.
#pragma once

#include <cstdint>

#include "model/blocks/dense.h"
#include "model/blocks/mla_mode.h"

namespace muse {

// x += W_o · MLA(RMSNorm(x)); stores the step's latent rows into layer `il` of the cache.
void mla_attention_forward(const StepArgs& s, const LayerWeights& w, int64_t il, MlaMode mode);

}  // namespace muse
