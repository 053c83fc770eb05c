// A whole `muse` model for training (ARCHITECTURE.md sections 5 and 7): fp32 master weights,
// gradients and AdamW moments for every tensor the GGUF file holds, and a forward/backward
// pass assembled from the ops in train/ops/. The tensor list, names and layouts come from
// gen-model's architecture tables (model/gen_model.h), so the trained values are written
// out by the same writer, byte-compatible with what inference loads, without a transpose.
//
// One layer, T tokens (B sequences of L), as inference computes it (model/blocks/mla.cc,
// moe.cc):
//   h  = RMSNorm(x)
//   q  = W_q h  or  W_qb RMSNorm(W_qa h)          [T][H][N + R], RoPE on the last R
//   kv = W_kva h = [c ; k_r]                       [T][C + R],    RoPE on k_r
//   k_nope, v = W_kvb RMSNorm(c)                   [T][H][N + Dv]
//   x += W_o Attention(q, [k_nope ; k_r], v)
//   h  = RMSNorm(x)
//   x += dense SwiGLU FFN (leading blocks)  or  Σ_k w_k Expert_k(h) + Shared(h)
// then logits = W_out RMSNorm(x). The MoE selection bias (exp_probs_b) is not trained by
// gradients: it follows DeepSeek-V3's auxiliary-loss-free rule from the expert loads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/gen_model.h"
#include "threading/thread_pool.h"

namespace muse {

// B rows of L tokens. targets[i] is the token that should follow tokens[i], or
// kIgnoreTarget (train/ops/cross_entropy.h) when position i carries no loss. Positions
// restart at 0 on every row.
struct TrainBatch {
  int64_t n_seq = 0;
  int64_t seq_len = 0;
  std::vector<int32_t> tokens = {};
  std::vector<int32_t> targets = {};
};

struct TrainParam {
  GenTensorInfo info;
  std::vector<float> value, grad, adam_m, adam_v;
  bool decay = false;      // weight decay applies: matrices, not norms or the embedding table
  bool trainable = false;  // false: the selection bias, moved by update_selection_bias
};

struct TrainModelImpl;

class TrainModel {
 public:
  // A `muse` model of the given shapes (opts.arch must be "muse"; opts.type is ignored:
  // training is fp32). Weights are Gaussian with fan-in scaling, output projections of
  // each residual branch further scaled by 1/sqrt(2·n_layer) (GPT-2), norms ones.
  static StatusOr<TrainModel> create(const GenModelOptions& opts, uint64_t seed);

  TrainModel(TrainModel&&) noexcept;
  TrainModel& operator=(TrainModel&&) noexcept;
  ~TrainModel();

  // Forward and backward over the batch: gradients are added to every parameter's grad
  // (call zero_grad between optimizer steps), scaled by loss_scale (e.g. 1 / micro-batches).
  // Returns the mean cross-entropy over the counted targets. Expert loads accumulate too.
  StatusOr<float> forward_backward(ThreadPool& pool, const TrainBatch& batch,
                                   float loss_scale = 1.0f);

  // Forward only: the loss, and the logits [T][V] when `logits` is not null.
  StatusOr<float> forward(ThreadPool& pool, const TrainBatch& batch, std::vector<float>* logits);

  void zero_grad();

  // DeepSeek-V3's balancing step on every MoE layer from the loads accumulated since the
  // last call (then reset): bias_i += rate · sign(mean load − load_i).
  void update_selection_bias(float rate);

  // Tokens routed to each expert of MoE layer `moe_layer` (0 = the first MoE block) since
  // the last update_selection_bias.
  std::span<const int64_t> expert_load(int64_t moe_layer) const;

  std::vector<TrainParam>& params();
  const std::vector<TrainParam>& params() const;
  TrainParam* find(std::string_view name);
  const GenModelOptions& options() const;
  int64_t n_params() const;

 private:
  explicit TrainModel(std::unique_ptr<TrainModelImpl> impl);
  StatusOr<float> run(ThreadPool& pool, const TrainBatch& batch, bool backward, float loss_scale,
                      std::vector<float>* logits);
  std::unique_ptr<TrainModelImpl> impl_;
};

}  // namespace muse
