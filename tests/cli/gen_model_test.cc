// `muse gen-model`: the file has exactly llama.cpp's llama tensors and keys, a valid SPM
// vocabulary, weights with the promised statistics, is a pure function of the options, and
// bad shapes are refused with a message naming the option. Expected names and shapes are
// written out here by hand from llama.cpp's llama layout, not derived from gen_model.cc.
#include "model/gen_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cli/run_util.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

namespace muse {
namespace {

using testing::run_muse;
using testing::shell_quote;

bool contains(const std::string& s, const std::string& sub) {
  return s.find(sub) != std::string::npos;
}

struct Expected {
  std::string name;
  std::vector<int64_t> ne;
  bool norm;
};

// n_embd 256, n_head 4, n_head_kv 2 (n_embd_kv 128), n_ff 512, n_vocab 300, 2 layers.
std::vector<Expected> expected_llama_tensors() {
  std::vector<Expected> e = {{"token_embd.weight", {256, 300}, false},
                             {"output_norm.weight", {256}, true},
                             {"output.weight", {256, 300}, false}};
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    e.push_back({p + "attn_norm.weight", {256}, true});
    e.push_back({p + "attn_q.weight", {256, 256}, false});
    e.push_back({p + "attn_k.weight", {256, 128}, false});
    e.push_back({p + "attn_v.weight", {256, 128}, false});
    e.push_back({p + "attn_output.weight", {256, 256}, false});
    e.push_back({p + "ffn_norm.weight", {256}, true});
    e.push_back({p + "ffn_gate.weight", {256, 512}, false});
    e.push_back({p + "ffn_up.weight", {256, 512}, false});
    e.push_back({p + "ffn_down.weight", {512, 256}, false});
  }
  return e;
}

const char kTinyFlags[] =
    "--n-embd 256 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 512 --n-vocab 300 --n-ctx 1024 "
    "--seed 7";

GenModelOptions tiny_options(DType type) {
  GenModelOptions o;
  o.n_embd = 256;
  o.n_layer = 2;
  o.n_head = 4;
  o.n_head_kv = 2;
  o.n_ff = 512;
  o.n_vocab = 300;
  o.n_ctx = 1024;
  o.seed = 7;
  o.type = type;
  return o;
}

TEST(GenModelTest, CliWritesLlamaTensorsAndKeys) {
  testing::TempDir dir;
  const std::string path = dir.file("tiny.gguf");
  testing::RunResult r =
      run_muse(std::string("gen-model ") + kTinyFlags + " --type q8_0 -o " + shell_quote(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "21 tensors")) << r.out;

  r = run_muse("info " + shell_quote(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "tensors (21):"));
  EXPECT_TRUE(contains(r.out,
                       "types: f32 \xC3\x97"
                       "5 q8_0 \xC3\x97"
                       "16"))
      << r.out;

  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_string("general.name"), "muse-gen-llama");
  EXPECT_EQ(*f->get_u32("general.file_type"), 7u);  // LLAMA_FTYPE_MOSTLY_Q8_0
  EXPECT_EQ(*f->get_u32("general.alignment"), 32u);
  EXPECT_EQ(*f->get_u32("general.quantization_version"), 2u);
  EXPECT_EQ(*f->get_u32("llama.context_length"), 1024u);
  EXPECT_EQ(*f->get_u32("llama.embedding_length"), 256u);
  EXPECT_EQ(*f->get_u32("llama.block_count"), 2u);
  EXPECT_EQ(*f->get_u32("llama.feed_forward_length"), 512u);
  EXPECT_EQ(*f->get_u32("llama.attention.head_count"), 4u);
  EXPECT_EQ(*f->get_u32("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*f->get_u32("llama.rope.dimension_count"), 64u);
  EXPECT_EQ(*f->get_u32("llama.vocab_size"), 300u);
  EXPECT_EQ(*f->get_f32("llama.rope.freq_base"), 10000.0f);
  EXPECT_EQ(*f->get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  for (const char* key : {"general.architecture", "llama.context_length", "llama.rope.freq_base",
                          "llama.attention.layer_norm_rms_epsilon"}) {
    EXPECT_NE(f->find(key), nullptr) << key;
  }
  // The keys llama.cpp reads are u32/f32 exactly (its getters check the type strictly).
  EXPECT_EQ(f->find("llama.block_count")->type(), GgufType::kU32);
  EXPECT_EQ(f->find("llama.rope.freq_base")->type(), GgufType::kF32);

  const std::vector<Expected> want = expected_llama_tensors();
  ASSERT_EQ(f->tensors().size(), want.size());
  for (const Expected& e : want) {
    SCOPED_TRACE(e.name);
    const GgufTensor* t = f->find_tensor(e.name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->n_dims, int(e.ne.size()));
    for (size_t d = 0; d < e.ne.size(); ++d) EXPECT_EQ(t->ne[d], e.ne[d]);
    EXPECT_EQ(t->dtype, e.norm ? DType::F32 : DType::Q8_0);
  }
}

TEST(GenModelTest, TokenizerIsAValidSpmVocabulary) {
  testing::TempDir dir;
  GenModelOptions o = tiny_options(DType::F32);
  o.n_vocab = 2000;  // enough filler for multi-character pieces (1..67 are single characters)
  ASSERT_TRUE(gen_model(o, dir.file("m.gguf")).ok());
  StatusOr<GgufFile> f = GgufFile::open(dir.file("m.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "llama");
  auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 2000u);
  const auto tok = tokens.value();
  EXPECT_EQ(tok[0], "<unk>");
  EXPECT_EQ(tok[1], "<s>");
  EXPECT_EQ(tok[2], "</s>");
  EXPECT_EQ(tok[3], "<0x00>");
  EXPECT_EQ(tok[3 + 0x0A], "<0x0A>");
  EXPECT_EQ(tok[258], "<0xFF>");
  std::set<std::string_view> unique(tok.begin(), tok.end());
  EXPECT_EQ(unique.size(), tok.size()) << "token pieces must be distinct";
  // SPM builds a piece by merging two shorter pieces: every multi-character filler piece
  // must split into two pieces of the vocabulary.
  size_t multi = 0;
  for (size_t i = 259; i < tok.size(); ++i) {
    const std::string_view p = tok[i];
    multi += p.size() > 1 && p != "\xE2\x96\x81";
    bool buildable = p.size() == 1 || p == "\xE2\x96\x81";
    for (size_t k = 1; k < p.size() && !buildable; ++k)
      buildable = unique.count(p.substr(0, k)) && unique.count(p.substr(k));
    EXPECT_TRUE(buildable) << "piece " << i << " '" << p << "'";
  }
  EXPECT_GT(multi, 1000u);
  auto types = f->get_i32_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  ASSERT_EQ(types->size(), 2000u);
  EXPECT_EQ(types.value()[0], 2);
  EXPECT_EQ(types.value()[1], 3);
  EXPECT_EQ(types.value()[2], 3);
  for (int i = 3; i < 259; ++i) EXPECT_EQ(types.value()[i], 6) << i;
  for (int i = 259; i < 2000; ++i) EXPECT_EQ(types.value()[i], 1) << i;
  EXPECT_EQ(f->get_f32_array("tokenizer.ggml.scores")->size(), 2000u);
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.unknown_token_id"), 0u);
}

TEST(GenModelTest, WeightStatistics) {
  testing::TempDir dir;
  ASSERT_TRUE(gen_model(tiny_options(DType::F32), dir.file("m.gguf")).ok());
  StatusOr<GgufFile> f = GgufFile::open(dir.file("m.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  for (const GgufTensor& t : f->tensors()) {
    SCOPED_TRACE(std::string(t.name));
    const float* x = static_cast<const float*>(t.data);
    const int64_t n = t.n_elements();
    if (t.n_dims == 1) {
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(x[i], 1.0f);
      continue;
    }
    double sum = 0, sum2 = 0, sum4 = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += x[i];
      sum2 += double(x[i]) * x[i];
    }
    const double mean = sum / n, var = sum2 / n - mean * mean;
    const double want_var = 1.0 / double(t.ne[0]);  // N(0, 1/fan_in)
    for (int64_t i = 0; i < n; ++i) {
      const double z = (x[i] - mean) * (x[i] - mean) / var;
      sum4 += z * z;
    }
    // n >= 32768 samples: the standard error of the mean is sd/181, of the variance
    // var*sqrt(2/n) < 0.8 %; 6 standard errors leave no flakiness (the seed is fixed anyway).
    EXPECT_NEAR(mean, 0.0, 6.0 * std::sqrt(want_var / n));
    EXPECT_NEAR(var / want_var, 1.0, 6.0 * std::sqrt(2.0 / n));
    // Kurtosis 3 distinguishes a Gaussian from e.g. a uniform (1.8); its standard error is
    // sqrt(24/n) < 0.03.
    EXPECT_NEAR(sum4 / n, 3.0, 0.15);
  }
}

TEST(GenModelTest, DeterministicAcrossThreadCounts) {
  testing::TempDir dir;
  GenModelOptions o = tiny_options(DType::Q4_0);
  o.n_threads = 1;
  ASSERT_TRUE(gen_model(o, dir.file("a.gguf")).ok());
  o.n_threads = 3;
  ASSERT_TRUE(gen_model(o, dir.file("b.gguf")).ok());
  o.seed = 8;
  ASSERT_TRUE(gen_model(o, dir.file("c.gguf")).ok());
  const auto a = testing::read_bytes(dir.file("a.gguf"));
  EXPECT_TRUE(a == testing::read_bytes(dir.file("b.gguf")));
  const auto c = testing::read_bytes(dir.file("c.gguf"));
  ASSERT_EQ(a.size(), c.size());
  EXPECT_FALSE(a == c);
}

TEST(GenModelTest, QuantizedWeightsAreTheF32WeightsQuantized) {
  testing::TempDir dir;
  ASSERT_TRUE(gen_model(tiny_options(DType::F32), dir.file("f32.gguf")).ok());
  ASSERT_TRUE(gen_model(tiny_options(DType::Q8_0), dir.file("q8.gguf")).ok());
  StatusOr<GgufFile> f = GgufFile::open(dir.file("f32.gguf"));
  StatusOr<GgufFile> q = GgufFile::open(dir.file("q8.gguf"));
  ASSERT_TRUE(f.ok() && q.ok());
  const GgufTensor* tf = f->find_tensor("blk.1.ffn_down.weight");
  const GgufTensor* tq = q->find_tensor("blk.1.ffn_down.weight");
  ASSERT_EQ(tq->dtype, DType::Q8_0);
  const int64_t n = tf->n_elements();
  std::vector<float> deq(static_cast<size_t>(n));
  dequantize_row_ref(DType::Q8_0, tq->data, deq.data(), n);
  const float* x = static_cast<const float*>(tf->data);
  // Q8_0 rounds each value to a multiple of d = amax/127 of its 32-block (d is stored as
  // f16: relative error 2^-11), so |error| <= d/2 plus that rounding.
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float tol = amax / 127 * 0.5f + amax * 1e-3f;
    for (int i = 0; i < 32; ++i) ASSERT_NEAR(deq[b * 32 + i], x[b * 32 + i], tol) << "block " << b;
  }
}

TEST(GenModelTest, EveryWeightTypeIsWritten) {
  struct Case {
    DType type;
    uint32_t file_type;  // llama.cpp's llama_ftype
  };
  const Case cases[] = {{DType::F32, 0},   {DType::F16, 1},   {DType::BF16, 32}, {DType::Q4_0, 2},
                        {DType::Q4_1, 3},  {DType::Q5_0, 8},  {DType::Q5_1, 9},  {DType::Q8_0, 7},
                        {DType::Q2_K, 10}, {DType::Q3_K, 11}, {DType::Q4_K, 14}, {DType::Q5_K, 16},
                        {DType::Q6_K, 18}};
  testing::TempDir dir;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(dtype_name(c.type)));
    GenModelOptions o = tiny_options(c.type);
    o.n_layer = 1;
    o.n_ff = 256;
    o.n_vocab = 259;
    StatusOr<GenModelSummary> s = gen_model(o, dir.file("m.gguf"));
    ASSERT_TRUE(s.ok()) << s.status().message();
    StatusOr<GgufFile> f = GgufFile::open(dir.file("m.gguf"));
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(*f->get_u32("general.file_type"), c.file_type);
    EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->dtype, c.type);
    EXPECT_EQ(f->find_tensor("output_norm.weight")->dtype, DType::F32);
    uint64_t bytes = 0;
    for (const GgufTensor& t : f->tensors()) bytes += t.bytes;
    EXPECT_EQ(bytes, s->n_bytes);
    // A dequantized weight row stays in the range of N(0, 1/256): |x| < 6 sd = 0.375.
    const GgufTensor* t = f->find_tensor("blk.0.attn_q.weight");
    std::vector<float> row(256);
    dequantize_row_ref(c.type, t->data, row.data(), 256);
    float amax = 0;
    for (float v : row) amax = std::max(amax, std::fabs(v));
    EXPECT_GT(amax, 0.1f);
    EXPECT_LT(amax, 0.375f);
  }
}

