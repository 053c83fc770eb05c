// Training checkpoints: named fp32 tensors (weights, AdamW m and v, anything else the trainer
// keeps) plus the scalar state a run needs to resume bit-exactly, in a GGUF container.
// Invariants: a save either replaces `path` whole or leaves it untouched (written to
// `<path>.tmp`, then renamed); a load either fills every caller buffer and the state or
// changes nothing, and copies floats bit for bit (NaN payloads, denormals, -0.0).
// Layout: F32 tensors in the caller's order under their own names, and the keys
//   muse.train.format_version u32   (1; a newer version is refused, not guessed at)
//   muse.train.step           i64
//   muse.train.rng_state      u64
//   muse.train.config         str   (JSON text; the trainer compares it on resume)
//   muse.train.checksums      u64[] (one per tensor in file order, see checkpoint.cc)
//   muse.train.strings.<key>  str   (CheckpointState::strings)
//   muse.train.numbers.<key>  f64   (CheckpointState::numbers)
// Tensor names are limited to 63 bytes, GGML's 64-byte name buffer with its terminator, so
// `muse info` and llama.cpp's gguf tools can still read a checkpoint; longer names are an
// error at save time ("adam_m.blk.31.ffn_gate_inp_shexp.weight" is 39 bytes).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace muse {

// One tensor of the training state. The buffer belongs to the caller: save reads it, load
// overwrites it. `shape` is stored as the GGUF `ne` list in the order given (use GGML order,
// ne[0] contiguous, so tools print it as they print model tensors): 1 to 4 positive
// dimensions whose product is `data.size()`.
struct CheckpointTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::span<float> data;
};

struct CheckpointState {
  int64_t step = 0;        // optimizer steps done
  uint64_t rng_state = 0;  // data-order / sampling RNG
  std::string config;      // JSON text: model + recipe config, compared on resume
  std::map<std::string, std::string> strings;  // extra metadata (phase name, etc.)
  std::map<std::string, double> numbers;       // extra scalars (e.g. tokens seen)
};

constexpr uint32_t kCheckpointFormatVersion = 1;

// Writes `path` atomically. Errors (a bad name or shape, an unwritable directory, a full
// disk) name the path and the tensor at fault, and leave neither `path` nor `<path>.tmp`
// changed.
Status save_checkpoint(const std::string& path, const CheckpointState& st,
                       std::span<const CheckpointTensor> tensors);

// Loads into the caller's existing buffers. Every tensor in `tensors` must be in the file as
// F32 with the same shape (the error names the tensor and both shapes), and the file may hold
// no other tensors. A file that is not a checkpoint, is truncated or has trailing bytes, or
// whose tensor data fails its checksum is an error; on any error nothing is written.
Status load_checkpoint(const std::string& path, CheckpointState* st,
                       std::span<const CheckpointTensor> tensors);

}  // namespace muse
