// Tokenizer::from_gguf: `tokenizer.ggml.*` metadata into a TokenizerImpl, following
// llama.cpp's `llama_vocab::impl::load` in what it reads, its defaults per model, and its
// text-based detection of end-of-generation tokens (GGUF has no key for most of them).
// Where llama.cpp iterates a hash map (so which of two candidate texts wins is unspecified),
// this iterates ids in ascending order.
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <span>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace muse {
namespace {

constexpr std::string_view kTokens = "tokenizer.ggml.tokens";

uint32_t attr_from_type(int32_t type) {
  switch (type) {  // llama.cpp's llama_token_type numbering
    case 1:
      return kAttrNormal;
    case 2:
      return kAttrUnknown;
    case 3:
      return kAttrControl;
    case 4:
      return kAttrUserDefined;
    case 5:
      return kAttrUnused;
    case 6:
      return kAttrByte;
    default:
      return kAttrUndefined;
  }
}

Status read_token_arrays(const GgufFile& f, TokenizerImpl* v) {
  StatusOr<std::span<const std::string_view>> tokens = f.get_string_array(kTokens);
  if (!tokens.ok()) return tokens.status();
  const size_t n = tokens->size();
  if (n == 0) return Errorf("%.*s is empty", int(kTokens.size()), kTokens.data());
  if (n > size_t(INT32_MAX)) return Errorf("vocabulary of %zu tokens is too large", n);

  v->scores.assign(n, 0.0f);
  if (f.find("tokenizer.ggml.scores") != nullptr) {
    StatusOr<std::vector<float>> scores = f.get_f32_array("tokenizer.ggml.scores");
    if (!scores.ok()) {  // llama.cpp also accepts integer scores
      StatusOr<std::vector<int64_t>> iscores = f.get_int_array("tokenizer.ggml.scores");
      if (!iscores.ok()) return scores.status();
      scores = std::vector<float>(iscores->begin(), iscores->end());
    }
    if (scores->size() < n)
      return Errorf("tokenizer.ggml.scores has %zu entries for %zu tokens", scores->size(), n);
    std::copy(scores->begin(), scores->begin() + ptrdiff_t(n), v->scores.begin());
  }

  v->attrs.assign(n, kAttrNormal);
  if (f.find("tokenizer.ggml.token_type") != nullptr) {
    StatusOr<std::vector<int32_t>> types = f.get_i32_array("tokenizer.ggml.token_type");
    if (!types.ok()) return types.status();
    if (types->size() < n)
      return Errorf("tokenizer.ggml.token_type has %zu entries for %zu tokens", types->size(), n);
    for (size_t i = 0; i < n; ++i) v->attrs[i] = attr_from_type(types.value()[i]);
  }

  v->texts.resize(n);
  size_t n_empty = 0;
  for (size_t i = 0; i < n; ++i) {
    std::string& t = v->texts[i];
    t.assign(tokens.value()[i]);
    if (t.empty()) {  // an empty text would match everywhere when splitting specials out
      t = "[EMPTY_" + std::to_string(i) + "]";
      ++n_empty;
    }
    v->max_token_len = std::max(v->max_token_len, t.size());
  }
  if (n_empty > 0) v->warnings.push_back(std::to_string(n_empty) + " empty token texts renamed");

  v->lookup.reserve(n);
  size_t n_duplicate = 0;
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] = v->lookup.try_emplace(v->texts[i], int32_t(i));
    if (!inserted) {
      it->second = int32_t(i);  // older llama.cpp: the last id of a repeated text wins
      ++n_duplicate;
    }
  }
  if (n_duplicate > 0)
    v->warnings.push_back(std::to_string(n_duplicate) + " token texts appear more than once");
  return Status::Ok();
}

