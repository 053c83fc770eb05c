// Text <-> token ids for the vocabularies GGUF files carry (`tokenizer.ggml.*` metadata):
// SentencePiece-style ("llama": score-ordered merges, byte fallback), byte-level BPE ("gpt2":
// pre-tokenizer regexes chosen by `tokenizer.ggml.pre`, ranked merges) and WordPiece
// ("bert"). Results are token-for-token those of llama.cpp (its `llama_tokenize` and
// `llama_detokenize`), which the vocab test suites in the fixtures check.
//
//   StatusOr<Tokenizer> tok = Tokenizer::from_gguf(file);   // reads metadata only
//   std::vector<int32_t> ids = tok->encode("Hello", /*add_special=*/true,
//                                          /*parse_special=*/false);
//   std::string text = tok->decode(ids, /*render_special=*/false);
//
// A Tokenizer is immutable after loading, cheap to copy (copies share one vocabulary) and
// safe to use from many threads at once. Token ids outside [0, n_vocab) are never produced;
// passed in, they are skipped by decoding (documented on each method).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace muse {

class GgufFile;

enum class VocabType { kSpm, kBpe, kWpm };

struct TokenizerImpl;

class Tokenizer {
 public:
  // Reads `tokenizer.ggml.*`. Missing or malformed required keys, an unsupported model
  // (t5, rwkv, ...), an unknown `tokenizer.ggml.pre` or one llama.cpp implements with
  // custom code (kimi-k2, afmoe, superbpe, gemma4) are errors naming the key or value. A missing
  // `tokenizer.ggml.pre` on a BPE vocab selects llama.cpp's "default" regexes and records a
  // warning (see warnings()), as llama.cpp does.
  static StatusOr<Tokenizer> from_gguf(const GgufFile& file);

  VocabType type() const;
  std::string_view pre() const;  // `tokenizer.ggml.pre` ("" when absent)
  int32_t n_vocab() const;

  // Special token ids, -1 when the vocabulary has none.
  int32_t bos() const;
  int32_t eos() const;
  int32_t eot() const;
  int32_t eom() const;
  int32_t unk() const;
  int32_t sep() const;
  int32_t pad() const;
  bool add_bos() const;  // encode(..., add_special=true) prepends bos()
  bool add_eos() const;  // ... and appends eos()

  // End of generation: eos, eot, eom and the tokens llama.cpp recognises by their text
  // (<|im_end|>, <|eot_id|>, <end_of_turn>, <|endoftext|>, FIM pad/repo/separator, ...).
  bool is_eog(int32_t id) const;
  // Control tokens (<s>, <|im_start|>, ...): decoded only when rendering specials, and split
  // out of text only when parsing specials. False for ids out of range.
  bool is_control(int32_t id) const;

  // Tokenizes `text` (any bytes up to 2 GiB; invalid UTF-8 is tokenized the way llama.cpp
  // does, never rejected). add_special: add BOS/EOS (SPM, BPE) or [CLS]/[SEP] (WPM) as the
  // vocabulary asks. parse_special: text equal to a control or unknown token's text becomes that
  // token (longest token first, like llama.cpp's tokenizer_st_partition); user-defined tokens are
  // always split out, as in llama.cpp and Hugging Face.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes one token stands for: SPM '▁' becomes ' ', <0xXX> becomes that byte, BPE's
  // byte alphabet is undone. Control and unknown tokens give their text only with
  // render_special, else "". An out-of-range id gives "".
  std::string token_to_piece(int32_t id, bool render_special) const;

  // The text of `ids`, exactly llama.cpp's `common_detokenize(ctx, ids, render_special)`:
  // pieces concatenated, the space SPM prefixes dropped from the first token, and for
  // vocabularies that ask for it (GPT-2, WordPiece, ...) Hugging Face's
  // clean_up_tokenization_spaces (" ," -> ","). Out-of-range ids are skipped.
  std::string decode(std::span<const int32_t> ids, bool render_special) const;

  // The vocabulary's own spelling of a token ("▁Hello", "Ġworld", "<0x0A>"); "" when out of
  // range.
  std::string_view token_text(int32_t id) const;
  std::optional<int32_t> find_token(std::string_view text) const;

  // Non-fatal oddities met while loading (defaults used, ids out of range ignored, ...).
  const std::vector<std::string>& warnings() const;

 private:
  friend class StreamDecoder;
  explicit Tokenizer(std::shared_ptr<const TokenizerImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const TokenizerImpl> impl_;
};

struct StreamDecoderOptions {
  bool render_special = false;  // as in Tokenizer::decode
  // The tokens continue text that is already shown (a reply generated after its prompt):
  // the first token keeps the leading space that decode() drops from SPM text.
  bool continues_text = false;
};

// Incremental detokenization for streaming output: push() returns the text that the tokens
// so far make final, never ending inside a UTF-8 character (a byte-fallback "<0xE2>" or a
// BPE byte waits for the rest of its character) and never a space that
// clean_up_tokenization_spaces may still remove. The concatenation of every push() and the
// final flush() equals Tokenizer::decode() of the same ids (with continues_text, decode()
// without its removal of the first token's leading space).
class StreamDecoder {
 public:
  explicit StreamDecoder(Tokenizer tokenizer, StreamDecoderOptions options = {});

  std::string push(int32_t id);  // out-of-range ids are skipped, as in decode()
  std::string flush();           // all held-back text, even an incomplete character
  void reset();                  // start a new text (the next token is a first token again)

 private:
  Tokenizer tokenizer_;
  StreamDecoderOptions options_;
  bool first_ = true;
  std::string pending_;  // decoded bytes not returned yet
};

}  // namespace muse
