// Byte-level BPE training for our own models: corpus text in, a llama.cpp-style `gpt2`
// vocabulary out (tokens in GPT-2's byte alphabet, ranked merges, token types, special ids,
// the `muse` chat template), which Tokenizer::from_gguf loads like any converted model.
// Words are cut by the runtime's own pre-tokenizer for `pre` after special tokens are split
// out, so no merge crosses a boundary the runtime will cut at; the result is a pure function
// of (corpus, options).
//
// Id layout (vocab_size V, S specials, M merges learned):
//   [0, 256)            one token per byte, id == byte value (the byte fallback)
//   [256, 256 + M)      merged tokens, in merge order (merge i creates token 256 + i)
//   [256 + M, V - S)    `<|reserved_K|>` fillers (type unused) when the corpus had fewer
//                       mergeable pairs than V asks for; never produced by encode
//   [V - S, V)          the specials, in the order given (after the vocabulary, as in Qwen)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace muse {

class GgufWriter;

struct BpeTrainOptions {
  int64_t vocab_size = 1024;  // total, including the 256 byte tokens and the specials
  // Empty: default_bpe_specials(). A special spelled `<|...|>` is a control token (matched
  // in text only when parsing specials, rendered only on request); any other is
  // user-defined (always matched in text and always printed, like Qwen3's `<think>`).
  std::vector<std::string> specials = {};
  // `tokenizer.ggml.pre`. qwen2 cuts every digit into its own word (`\p{N}` without
  // repetition), so numbers are spelled one digit per token, and does not clean spaces on
  // decode, so decode(encode(text)) == text for valid UTF-8 (families that clean spaces,
  // such as gpt-2 or llama3, decode " ," as ",").
  std::string pre = "qwen2";
  // Pairs seen fewer times than this are not merged (a merge seen once only memorises the
  // corpus); the slots left over become reserved tokens.
  int64_t min_pair_count = 2;
};

// llama.cpp's `llama_token_type` numbering, as stored in `tokenizer.ggml.token_type`.
enum class GgufTokenType : int32_t {
  kNormal = 1,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
};

struct TrainedVocab {
  std::vector<std::string> tokens;  // GPT-2 byte alphabet for normal tokens; specials verbatim
  std::vector<int32_t> types;       // GgufTokenType values
  std::vector<std::string> merges;  // "left right" in rank order
  std::string pre;
  int32_t bos = -1, eos = -1, eot = -1, pad = -1;  // -1: the specials have no such token
  std::string chat_template;
};

// `<|endoftext|>` (bos, eos, pad), `<|im_start|>`, `<|im_end|>` (eot), the thinking and
// tool-calling tags, then reserved media tags.
std::vector<std::string> default_bpe_specials();

// The `muse` chat template (Jinja): ChatML turns, Hermes-style tools, `<think>` reasoning.
std::string_view muse_chat_template();

// Trains on `corpus` (each string is one document; specials inside it are cut out first).
// Errors: vocab_size too small for the bytes and specials, an empty or repeated special, a
// special spelled like another token (e.g. "a", the byte token of 'a'), an unknown `pre`.
StatusOr<TrainedVocab> train_bpe(std::span<const std::string> corpus, const BpeTrainOptions& o);

// Sets every `tokenizer.*` key (model, pre, tokens, token_type, merges, special ids,
// add_bos_token = false, chat_template). bos and eos are always written, as u32 -1 when the
// specials have none, so that the runtime does not fall back to gpt2's default of token 11.
void write_tokenizer_keys(const TrainedVocab& v, GgufWriter* w);

// The runtime tokenizer for `v`, loaded through the same from_gguf path a model file takes
// (a vocabulary-only GGUF in a temporary folder that is removed again).
StatusOr<Tokenizer> load_trained_tokenizer(const TrainedVocab& v);

}  // namespace muse
