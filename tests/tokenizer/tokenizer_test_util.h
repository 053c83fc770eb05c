// Helpers shared by the tokenizer tests: loading a Tokenizer from a fixture GGUF, reading
// llama.cpp's vocab test suites (.inp/.out), and checking UTF-8 completeness of text.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/test_util.h"
#include "tokenizer/tokenizer.h"

namespace muse::testing {

inline StatusOr<Tokenizer> load_tokenizer(const std::string& path) {
  StatusOr<GgufFile> f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  return Tokenizer::from_gguf(*f);
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads `<vocab>.inp` and `<vocab>.out` the way llama.cpp's test-tokenizer-0 does: the
// inputs are the pieces of the whole file between separators "\n__ggml_vocab_test__\n"
// (the file ends with a separator, so no empty last case; a string's own trailing newlines
// belong to it), and line i of the output holds case i's ids separated by spaces (leading
// and trailing spaces stripped; an empty line is no ids). Returns false on a count mismatch.
inline bool read_vocab_suite(const std::string& gguf_path, std::vector<VocabCase>* cases) {
  const std::string inp = read_text_file(gguf_path + ".inp");
  const std::string out = read_text_file(gguf_path + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::vector<int32_t>> ids;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<int32_t>& row = ids.emplace_back();
    for (int64_t id; words >> id;) row.push_back(int32_t(id));
  }
  if (texts.size() != ids.size()) return false;
  cases->clear();
  for (size_t i = 0; i < texts.size(); ++i) cases->push_back({texts[i], ids[i]});
  return true;
}

// True when `s` does not end inside a UTF-8 sequence that more bytes could complete.
inline bool ends_complete_utf8(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const uint8_t b = uint8_t(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;
    if (b < 0xC0 || b >= 0xF8) return true;
    const size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    return back >= need;
  }
  return true;
}

inline std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

}  // namespace muse::testing