TEST(GenModelTest, BadShapesAreRefusedWithTheOptionNamed) {
  testing::TempDir dir;
  const std::string out = " -o " + shell_quote(dir.file("x.gguf"));
  struct Case {
    const char* flags;
    const char* message;
  };
  const Case cases[] = {
      {"--n-embd 256 --n-head 7", "n_head 7 does not divide n_embd 256"},
      {"--n-head 4 --n-head-kv 3", "n_head_kv 3 does not divide n_head 4"},
      {"--n-head 4 --n-head-kv 8", "n_head_kv is 8; it must be between 1 and n_head (4)"},
      {"--n-embd 96 --n-head 32", "head dimension n_embd / n_head = 3 must be even"},
      {"--n-embd 128 --type q4_K",
       "n_embd 128 is not a multiple of the q4_K block size 256 (token_embd.weight"},
      {"--n-ff 300 --type q8_0",
       "n_ff 300 is not a multiple of the q8_0 block size 32 (ffn_down.weight has rows of n_ff"},
      {"--n-vocab 100", "n_vocab 100 is too small"},
      {"--n-layer 0", "n_layer is 0; it must be between 1 and"},
      {"--n-embd -5", "n_embd is -5"},
      {"--arch gpt9", "unknown architecture 'gpt9' (gen-model knows: llama)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags);
    const testing::RunResult r = run_muse(std::string("gen-model ") + c.flags + out);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));

  // Usage errors: exit code 2.
  const Case usage[] = {
      {"--type q9_9", "unknown --type 'q9_9'"},
      {"--type q8_K", "unknown --type 'q8_K'"},  // activation-only format
      {"--n-embd 1k", "--n-embd: invalid value '1k'"},
      {"--bogus 1", "unknown option '--bogus'"},
  };
  for (const Case& c : usage) {
    SCOPED_TRACE(c.flags);
    const testing::RunResult r = run_muse(std::string("gen-model ") + c.flags + out);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
  }
  testing::RunResult r = run_muse("gen-model --n-embd 256");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "-o FILE is required")) << r.err;
  r = run_muse("gen-model --n-embd");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--n-embd needs a value")) << r.err;
  r = run_muse("gen-model --n-embd=256 --type=f16 -o " + shell_quote(dir.file("eq.gguf")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace muse
