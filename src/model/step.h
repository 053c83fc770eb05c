// What one forward step works on: the batch's sequences (each a run of consecutive tokens
// with its own page table and cached length) and the scratch buffers every block shares.
// A step may mix prefill chunks and decode tokens of many sequences (ARCHITECTURE.md
// section 4); per-token work is identical whatever else is in the batch, so a sequence's
// results do not depend on its batch neighbours.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "threading/thread_pool.h"

namespace muse {

enum class LogitsMode {
  kNone,  // a prefill chunk that is not the prompt's last
  kLast,  // the sequence's last token of the step (decode, end of prompt)
  kAll,   // every token (perplexity, tests)
};

// One sequence's share of a step: tokens [first, first + n_tokens) of the batch, which the
// step writes at positions n_past .. n_past + n_tokens - 1.
struct SeqStep {
  int64_t n_past = 0;
  int64_t n_tokens = 0;
  std::span<const int32_t> pages;  // covers positions [0, n_past + n_tokens)
  LogitsMode logits = LogitsMode::kLast;
};

// Scratch of a mixture-of-experts FFN (blocks/moe.cc). R = T * n_expert_used routed rows.
struct MoeBuffers {
  std::vector<float> router;       // [T][E] router logits
  std::vector<float> work;         // [2 * E] routing scratch
  std::vector<int32_t> ids;        // [T][K] chosen experts, best first
  std::vector<float> weights;      // [T][K] their mixing weights
  std::vector<float> shared_gate;  // [T] shared-expert scale
  std::vector<int64_t> count;      // [E] rows per expert
  std::vector<int64_t> offset;     // [E + 1] first row of each expert
  std::vector<int64_t> fill;       // [E]
  std::vector<int32_t> row_of;     // [T][K] grouped row of (token, slot)
  std::vector<float> xe;           // [R][D] grouped inputs, then expert outputs
  std::vector<float> ge, ue;       // [R][Fe] gate / up, then SwiGLU
  std::vector<float> gs, us;       // [T][Fs] shared expert gate / up
  std::vector<float> acc;          // [D]
  std::vector<MatmulJob> jobs;
};

// Scratch of multi-head latent attention (blocks/mla.cc); the *_all buffers grow with the
// cached positions and are used only by decompressed steps.
struct MlaBuffers {
  std::vector<float> q_a;       // [T][q_lora]
  std::vector<float> kv_a;      // [T][C + R]
  std::vector<float> head_in;   // [H][T][max(N, Dv)] per-head product inputs/outputs
  std::vector<float> head_out;  // [H][T][C]
  std::vector<float> q_lat;     // [T][H][C + R] absorbed queries
  std::vector<float> lat;       // [T][H][C] attended latents
  std::vector<int32_t> toks;    // tokens on the absorbed path
  std::vector<float> c_all, kv_all, k_all,
      v_all;  // [P][C], [P][H][N + Dv], [P][H][N + R], [P][H][Dv]
  std::vector<MatmulJob> jobs;
};

// Scratch of one forward step, [T][...] rows. Owned by the runner, reused across steps.
struct StepBuffers {
  std::vector<float> x;        // [T][D] residual stream
  std::vector<float> h;        // [T][D] normalized input of a block
  std::vector<float> q;        // [T][H * Dh]
  std::vector<float> k;        // [T][Hkv * Dh]
  std::vector<float> v;        // [T][Hkv * Dh]
  std::vector<float> attn;     // [T][H * Dh]
  std::vector<float> gate;     // [T][F]
  std::vector<float> up;       // [T][F]
  std::vector<float> rope;     // [T][2 * n_rot] cos/sin tables
  std::vector<float> kv_f32;   // Q8_0 caches: every sequence's K and V rows of one layer, widened
  std::vector<int32_t> pos;    // [T] position of each token
  std::vector<int32_t> seq;    // [T] index of each token's sequence in the step
  std::vector<int64_t> first;  // [S] first token of each sequence
  std::vector<AttentionArgs> attn_args;  // [S]
  MoeBuffers moe;
  MlaBuffers mla;
  MatmulScratch matmul;
};

// Everything a block's forward needs for one step.
struct StepArgs {
  ThreadPool& pool;
  StepBuffers& buf;
  KvCache& kv;
  const ModelConfig& config;
  const RopeParams& rope;  // tables for the step's positions are already in buf.rope
  int64_t n_tokens;        // T, all sequences together
  std::span<const SeqStep> seqs;
};

}  // namespace muse
