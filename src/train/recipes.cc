// The recipes `muse train --recipe` knows. Sizes and step counts are chosen for this machine
// class (2 cores, AVX2): BENCHMARKS.md records what they cost and what they reach.
#include "train/recipe.h"

#include <utility>

namespace muse {
namespace {

// A 6-layer muse model: one dense block, then 5 MoE blocks of 16 experts (2 routed + 1
// shared per token), MLA with a 96-wide latent. ~11M parameters, ~2M active per token.
Recipe nano() {
  Recipe r;
  r.name = "nano";
  GenModelOptions& m = r.model;
  m.arch = "muse";
  m.n_embd = 192;
  m.n_layer = 6;
  m.n_head = 3;
  m.n_ff = 576;
  m.n_ctx = 2048;
  m.n_expert = 16;
  m.n_expert_used = 2;
  m.n_expert_shared = 1;
  m.n_ff_exp = 192;
  m.n_leading_dense = 1;
  m.expert_gating = ExpertGating::kSigmoid;  // DeepSeek-V3: sigmoid gates, selection bias
  m.expert_weights_norm = true;
  m.expert_weights_scale = 1.0f;
  m.q_lora_rank = 0;
  m.kv_lora_rank = 96;
  m.qk_nope = 32;
  m.qk_rope = 32;
  m.v_head_dim = 64;
  m.rope_freq_base = 10000.0f;
  r.vocab.vocab_size = 576;
  r.vocab_items = 30000;
  r.n_seq = 8;
  r.seq_len = 320;
  r.phases = {
      {.name = "pretrain",
       .format = DocFormat::kPlain,
       .mix = {{"easy", 0.3}, {"medium", 0.4}, {"hard", 0.3}},
       .steps = 4800,
       .peak_lr = 2e-3f,
       .min_lr = 2e-4f,
       .warmup = 150},
      {.name = "sft",
       .format = DocFormat::kChat,
       .mix = {{"easy", 0.25}, {"medium", 0.4}, {"hard", 0.35}},
       .steps = 1400,
       .peak_lr = 6e-4f,
       .min_lr = 3e-5f,
       .warmup = 20},
  };
  r.seed = 20261122;
  r.export_type = DType::Q8_0;
  r.checkpoint_every = 200;
  return r;
}

// Seconds, not hours: the whole pipeline (tokenizer, both phases, checkpoint, export) on a
// tiny model, for CI and tests.
Recipe smoke() {
  Recipe r = nano();
  r.name = "smoke";
  GenModelOptions& m = r.model;
  m.n_embd = 64;
  m.n_layer = 2;
  m.n_head = 1;
  m.n_ff = 128;
  m.n_expert = 4;
  m.n_ff_exp = 32;
  m.kv_lora_rank = 32;
  m.qk_nope = 16;
  m.qk_rope = 16;
  m.v_head_dim = 32;
  r.vocab.vocab_size = 320;
  r.vocab_items = 600;
  r.n_seq = 2;
  r.seq_len = 256;
  r.phases[0].steps = 4;
  r.phases[0].warmup = 1;
  r.phases[1].steps = 3;
  r.phases[1].warmup = 1;
  r.checkpoint_every = 3;
  return r;
}

constexpr std::pair<std::string_view, Recipe (*)()> kRecipes[] = {{"nano", nano}, {"smoke", smoke}};

}  // namespace

std::vector<std::string_view> recipe_names() {
  std::vector<std::string_view> names;
  for (const auto& [name, make] : kRecipes) names.push_back(name);
  return names;
}

StatusOr<Recipe> find_recipe(std::string_view name) {
  std::string known;
  for (const auto& [n, make] : kRecipes) {
    if (n == name) return make();
    known += (known.empty() ? "" : ", ") + std::string(n);
  }
  return Status::Error("unknown recipe '" + std::string(name) + "' (" + known + ")");
}

}  // namespace muse