// Reads the special token ids; a value out of range is ignored with a warning.
void read_special_ids(const GgufFile& f, TokenizerImpl* v) {
  const std::pair<std::string_view, int32_t*> keys[] = {
      {"tokenizer.ggml.bos_token_id", &v->bos},
      {"tokenizer.ggml.eos_token_id", &v->eos},
      {"tokenizer.ggml.eot_token_id", &v->eot},
      {"tokenizer.ggml.eom_token_id", &v->eom},
      {"tokenizer.ggml.unknown_token_id", &v->unk},
      {"tokenizer.ggml.seperator_token_id", &v->sep},  // sic, llama.cpp's spelling
      {"tokenizer.ggml.padding_token_id", &v->pad},
      {"tokenizer.ggml.mask_token_id", &v->mask},
      {"tokenizer.ggml.fim_pre_token_id", &v->fim_pre},
      {"tokenizer.ggml.fim_suf_token_id", &v->fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &v->fim_mid},
      {"tokenizer.ggml.fim_pad_token_id", &v->fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &v->fim_rep},
      {"tokenizer.ggml.fim_sep_token_id", &v->fim_sep},
      {"tokenizer.ggml.prefix_token_id", &v->fim_pre},  // deprecated spellings
      {"tokenizer.ggml.suffix_token_id", &v->fim_suf},
      {"tokenizer.ggml.middle_token_id", &v->fim_mid},
  };
  for (const auto& [key, id] : keys) {
    if (*id >= v->n_vocab()) {
      v->warnings.push_back("default " + std::string(key) + " out of range, none used");
      *id = -1;
    }
    const GgufValue* value = f.find(key);
    if (value == nullptr) continue;
    const std::optional<int64_t> x = value->as_int();
    // Converters write -1 as a u32 (4294967295) to say "no such token": that is not an error.
    if (x && (*x == -1 || *x == int64_t(UINT32_MAX))) {
      *id = -1;
      continue;
    }
    if (!x || *x < 0 || *x >= v->n_vocab()) {
      v->warnings.push_back(std::string(key) + " = " + gguf_value_to_string(*value) +
                            " is not a token id; ignored");
      continue;
    }
    *id = int32_t(*x);
  }
}

// Token texts llama.cpp looks for when the file names no id (each found token is made a
// control token), and the texts that end generation.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreTexts[] = {"<|fim_prefix|>",  "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>",        "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufTexts[] = {"<|fim_suffix|>",  "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>",  "<SUF>",        "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidTexts[] = {"<|fim_middle|>",  "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>",   "<MID>",        "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
// clang-format off
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};
// clang-format on
// gpt-oss's channel markup, always rendered.
constexpr std::string_view kHarmonyTexts[] = {"<|channel|>", "<|message|>", "<|start|>",
                                              "<|constrain|>"};

// Every text above starts with '<', '[', '_' or '▁'; checking that first keeps the scans
// over large vocabularies cheap.
bool is_one_of(std::string_view s, std::span<const std::string_view> set) {
  if (s.empty() || (s[0] != '<' && s[0] != '[' && s[0] != '_' && s[0] != '\xE2')) return false;
  return std::find(set.begin(), set.end(), s) != set.end();
}

void detect_by_text(TokenizerImpl* v) {
  const std::pair<int32_t*, std::span<const std::string_view>> rules[] = {
      {&v->eot, kEotTexts},        {&v->eom, kEomTexts},        {&v->fim_pre, kFimPreTexts},
      {&v->fim_suf, kFimSufTexts}, {&v->fim_mid, kFimMidTexts}, {&v->fim_pad, kFimPadTexts},
      {&v->fim_rep, kFimRepTexts}, {&v->fim_sep, kFimSepTexts},
  };
  for (const auto& [rule_id, texts] : rules) {
    if (*rule_id >= 0) continue;
    for (int32_t id = 0; id < v->n_vocab(); ++id) {
      if (!is_one_of(v->texts[id], texts)) continue;
      *rule_id = id;
      v->attrs[id] |= kAttrControl;
      break;
    }
  }

  // End of generation: FIM filler tokens, every token with one of these texts, eos/eot/eom.
  std::vector<int32_t> eog;
  for (int32_t id : {v->fim_pad, v->fim_rep, v->fim_sep})
    if (id >= 0) eog.push_back(id);
  for (int32_t id = 0; id < v->n_vocab(); ++id) {
    if (is_one_of(v->texts[id], kEogTexts)) {
      eog.push_back(id);
      v->attrs[id] |= kAttrControl;
    }
  }
  for (int32_t id : {v->eos, v->eot, v->eom})
    if (id >= 0) eog.push_back(id);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

  // With "<|return|>" and "<|call|>" (gpt-oss) or "<|calls|>" and "<|flush|>" (solar-open),
  // "<|end|>" ends a message, not generation; with "<|tool_response>" (gemma4) "</s>" is
  // ordinary text.
  auto has = [&](std::string_view text) {
    return std::any_of(eog.begin(), eog.end(), [&](int32_t id) { return v->texts[id] == text; });
  };
  auto drop = [&](std::string_view text, uint32_t attr) {
    for (int32_t id : eog) {
      if (v->texts[id] != text) continue;
      v->attrs[id] = attr;
      eog.erase(std::find(eog.begin(), eog.end(), id));
      return;
    }
  };
  for (int32_t id = 0; id < v->n_vocab(); ++id)
    if (is_one_of(v->texts[id], kHarmonyTexts)) v->attrs[id] = kAttrUserDefined;
  if (has("<|end|>") &&
      ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>")))) {
    drop("<|end|>", kAttrUserDefined);
  }
  if (has("<|tool_response>") && has("</s>")) drop("</s>", kAttrNormal);
  v->eog_ids = std::move(eog);
}

