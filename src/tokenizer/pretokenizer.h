// Byte-level BPE pre-tokenization: `tokenizer.ggml.pre` selects a list of regexes; each one
// splits every piece the previous one produced, keeping both the matches and the text
// between them, and the final pieces are the words that BPE merges never cross.
// Semantics follow llama.cpp's `unicode_regex_split` exactly (see pretokenizer.cc for how
// PCRE2 reproduces its std::regex behaviour); the regexes are compiled once per tokenizer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace muse {

// What a `tokenizer.ggml.pre` name implies besides its regexes (llama.cpp's vocab flags).
struct PreTokenizerConfig {
  std::string_view name;  // canonical name of the family, e.g. "llama3" for "llama-bpe"
  std::vector<std::string_view> regexes;
  bool clean_spaces = true;    // detokenizer drops spaces before ?!., etc.
  bool ignore_merges = false;  // a word that is itself a token skips the merges
  bool add_bos = false;        // default for tokenizer.ggml.add_bos_token
  bool add_sep = false;
  bool has_bos = true;  // false: the family has no BOS (chatglm)
};

// The configuration for `pre` (as stored in GGUF); "" means the key is absent and selects
// llama.cpp's "default" regexes. An unknown or unsupported name is an error naming it.
StatusOr<PreTokenizerConfig> pre_tokenizer_config(std::string_view pre);

class PreTokenizer {
 public:
  static StatusOr<std::unique_ptr<PreTokenizer>> create(
      const std::vector<std::string_view>& regexes);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits `text` (any bytes; invalid UTF-8 is read as U+FFFD per byte, like llama.cpp)
  // into words. Each word holds the UTF-8 of its code points, so the concatenation equals
  // `text` whenever `text` is valid UTF-8. Thread-safe.
  std::vector<std::string> split(std::string_view text) const;

 private:
  struct Pattern;
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Pattern>> patterns_;
};

}  // namespace muse
