// What distinguishes one GGUF `general.architecture` from another, as data: one ArchSpec per
// architecture file (arch/<name>.cc) and one line per architecture in arch/registry.cc.
// Variants are enums, never inferred from shapes or layer counts (STYLE.md).
#pragma once

#include <string_view>
#include <vector>

#include "kernels/ops.h"

namespace muse {

// Which transformer block the architecture stacks.
enum class BlockKind {
  kDense,  // pre-norm attention + SwiGLU FFN (llama, qwen2, qwen3)
};

// Per-head RMSNorm of q and k before RoPE (qwen3's `attn_q_norm` / `attn_k_norm`).
enum class QkNorm { kNone, kPerHead };

// Tensors beyond the base block that an architecture may carry. Optional ones are used
// when present (llama files rarely have biases; qwen2 files always have q/k/v biases).
enum class Presence { kAbsent, kOptional, kRequired };

struct ArchSpec {
  std::string_view name;  // general.architecture
  BlockKind block = BlockKind::kDense;
  RopeStyle rope_style = RopeStyle::Normal;
  QkNorm qk_norm = QkNorm::kNone;
  Presence qkv_bias = Presence::kOptional;  // attn_{q,k,v}.bias
  Presence out_bias = Presence::kOptional;  // attn_output.bias
};

// nullptr when unknown.
const ArchSpec* find_arch(std::string_view name);
// Names in registry order, for error messages and `muse info`.
std::vector<std::string_view> arch_names();

}  // namespace muse
