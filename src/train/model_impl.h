// Internals of TrainModel shared by train/model.cc (parameters, initialisation) and
// train/model_pass.cc (the forward and backward pass). Not part of the API.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gemm_f32.h"
#include "train/model.h"
#include "train/ops/attention.h"
#include "train/ops/moe_mix.h"
#include "train/ops/rms_norm.h"
#include "train/ops/rope.h"
#include "train/ops/router.h"

namespace muse {

// Every dimension of the model, resolved once (glossary in model/gen_model.h).
struct TrainDims {
  int64_t D = 0, H = 0, V = 0, n_layer = 0, n_dense = 0;
  int64_t Q = 0;                         // q_lora_rank, 0 = full-rank queries
  int64_t C = 0;                         // kv_lora_rank
  int64_t N = 0, R = 0, Dv = 0;          // qk_nope, qk_rope, v_head_dim
  int64_t F = 0;                         // dense FFN width
  int64_t E = 0, K = 0, Fe = 0, Fs = 0;  // experts, used, expert width, shared width
  float eps = 1e-5f;
  float scale = 0.0f;  // softmax scale of q·k
};

struct LayerParams {
  TrainParam *attn_norm = nullptr, *q = nullptr, *q_a = nullptr, *q_a_norm = nullptr,
             *q_b = nullptr, *kv_a = nullptr, *kv_a_norm = nullptr, *kv_b = nullptr, *out = nullptr,
             *ffn_norm = nullptr;
  // dense FFN
  TrainParam *gate = nullptr, *up = nullptr, *down = nullptr;
  // MoE FFN
  TrainParam *router = nullptr, *sel_bias = nullptr, *gate_exps = nullptr, *up_exps = nullptr,
             *down_exps = nullptr, *gate_sh = nullptr, *up_sh = nullptr, *down_sh = nullptr;
  bool moe() const { return router != nullptr; }
};

// What one layer's forward keeps for its backward.
struct LayerActs {
  std::vector<float> x_in, h1, qa, qan, q, kva, ckvn, kvb, o, x_mid, h2;
  RmsNormSaved n1, nq, nkv, n2;
  AttentionSaved att;
  std::vector<float> fg, fu, fa;  // dense FFN: gate, up, silu(gate)·up
  // MoE: router logits and routing, rows grouped by expert, shared expert
  std::vector<float> logits, xe, eg, eu, ea, ye, sg, su, sa;
  RouterSaved route;
  MoePlan plan;
};

struct TrainModelImpl {
  GenModelOptions opts;
  TrainDims d;
  std::vector<TrainParam> params;
  TrainParam *embd = nullptr, *out_norm = nullptr, *output = nullptr;
  std::vector<LayerParams> layers;
  std::vector<std::vector<int64_t>> load;  // [MoE layer][E]

  // Scratch reused across steps.
  GemmScratch gemm;
  RopeTables rope;
  std::vector<LayerActs> acts;
  std::vector<float> x, x_final, hf, logits, tmp, tmp2;
  RmsNormSaved nf;
  // Backward scratch.
  std::vector<float> dx, dh, dh2, dtmp, dq, dqa, dqan, dkva, dckvn, dkvb, do_, dg, du, da, dxe, dye,
      dw, dlogits_router;
};

}  // namespace muse