std::string string_or_empty(const GgufFile& f, std::string_view key) {
  StatusOr<std::string_view> s = f.get_string_or(key, "");
  return s.ok() ? std::string(*s) : std::string();
}

std::string lowercase_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(uint8_t(c)));
  return out;
}

// Whitespace-stripping attributes llama.cpp assigns by model name (GGUF has no key).
void set_strip_attrs(const GgufFile& f, TokenizerImpl* v) {
  const std::string name = lowercase_ascii(string_or_empty(f, "general.name"));
  const std::string arch = string_or_empty(f, "general.architecture");
  auto set = [&](std::string_view text, uint32_t attr, bool on) {
    const int32_t id = v->find(text);
    if (id < 0) return;
    v->attrs[id] = on ? (v->attrs[id] | attr) : (v->attrs[id] & ~attr);
  };
  auto contains = [](std::string_view s, std::initializer_list<std::string_view> subs) {
    return std::any_of(subs.begin(), subs.end(),
                       [&](std::string_view sub) { return s.find(sub) != s.npos; });
  };
  if (contains(v->pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set("<mask>", kAttrLstrip, true);
  } else if (contains(name, {"phi-3", "phi3"})) {
    for (int32_t id : v->special_ids) v->attrs[id] |= kAttrRstrip;
    set("</s>", kAttrRstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, kAttrRstrip, false);
  } else if (contains(name, {"modern-bert"})) {
    set("[MASK]", kAttrLstrip, true);
  }
}

uint8_t byte_of_token(std::string_view text) {  // "<0xE2>" -> 0xE2, like strtol(text+3, 16)
  uint8_t value = 0;
  for (size_t i = 3; i < 5 && i < text.size() && std::isxdigit(uint8_t(text[i])); ++i)
    value = uint8_t(value * 16 +
                    (std::isdigit(uint8_t(text[i])) ? text[i] - '0' : (text[i] | 0x20) - 'a' + 10));
  return value;
}

std::string make_piece(const TokenizerImpl& v, int32_t id) {
  const std::string& text = v.texts[id];
  const uint32_t attr = v.attrs[id];
  if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return text;
  if (attr & kAttrByte) return std::string(1, char(byte_of_token(text)));
  if (!(attr & kAttrNormal)) return {};  // unused and undefined tokens render as nothing
  std::string out;
  if (v.type == VocabType::kBpe) {
    // Undo the byte alphabet. llama.cpp writes "[UNK_BYTE_...]" for a character outside it;
    // such a character is kept as it is here.
    for (size_t pos = 0; pos < text.size();) {
      const size_t start = pos;
      const int b = gpt2_utf8_to_byte(utf8_decode_lenient(text, &pos));
      if (b >= 0) {
        out.push_back(char(b));
      } else {
        out.append(text, start, pos - start);
      }
    }
    return out;
  }
  for (size_t pos = 0; pos < text.size(); ++pos) {  // '▁' -> ' '
    if (text.compare(pos, 3, "\xE2\x96\x81") == 0) {
      out.push_back(' ');
      pos += 2;
    } else {
      out.push_back(text[pos]);
    }
  }
  return out;
}

}  // namespace

