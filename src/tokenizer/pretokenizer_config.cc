// The `tokenizer.ggml.pre` table: which regexes and vocab flags each pre-tokenizer name
// selects. Regexes and flags are those of llama.cpp's `llm_tokenizer_bpe` and
// `llama_vocab::impl::load` (each regex is split across lines at its alternatives).
// Names whose llama.cpp implementation is hand-written code rather than regexes (kimi-k2,
// afmoe, superbpe) or that use SentencePiece-style BPE (gemma4, sarvam-moe) are refused.
#include <initializer_list>

#include "tokenizer/pretokenizer.h"

namespace muse {
namespace {

constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// The contractions of Llama 3's `(?i:'s|...)`, spelled out as llama.cpp does.
#define MUSE_CONTRACTIONS R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))"

constexpr std::string_view kLlama3 =
    MUSE_CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
                      R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kJais2 = MUSE_CONTRACTIONS
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+)"
    R"(|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S))"
    R"(|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})";

constexpr std::string_view kQwen2 =
    MUSE_CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
                      R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kQwen35 =
    MUSE_CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N})"
                      R"(| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kMinicpm5 =
    MUSE_CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+)"
                      R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kSeedCoder =
    MUSE_CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1})"
                      R"(| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kBailingMoe =
    R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

constexpr std::string_view kUfakzeka =
    R"([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kExaoneMoe =
    MUSE_CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N})"
                      R"(| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)";

constexpr std::string_view kDeepseekV3Words =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)"
    R"(|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kSpark25Words =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)"
    R"(|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+)";

// Upper-then-lower letter runs via look-aheads (std::regex has no \p{Lu}).
constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+)"
    R"(|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*)"
    R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The optional contraction after a word in the GPT-4o family.
#define MUSE_OPT_CONTRACTIONS MUSE_CONTRACTIONS "?"

constexpr std::string_view kGpt4o =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+)"                         //
    MUSE_OPT_CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*)"  //
    MUSE_OPT_CONTRACTIONS R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kTinyAya =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"  //
    MUSE_OPT_CONTRACTIONS
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"  //
    MUSE_OPT_CONTRACTIONS R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

#undef MUSE_OPT_CONTRACTIONS
#undef MUSE_CONTRACTIONS

constexpr std::string_view kPoro =
    R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)";

// Cased letters (a subset of Lu, Ll, Lt) as listed by DeepSeek LLM's tokenizer.json.
constexpr std::string_view kDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF})"
    R"(\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D})"
    R"(\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5})"
    R"(\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5})"
    R"(\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15})"
    R"(\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59})"
    R"(\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE})"
    R"(\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB})"
    R"(\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128})"
    R"(\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149})"
    R"(\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE})"
    R"(\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06})"
    R"(\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";

// CJK ideographs with everything from U+0800 up to them, and Hangul syllables.
constexpr std::string_view kHanHangul = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
// CJK ideographs, Hiragana and Katakana.
constexpr std::string_view kHanKana = R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)";
// ASCII and full-width punctuation, curly quotes, ideographic space and full stop.
constexpr std::string_view kDeepseekLlmPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";

struct Family {
  std::vector<std::string_view> names;  // the first is the canonical one
  PreTokenizerConfig config;
};

PreTokenizerConfig make(std::initializer_list<std::string_view> regexes, bool clean_spaces,
                        bool ignore_merges = false, bool add_bos = false) {
  PreTokenizerConfig c;
  c.regexes.assign(regexes.begin(), regexes.end());
  c.clean_spaces = clean_spaces;
  c.ignore_merges = ignore_merges;
  c.add_bos = add_bos;
  return c;
}

PreTokenizerConfig with_sep(PreTokenizerConfig c) {
  c.add_sep = true;
  return c;
}

PreTokenizerConfig without_bos(PreTokenizerConfig c) {
  c.has_bos = false;
  return c;
}