StatusOr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  auto impl = std::make_shared<TokenizerImpl>();
  TokenizerImpl& v = *impl;

  StatusOr<std::string_view> model = f.get_string("tokenizer.ggml.model");
  if (!model.ok()) return model.status();
  StatusOr<std::string_view> pre = f.get_string_or("tokenizer.ggml.pre", "");
  if (!pre.ok()) return pre.status();
  v.pre = std::string(*pre);

  PreTokenizerConfig bpe_config;
  if (*model == "llama") {
    v.type = VocabType::kSpm;
    v.bos = 1, v.eos = 2, v.unk = 0;
    v.add_space_prefix = true;
    v.add_bos = true;
  } else if (*model == "bert") {
    v.type = VocabType::kWpm;
    v.bos = 101, v.unk = 100, v.sep = 102, v.pad = 0, v.mask = 103;
    v.clean_spaces = true;
    v.add_bos = true;
    v.add_sep = true;
  } else if (*model == "gpt2") {
    v.type = VocabType::kBpe;
    v.bos = 11, v.eos = 11;  // llama.cpp's defaults, overridden by every real file
    StatusOr<PreTokenizerConfig> config = pre_tokenizer_config(v.pre);
    if (!config.ok()) return config.status();
    bpe_config = std::move(config.value());
    if (v.pre.empty())
      v.warnings.push_back("tokenizer.ggml.pre missing: using llama.cpp's 'default' regexes");
    v.clean_spaces = bpe_config.clean_spaces;
    v.ignore_merges = bpe_config.ignore_merges;
    v.add_bos = bpe_config.add_bos;
    v.add_sep = bpe_config.add_sep;
    if (!bpe_config.has_bos) v.bos = -1;
  } else {
    return Errorf("tokenizer.ggml.model '%.*s' is not supported (llama, gpt2 and bert are)",
                  int(model->size()), model->data());
  }

  StatusOr<bool> space_prefix =
      f.get_bool_or("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  if (!space_prefix.ok()) return space_prefix.status();
  v.add_space_prefix = *space_prefix;

  MUSE_RETURN_IF_ERROR(read_token_arrays(f, &v));
  read_special_ids(f, &v);

  for (auto [key, flag] : {std::pair{"tokenizer.ggml.add_bos_token", &v.add_bos},
                           std::pair{"tokenizer.ggml.add_eos_token", &v.add_eos},
                           std::pair{"tokenizer.ggml.add_sep_token", &v.add_sep}}) {
    StatusOr<bool> b = f.get_bool_or(key, *flag);
    if (!b.ok()) return b.status();
    *flag = *b;
  }
  if (v.add_bos && v.bos < 0)
    return Errorf("tokenizer.ggml.add_bos_token is true, but there is no bos_token_id");
  if (v.add_eos && v.eos < 0)
    return Errorf("tokenizer.ggml.add_eos_token is true, but there is no eos_token_id");

  StatusOr<bool> lowercase = f.get_bool_or("tokenizer.ggml.normalizer.lowercase", true);
  if (!lowercase.ok()) return lowercase.status();
  v.wpm_lowercase = *lowercase;
  StatusOr<bool> strip = f.get_bool_or("tokenizer.ggml.normalizer.strip_accents", *lowercase);
  if (!strip.ok()) return strip.status();
  v.wpm_strip_accents = *strip;

  detect_by_text(&v);

  for (int32_t id = 0; id < v.n_vocab(); ++id)
    if (v.attrs[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) v.special_ids.push_back(id);
  std::stable_sort(v.special_ids.begin(), v.special_ids.end(),
                   [&](int32_t a, int32_t b) { return v.texts[a].size() > v.texts[b].size(); });
  set_strip_attrs(f, &v);

  v.pieces.resize(v.texts.size());
  for (int32_t id = 0; id < v.n_vocab(); ++id) v.pieces[id] = make_piece(v, id);

  if (v.type == VocabType::kBpe) {
    if (f.find("tokenizer.ggml.merges") == nullptr)
      return Errorf("tokenizer.ggml.merges missing (a gpt2 vocabulary needs its merges)");
    StatusOr<std::span<const std::string_view>> merges =
        f.get_string_array("tokenizer.ggml.merges");
    if (!merges.ok()) return merges.status();
    v.merges.build(*merges, v.lookup, v.n_vocab());
    for (int b = 0; b < 256; ++b) v.byte_tokens[b] = v.merges.symbol(gpt2_byte_to_utf8(uint8_t(b)));
    StatusOr<std::unique_ptr<PreTokenizer>> pt = PreTokenizer::create(bpe_config.regexes);
    if (!pt.ok()) return pt.status().WithContext("tokenizer.ggml.pre '" + v.pre + "'");
    v.pre_tokenizer = std::move(pt.value());
  } else {
    if (v.type == VocabType::kSpm) v.spm_words_independent = spm_words_are_independent(v);
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
      int32_t id = v.find(std::string_view(name, sizeof(name)));
      if (id < 0) id = v.find(std::string(1, char(b)));
      v.byte_tokens[b] = id;
    }
  }
  return Tokenizer(std::move(impl));
}

}  // namespace muse