const std::vector<Family>& families() {
  static const std::vector<Family> table = {
      {{"default"}, make({R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, true)},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
        "jina-v5-nano"},
       make({kLlama3}, true, /*ignore_merges=*/true, /*add_bos=*/true)},
      {{"dbrx", "smaug-bpe"}, make({kLlama3}, true)},
      {{"jais-2"}, make({kJais2}, true)},
      {{"deepseek-llm"},
       make({"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunct, R"(\s+$)", kHanHangul, R"(\p{N}+)"},
            false)},
      {{"deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"},
       make({R"(\p{N}{1,3})", kHanKana, kDeepseekV3Words}, false)},
      {{"spark2_5"}, make({R"(\p{N}{1,3})", kHanKana, kSpark25Words, R"(\p{N})"}, false)},
      {{"deepseek-coder"},
       make({"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kHanHangul, R"(\p{N})"}, false)},
      {{"falcon"}, make({R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}, true)},
      {{"gpt-2", "mpt", "olmo", "jais", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
        "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "exaone4"},
       make({kGpt2}, true)},
      {{"jina-v1-en", "jina-v2-code", "roberta-bpe"}, with_sep(make({kGpt2}, true))},
      {{"trillion", "granite-docling"}, make({kGpt2}, false)},
      {{"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"},
       make({R"(\p{N})", kGpt2}, true)},
      {{"command-r", "smollm"}, make({R"(\p{N})", kGpt2}, false)},
      {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open"},
       make({kQwen2}, false)},
      {{"stablelm2", "megrez"}, make({kQwen2}, true)},
      {{"qwen35"}, make({kQwen35}, false)},
      {{"minicpm5"}, make({R"(\p{N}{1,3})", kMinicpm5}, true, /*ignore_merges=*/true)},
      {{"poro-chat"}, make({kPoro}, false)},
      {{"bloom", "gpt3-finnish"}, make({kPoro}, true)},
      {{"viking"}, make({kPoro, R"(\p{N})"}, false)},
      {{"chatglm-bpe", "glm4"}, without_bos(make({kLlama3}, true))},
      {{"tekken"}, make({kTekken}, false, /*ignore_merges=*/true, /*add_bos=*/true)},
      {{"chameleon"},
       make({"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", R"(([\t\n]|    |  ))",
             R"(\p{N})", R"([\p{P}!-/:-@\[-`{-~])", kGpt2},
            false, false, /*add_bos=*/true)},
      {{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, make({kGpt4o}, false)},
      {{"tiny_aya", "cohere2moe"}, make({R"(\d{1,3}(?=(?:\d{3})*\b))", kTinyAya}, false)},
      {{"seed-coder"}, make({kSeedCoder}, false)},
      {{"bailingmoe", "bailingmoe2", "llada-moe"}, make({kBailingMoe}, false)},
      {{"grok-2"}, make({kQwen2}, false)},
      {{"ufakzeka"}, make({kUfakzeka}, false)},
      {{"exaone-moe"}, make({kExaoneMoe}, true)},
  };
  return table;
}

constexpr std::string_view kUnsupported[] = {"kimi-k2",   "afmoe",      "superbpe",
                                             "gemma4",    "sarvam-moe", "granite-embed-multi-311m",
                                             "whitespace"};

}  // namespace

StatusOr<PreTokenizerConfig> pre_tokenizer_config(std::string_view pre) {
  const std::string_view name = pre.empty() ? "default" : pre;
  for (const Family& family : families()) {
    for (std::string_view n : family.names) {
      if (n != name) continue;
      PreTokenizerConfig c = family.config;
      c.name = family.names.front();
      return c;
    }
  }
  for (std::string_view n : kUnsupported)
    if (n == name)
      return Errorf(
          "tokenizer.ggml.pre '%.*s' is not supported (llama.cpp implements it with "
          "custom code, not regexes)",
          int(name.size()), name.data());
  return Errorf("unknown tokenizer.ggml.pre '%.*s'", int(name.size()), name.data());
}

}  // namespace muse
