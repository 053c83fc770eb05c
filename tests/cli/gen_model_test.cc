// `muse gen-model`: the file has exactly llama.cpp's tensors and keys (llama, qwen2moe,
// qwen3moe, deepseek2, and muse, which has deepseek2's), a valid SPM vocabulary, weights
// with the promised statistics, is a pure function of the options, and bad shapes are
// refused with a message naming the option. Expected names, shapes, types and keys are
// written out here by hand from llama.cpp's layouts (and the qwen2moe/deepseek2 fixtures
// its tools wrote), not derived from gen_model.cc.
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
      {"--n-embd 128 --type q2_K",
       "n_embd 128 is not a multiple of the q2_K block size 256 (token_embd.weight"},
      {"--n-ff 300 --type q8_0",
       "n_ff 300 is not a multiple of the q8_0 block size 32 (ffn_down.weight has rows of n_ff"},
      {"--n-vocab 100", "n_vocab 100 is too small"},
      {"--n-layer 0", "n_layer is 0; it must be between 1 and"},
      {"--n-embd -5", "n_embd is -5"},
      {"--arch gpt9",
       "unknown architecture 'gpt9' (gen-model knows: llama, qwen2moe, qwen3moe, deepseek2, "
       "muse)"},
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

// ---- Mixture-of-experts and MLA architectures ----

// A key the architecture must have: its GGUF type and value.
struct Key {
  std::string name;  // without the "<arch>." prefix
  GgufType type;
  double value;  // u32, f32, or bool as 0/1
};

// Checks every `<arch>.` key: exactly `want`, with the right types and values.
void expect_keys(const GgufFile& f, const std::string& arch, const std::vector<Key>& want) {
  size_t n_arch_keys = 0;
  for (const GgufKv& kv : f.kvs()) n_arch_keys += kv.key.starts_with(arch + ".");
  EXPECT_EQ(n_arch_keys, want.size());
  for (const Key& k : want) {
    SCOPED_TRACE(arch + "." + k.name);
    const GgufValue* v = f.find(arch + "." + k.name);
    ASSERT_NE(v, nullptr);
    ASSERT_EQ(v->type(), k.type);
    if (k.type == GgufType::kU32) {
      EXPECT_EQ(double(*v->as_uint()), k.value);
    } else if (k.type == GgufType::kF32) {
      EXPECT_EQ(*v->as_float(), double(float(k.value)));  // stored as f32
    } else {
      EXPECT_EQ(*v->as_bool(), k.value != 0);
    }
  }
}

// `want` in file order; `f32` tensors (norms, biases, routers) stay F32 whatever the type.
struct Tensor {
  std::string name;
  std::vector<int64_t> ne;
  bool f32;
};

void expect_tensors(const GgufFile& f, const std::vector<Tensor>& want, DType weight_type) {
  ASSERT_EQ(f.tensors().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const Tensor& e = want[i];
    SCOPED_TRACE(e.name);
    const GgufTensor& t = f.tensors()[i];
    EXPECT_EQ(t.name, e.name);
    ASSERT_EQ(t.n_dims, int(e.ne.size()));
    for (size_t d = 0; d < e.ne.size(); ++d) EXPECT_EQ(t.ne[d], e.ne[d]) << "dim " << d;
    EXPECT_EQ(dtype_name(t.dtype), dtype_name(e.f32 ? DType::F32 : weight_type));
  }
}

constexpr GgufType U32 = GgufType::kU32, F32 = GgufType::kF32, BOOL = GgufType::kBool;

// All four share n_embd 256, n_head 4 (Dh 64), n_ff 512, n_vocab 300, 4 experts of 64.
const char kMoeFlags[] =
    "--n-embd 256 --n-head 4 --n-ff 512 --n-vocab 300 --n-ctx 1024 --seed 7 --n-expert 4 "
    "--n-expert-used 2 --n-ff-exp 64";

// token_embd first, output_norm and output last, as llama.cpp's converters write them.
std::vector<Tensor> with_embeddings(const std::vector<Tensor>& blocks) {
  std::vector<Tensor> e = {{"token_embd.weight", {256, 300}, false}};
  e.insert(e.end(), blocks.begin(), blocks.end());
  e.push_back({"output_norm.weight", {256}, true});
  e.push_back({"output.weight", {256, 300}, false});
  return e;
}

// kMoeFlags + --n-layer 2 --n-head-kv 2 --n-ff-shexp 192: n_embd_kv 128, Fsh 192.
std::vector<Tensor> expected_qwen2moe_tensors() {
  std::vector<Tensor> e;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const std::vector<Tensor> block = {
        {p + "attn_norm.weight", {256}, true},
        {p + "attn_q.weight", {256, 256}, false},
        {p + "attn_k.weight", {256, 128}, false},
        {p + "attn_v.weight", {256, 128}, false},
        {p + "attn_q.bias", {256}, true},
        {p + "attn_k.bias", {128}, true},
        {p + "attn_v.bias", {128}, true},
        {p + "attn_output.weight", {256, 256}, false},
        {p + "ffn_norm.weight", {256}, true},
        {p + "ffn_gate_inp.weight", {256, 4}, true},
        {p + "ffn_gate_exps.weight", {256, 64, 4}, false},
        {p + "ffn_up_exps.weight", {256, 64, 4}, false},
        {p + "ffn_down_exps.weight", {64, 256, 4}, false},
        {p + "ffn_gate_inp_shexp.weight", {256}, true},
        {p + "ffn_gate_shexp.weight", {256, 192}, false},
        {p + "ffn_up_shexp.weight", {256, 192}, false},
        {p + "ffn_down_shexp.weight", {192, 256}, false},
    };
    e.insert(e.end(), block.begin(), block.end());
  }
  return with_embeddings(e);
}

// kMoeFlags + --n-layer 2 --n-head-kv 2: no biases, per-head q/k norms, no shared expert.
std::vector<Tensor> expected_qwen3moe_tensors() {
  std::vector<Tensor> e;
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const std::vector<Tensor> block = {
        {p + "attn_norm.weight", {256}, true},
        {p + "attn_q.weight", {256, 256}, false},
        {p + "attn_k.weight", {256, 128}, false},
        {p + "attn_v.weight", {256, 128}, false},
        {p + "attn_q_norm.weight", {64}, true},
        {p + "attn_k_norm.weight", {64}, true},
        {p + "attn_output.weight", {256, 256}, false},
        {p + "ffn_norm.weight", {256}, true},
        {p + "ffn_gate_inp.weight", {256, 4}, true},
        {p + "ffn_gate_exps.weight", {256, 64, 4}, false},
        {p + "ffn_up_exps.weight", {256, 64, 4}, false},
        {p + "ffn_down_exps.weight", {64, 256, 4}, false},
    };
    e.insert(e.end(), block.begin(), block.end());
  }
  return with_embeddings(e);
}

// MLA shapes of a deepseek2/muse model with 3 layers, the first dense.
struct MlaCase {
  int64_t q_lora;           // 0: full-rank attn_q
  int64_t kv_lora, q_head;  // q_head = qk_nope + qk_rope
  int64_t kv_a;             // kv_lora + qk_rope
  int64_t kv_b_head;        // qk_nope + v_head_dim
  int64_t v_head;
  int64_t n_shared;
  bool sigmoid;
};

std::vector<Tensor> expected_mla_tensors(const MlaCase& c) {
  std::vector<Tensor> e;
  for (int l = 0; l < 3; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    e.push_back({p + "attn_norm.weight", {256}, true});
    if (c.q_lora > 0) {
      e.push_back({p + "attn_q_a.weight", {256, c.q_lora}, false});
      e.push_back({p + "attn_q_a_norm.weight", {c.q_lora}, true});
      e.push_back({p + "attn_q_b.weight", {c.q_lora, 4 * c.q_head}, false});
    } else {
      e.push_back({p + "attn_q.weight", {256, 4 * c.q_head}, false});
    }
    e.push_back({p + "attn_kv_a_mqa.weight", {256, c.kv_a}, false});
    e.push_back({p + "attn_kv_a_norm.weight", {c.kv_lora}, true});
    e.push_back({p + "attn_kv_b.weight", {c.kv_lora, 4 * c.kv_b_head}, false});
    e.push_back({p + "attn_output.weight", {4 * c.v_head, 256}, false});
    e.push_back({p + "ffn_norm.weight", {256}, true});
    if (l == 0) {
      e.push_back({p + "ffn_gate.weight", {256, 512}, false});
      e.push_back({p + "ffn_up.weight", {256, 512}, false});
      e.push_back({p + "ffn_down.weight", {512, 256}, false});
      continue;
    }
    e.push_back({p + "ffn_gate_inp.weight", {256, 4}, true});
    if (c.sigmoid) e.push_back({p + "exp_probs_b.bias", {4}, true});
    e.push_back({p + "ffn_gate_exps.weight", {256, 64, 4}, false});
    e.push_back({p + "ffn_up_exps.weight", {256, 64, 4}, false});
    e.push_back({p + "ffn_down_exps.weight", {64, 256, 4}, false});
    if (c.n_shared > 0) {
      e.push_back({p + "ffn_gate_shexp.weight", {256, 64 * c.n_shared}, false});
      e.push_back({p + "ffn_up_shexp.weight", {256, 64 * c.n_shared}, false});
      e.push_back({p + "ffn_down_shexp.weight", {64 * c.n_shared, 256}, false});
    }
  }
  return with_embeddings(e);
}

// Writes `flags` through the CLI as f32 and q8_0, checks `muse info` reads the q8_0 file,
// and hands both files to `check`.
template <typename Check>
void for_f32_and_q8_0(const std::string& flags, Check check) {
  testing::TempDir dir;
  for (DType type : {DType::F32, DType::Q8_0}) {
    const std::string type_name(dtype_name(type));
    SCOPED_TRACE(type_name);
    const std::string path = dir.file(type_name + ".gguf");
    testing::RunResult r =
        run_muse("gen-model " + flags + " --type " + type_name + " -o " + shell_quote(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_muse("info " + shell_quote(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "metadata")) << r.out;
    StatusOr<GgufFile> f = GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(*f->get_u32("general.file_type"), type == DType::F32 ? 0u : 7u);
    EXPECT_EQ(f->find("general.quantization_version") != nullptr, type == DType::Q8_0);
    check(*f, type);
  }
}

TEST(GenModelMoeTest, Qwen2MoeTensorsAndKeys) {
  for_f32_and_q8_0(std::string(kMoeFlags) +
                       " --arch qwen2moe --n-layer 2 --n-head-kv 2 "
                       "--n-ff-shexp 192",
                   [](const GgufFile& f, DType type) {
                     EXPECT_EQ(*f.get_string("general.architecture"), "qwen2moe");
                     expect_keys(f, "qwen2moe",
                                 {{"context_length", U32, 1024},
                                  {"embedding_length", U32, 256},
                                  {"block_count", U32, 2},
                                  {"feed_forward_length", U32, 512},
                                  {"attention.head_count", U32, 4},
                                  {"attention.head_count_kv", U32, 2},
                                  {"rope.freq_base", F32, 10000},
                                  {"attention.layer_norm_rms_epsilon", F32, 1e-5f},
                                  {"expert_count", U32, 4},
                                  {"expert_used_count", U32, 2},
                                  {"expert_feed_forward_length", U32, 64},
                                  {"expert_shared_feed_forward_length", U32, 192}});
                     expect_tensors(f, expected_qwen2moe_tensors(), type);
                   });
}

TEST(GenModelMoeTest, Qwen2MoeSharedExpertWidthDefaultsToExperts) {
  testing::TempDir dir;
  GenModelOptions o = tiny_options(DType::F32);
  o.arch = "qwen2moe";
  o.n_expert = 4;
  o.n_ff_exp = 64;
  o.n_expert_shared = 3;
  ASSERT_TRUE(gen_model(o, dir.file("m.gguf")).ok());
  StatusOr<GgufFile> f = GgufFile::open(dir.file("m.gguf"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_u32("qwen2moe.expert_shared_feed_forward_length"), 192u);
  EXPECT_EQ(f->find_tensor("blk.1.ffn_down_shexp.weight")->ne[0], 192);
  o.n_expert_shared = -1;  // the default: one expert's width
  o.n_ff_exp = 0;          // n_ff / 4 = 128
  ASSERT_TRUE(gen_model(o, dir.file("m.gguf")).ok());
  f = GgufFile::open(dir.file("m.gguf"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_u32("qwen2moe.expert_feed_forward_length"), 128u);
  EXPECT_EQ(*f->get_u32("qwen2moe.expert_shared_feed_forward_length"), 128u);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_gate_exps.weight")->ne[1], 128);
}

TEST(GenModelMoeTest, Qwen3MoeTensorsAndKeys) {
  for_f32_and_q8_0(std::string(kMoeFlags) + " --arch qwen3moe --n-layer 2 --n-head-kv 2",
                   [](const GgufFile& f, DType type) {
                     EXPECT_EQ(*f.get_string("general.architecture"), "qwen3moe");
                     expect_keys(f, "qwen3moe",
                                 {{"context_length", U32, 1024},
                                  {"embedding_length", U32, 256},
                                  {"block_count", U32, 2},
                                  {"feed_forward_length", U32, 512},
                                  {"attention.head_count", U32, 4},
                                  {"attention.head_count_kv", U32, 2},
                                  {"rope.freq_base", F32, 10000},
                                  {"attention.layer_norm_rms_epsilon", F32, 1e-5f},
                                  {"expert_count", U32, 4},
                                  {"expert_used_count", U32, 2},
                                  {"expert_feed_forward_length", U32, 64},
                                  {"attention.key_length", U32, 64},
                                  {"attention.value_length", U32, 64}});
                     expect_tensors(f, expected_qwen3moe_tensors(), type);
                   });
}

// Low-rank q, 2 shared experts, sigmoid gating with its selection bias.
const char kDeepseek2Flags[] =
    " --arch deepseek2 --n-layer 3 --n-leading-dense 1 --n-expert-shared 2 --q-lora-rank 96 "
    "--kv-lora-rank 64 --qk-nope 32 --qk-rope 32 --v-head-dim 32 --expert-gating sigmoid "
    "--expert-weights-norm --expert-weights-scale 2.5";

TEST(GenModelMoeTest, Deepseek2TensorsAndKeys) {
  for_f32_and_q8_0(std::string(kMoeFlags) + kDeepseek2Flags, [](const GgufFile& f, DType type) {
    EXPECT_EQ(*f.get_string("general.architecture"), "deepseek2");
    expect_keys(f, "deepseek2",
                {{"context_length", U32, 1024},
                 {"embedding_length", U32, 256},
                 {"block_count", U32, 3},
                 {"feed_forward_length", U32, 512},
                 {"attention.head_count", U32, 4},
                 {"attention.head_count_kv", U32, 4},
                 {"rope.freq_base", F32, 10000},
                 {"attention.layer_norm_rms_epsilon", F32, 1e-5f},
                 {"expert_count", U32, 4},
                 {"expert_used_count", U32, 2},
                 {"expert_feed_forward_length", U32, 64},
                 {"leading_dense_block_count", U32, 1},
                 {"expert_shared_count", U32, 2},
                 {"expert_weights_scale", F32, 2.5},
                 {"expert_weights_norm", BOOL, 1},
                 {"expert_gating_func", U32, 2},
                 {"attention.q_lora_rank", U32, 96},
                 {"attention.kv_lora_rank", U32, 64},
                 {"attention.key_length", U32, 64},
                 {"attention.value_length", U32, 32},
                 {"rope.dimension_count", U32, 32},
                 {"rope.scaling.yarn_log_multiplier", F32, 0}});
    expect_tensors(f,
                   expected_mla_tensors({.q_lora = 96,
                                         .kv_lora = 64,
                                         .q_head = 64,
                                         .kv_a = 96,
                                         .kv_b_head = 64,
                                         .v_head = 32,
                                         .n_shared = 2,
                                         .sigmoid = true}),
                   type);
  });
}

// Full-rank q, no shared expert, softmax gating, MLA widths from Dh = 64: kv_lora_rank
// 4 * 64, qk_nope 64, qk_rope 32, v_head_dim 64. No q_lora_rank key: llama.cpp reads its
// absence as full rank.
TEST(GenModelMoeTest, Deepseek2DefaultsAndFullRankQ) {
  for_f32_and_q8_0(std::string(kMoeFlags) + " --arch deepseek2 --n-layer 3 --n-expert-shared 0",
                   [](const GgufFile& f, DType type) {
                     EXPECT_EQ(f.find("deepseek2.attention.q_lora_rank"), nullptr);
                     EXPECT_EQ(*f.get_u32("deepseek2.attention.kv_lora_rank"), 256u);
                     EXPECT_EQ(*f.get_u32("deepseek2.attention.key_length"), 96u);
                     EXPECT_EQ(*f.get_u32("deepseek2.attention.value_length"), 64u);
                     EXPECT_EQ(*f.get_u32("deepseek2.rope.dimension_count"), 32u);
                     EXPECT_EQ(*f.get_u32("deepseek2.leading_dense_block_count"), 1u);
                     EXPECT_EQ(*f.get_u32("deepseek2.expert_shared_count"), 0u);
                     EXPECT_EQ(*f.get_u32("deepseek2.expert_gating_func"), 1u);
                     EXPECT_EQ(*f.get_bool("deepseek2.expert_weights_norm"), false);
                     EXPECT_EQ(*f.get_f32("deepseek2.expert_weights_scale"), 1.0f);
                     expect_tensors(f,
                                    expected_mla_tensors({.q_lora = 0,
                                                          .kv_lora = 256,
                                                          .q_head = 96,
                                                          .kv_a = 288,
                                                          .kv_b_head = 128,
                                                          .v_head = 64,
                                                          .n_shared = 0,
                                                          .sigmoid = false}),
                                    type);
                   });
}

// muse has deepseek2's tensors; its keys always carry q_lora_rank (0 = full rank) and no
// yarn multiplier.
TEST(GenModelMoeTest, MuseTensorsAndKeys) {
  for_f32_and_q8_0(
      std::string(kMoeFlags) +
          " --arch muse --n-layer 3 --kv-lora-rank 64 --qk-nope 32 --qk-rope 32 --v-head-dim 32 "
          "--expert-gating sigmoid",
      [](const GgufFile& f, DType type) {
        EXPECT_EQ(*f.get_string("general.architecture"), "muse");
        expect_keys(f, "muse",
                    {{"context_length", U32, 1024},
                     {"embedding_length", U32, 256},
                     {"block_count", U32, 3},
                     {"feed_forward_length", U32, 512},
                     {"attention.head_count", U32, 4},
                     {"attention.head_count_kv", U32, 4},
                     {"rope.freq_base", F32, 10000},
                     {"attention.layer_norm_rms_epsilon", F32, 1e-5f},
                     {"expert_count", U32, 4},
                     {"expert_used_count", U32, 2},
                     {"expert_feed_forward_length", U32, 64},
                     {"leading_dense_block_count", U32, 1},
                     {"expert_shared_count", U32, 1},
                     {"expert_weights_scale", F32, 1},
                     {"expert_weights_norm", BOOL, 0},
                     {"expert_gating_func", U32, 2},
                     {"attention.q_lora_rank", U32, 0},
                     {"attention.kv_lora_rank", U32, 64},
                     {"attention.key_length", U32, 64},
                     {"attention.value_length", U32, 32},
                     {"rope.dimension_count", U32, 32}});
        expect_tensors(f,
                       expected_mla_tensors({.q_lora = 0,
                                             .kv_lora = 64,
                                             .q_head = 64,
                                             .kv_a = 96,
                                             .kv_b_head = 64,
                                             .v_head = 32,
                                             .n_shared = 1,
                                             .sigmoid = true}),
                       type);
      });
}

TEST(GenModelMoeTest, DeterministicAcrossThreadCounts) {
  testing::TempDir dir;
  const std::string archs[] = {
      " --arch qwen2moe --n-layer 2",
      " --arch qwen3moe --n-layer 2",
      std::string(kDeepseek2Flags),
      " --arch muse --n-layer 2 --n-leading-dense 0 --expert-gating sigmoid",
  };
  for (const std::string& arch : archs) {
    SCOPED_TRACE(arch);
    std::vector<uint8_t> first;
    for (const char* threads : {"1", "2"}) {
      const std::string path = dir.file(std::string("t") + threads + ".gguf");
      const testing::RunResult r =
          run_muse(std::string("gen-model ") + kMoeFlags + arch + " --type q8_0 --threads " +
                   threads + " -o " + shell_quote(path));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      // Expert stacks [256, 64, 4] have 65536 elements: they are split over the threads.
      if (first.empty()) {
        first = testing::read_bytes(path);
        ASSERT_GT(first.size(), 500000u);
      } else {
        EXPECT_TRUE(first == testing::read_bytes(path));
      }
    }
  }
}

// Norms 1, biases N(0, 0.01^2), routers and weights N(0, 1/fan_in) (ne0 is the fan-in of
// every matrix and of every expert in a stack).
TEST(GenModelMoeTest, WeightStatistics) {
  testing::TempDir dir;
  for (const char* arch : {"qwen2moe", "deepseek2"}) {
    SCOPED_TRACE(arch);
    GenModelOptions o = tiny_options(DType::F32);
    o.arch = arch;
    o.n_layer = 2;
    o.n_expert = 8;
    o.expert_gating = o.arch == "deepseek2" ? ExpertGating::kSigmoid : ExpertGating::kSoftmax;
    ASSERT_TRUE(gen_model(o, dir.file("m.gguf")).ok());
    StatusOr<GgufFile> f = GgufFile::open(dir.file("m.gguf"));
    ASSERT_TRUE(f.ok()) << f.status().message();
    int n_bias = 0, n_router = 0;
    for (const GgufTensor& t : f->tensors()) {
      const std::string name(t.name);
      SCOPED_TRACE(name);
      ASSERT_EQ(t.dtype, DType::F32);
      const float* x = static_cast<const float*>(t.data);
      const int64_t n = t.n_elements();
      if (contains(name, "norm")) {
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(x[i], 1.0f);
        continue;
      }
      const bool bias = contains(name, ".bias");
      n_bias += bias;
      n_router += contains(name, "ffn_gate_inp");
      double sum = 0, sum2 = 0;
      for (int64_t i = 0; i < n; ++i) {
        sum += x[i];
        sum2 += double(x[i]) * x[i];
      }
      const double want_var = bias ? 1e-4 : 1.0 / double(t.ne[0]);
      // 6 standard errors of the mean and of the variance (the seed is fixed: no flakes).
      EXPECT_NEAR(sum / n, 0.0, 6.0 * std::sqrt(want_var / n));
      EXPECT_NEAR(sum2 / n / want_var, 1.0, 6.0 * std::sqrt(2.0 / n) + 1.0 / n);
    }
    // qwen2moe: 3 biases and 2 routers per block; deepseek2: exp_probs_b and ffn_gate_inp in
    // the MoE block (block 1).
    EXPECT_EQ(n_bias, o.arch == "qwen2moe" ? 6 : 1);
    EXPECT_EQ(n_router, o.arch == "qwen2moe" ? 4 : 1);
  }
}

// Rows that are not whole 256-blocks take llama-quantize's fallback type, per tensor.
TEST(GenModelMoeTest, KQuantRowFallbacks) {
  testing::TempDir dir;
  const std::string path = dir.file("m.gguf");
  // q_lora_rank 96, kv_lora_rank 64, H * v_head_dim = 128, n_ff_exp 64 and Fsh 128 are
  // not multiples of 256; n_embd 256 and n_ff 512 are.
  testing::RunResult r = run_muse(std::string("gen-model ") + kMoeFlags + kDeepseek2Flags +
                                  " --type q4_K -o " + shell_quote(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Per MoE block: q_b, kv_b, output, down_exps, down_shexp; per dense block q_b, kv_b, output.
  EXPECT_TRUE(contains(r.out, "13 with rows not whole q4_K blocks in a fallback type")) << r.out;
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->get_u32("general.file_type"), 14u);  // LLAMA_FTYPE_MOSTLY_Q4_K_S
  const std::pair<const char*, DType> want[] = {
      {"token_embd.weight", DType::Q4_K},
      {"blk.0.attn_q_a.weight", DType::Q4_K},
      {"blk.0.attn_q_b.weight", DType::Q5_0},
      {"blk.0.attn_kv_a_mqa.weight", DType::Q4_K},
      {"blk.0.attn_kv_b.weight", DType::Q5_0},
      {"blk.0.attn_output.weight", DType::Q5_0},
      {"blk.0.ffn_down.weight", DType::Q4_K},
      {"blk.1.ffn_gate_exps.weight", DType::Q4_K},
      {"blk.1.ffn_down_exps.weight", DType::Q5_0},
      {"blk.2.ffn_down_shexp.weight", DType::Q5_0},
      {"blk.2.ffn_gate_inp.weight", DType::F32},
      {"blk.2.exp_probs_b.bias", DType::F32},
      {"output.weight", DType::Q4_K},
  };
  for (const auto& [name, type] : want) {
    ASSERT_NE(f->find_tensor(name), nullptr) << name;
    EXPECT_EQ(dtype_name(f->find_tensor(name)->dtype), dtype_name(type)) << name;
  }
  // q5_K -> q5_1 and q6_K -> q8_0, as in `muse quantize`.
  for (const auto& [type, fallback] :
       {std::pair{DType::Q5_K, DType::Q5_1}, std::pair{DType::Q6_K, DType::Q8_0}}) {
    GenModelOptions o = tiny_options(type);
    o.arch = "qwen3moe";
    o.n_expert = 4;
    o.n_ff_exp = 96;
    ASSERT_TRUE(gen_model(o, path).ok());
    f = GgufFile::open(path);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->find_tensor("blk.0.ffn_down_exps.weight")->dtype, fallback);
    EXPECT_EQ(f->find_tensor("blk.0.ffn_up_exps.weight")->dtype, type);
  }
  // llama too: n_embd 128 is no whole q4_K block, so every weight is q5_0.
  GenModelOptions o = tiny_options(DType::Q4_K);
  o.n_embd = 128;
  o.n_ff = 256;
  StatusOr<GenModelSummary> s = gen_model(o, path);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->n_fallback, 2 + 2 * 6);  // token_embd, output, attn_* and ffn_{gate,up}
  f = GgufFile::open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->dtype, DType::Q4_K);  // rows of 256
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->dtype, DType::Q5_0);
}

TEST(GenModelMoeTest, BadOptionsAreRefusedWithTheOptionNamed) {
  testing::TempDir dir;
  const std::string out = " -o " + shell_quote(dir.file("x.gguf"));
  struct Case {
    const char* flags;
    const char* message;
  };
  const Case cases[] = {
      {"--arch qwen2moe --n-expert 8 --n-expert-used 9", "n_expert_used 9 exceeds n_expert 8"},
      {"--arch deepseek2 --n-expert 0", "n_expert is 0; it must be between 1 and 512"},
      {"--arch muse --n-expert 1000", "n_expert is 1000; it must be between 1 and 512"},
      {"--arch qwen3moe --n-expert-used 0", "n_expert_used is 0"},
      {"--arch qwen3moe --n-expert-shared 1", "qwen3moe has no shared expert"},
      {"--arch qwen3moe --n-ff-shexp 128", "qwen3moe has no shared expert"},
      {"--arch qwen2moe --n-expert-shared 0", "qwen2moe always has a shared expert"},
      {"--arch qwen2moe --expert-gating sigmoid",
       "expert_gating sigmoid: qwen2moe has no expert_gating_func key"},
      {"--arch deepseek2 --n-layer 2 --n-leading-dense 3",
       "n_leading_dense 3 must be between 0 and n_layer 2"},
      {"--arch deepseek2 --n-ff-exp 64 --n-ff-shexp 100",
       "n_ff_shexp 100 does not fit deepseek2: its shared experts are n_ff_exp * "
       "n_expert_shared = 64 wide"},
      {"--arch deepseek2 --kv-lora-rank 100 --type q8_0",
       "kv_lora_rank 100 is not a multiple of the q8_0 block size 32 (attn_kv_b.weight has rows "
       "of kv_lora_rank elements)"},
      {"--arch deepseek2 --q-lora-rank 48 --type q8_0",
       "q_lora_rank 48 is not a multiple of the q8_0 block size 32 (attn_q_b.weight"},
      {"--arch muse --v-head-dim 36 --type q4_0",
       "n_head * v_head_dim 144 is not a multiple of the q4_0 block size 32 (attn_output.weight"},
      {"--arch qwen2moe --n-ff-exp 100 --type q8_0",
       "n_ff_exp 100 is not a multiple of the q8_0 block size 32 (ffn_down_exps.weight"},
      {"--arch qwen2moe --n-ff-exp 64 --n-ff-shexp 80 --type q8_0",
       "n_ff_shexp 80 is not a multiple of the q8_0 block size 32 (ffn_down_shexp.weight"},
      {"--arch deepseek2 --kv-lora-rank 64 --type q3_K",
       "kv_lora_rank 64 is not a multiple of the q3_K block size 256"},
      {"--arch qwen3moe --n-ff 3", "n_ff_exp is 0; ffn_gate_exps.weight needs it positive"},
      {"--arch deepseek2 --qk-rope 31", "qk_rope 31 must be even"},
      {"--arch muse --n-embd 48 --n-head 8", "qk_rope 3 (n_embd / n_head / 2) must be even"},
      {"--arch muse --q-lora-rank -1", "q_lora_rank is -1"},
      {"--arch muse --kv-lora-rank 2000000", "kv_lora_rank is 2000000"},
      {"--arch deepseek2 --expert-weights-scale 0", "expert_weights_scale must be positive"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags);
    const testing::RunResult r = run_muse(std::string("gen-model ") + c.flags + out);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));

  const Case usage[] = {
      {"--arch deepseek2 --expert-gating relu", "unknown --expert-gating 'relu'"},
      {"--n-expert-shared -1", "--n-expert-shared: invalid value '-1'"},
      {"--expert-weights-norm=maybe", "--expert-weights-norm: invalid value 'maybe'"},
      {"--n-expert 8x", "--n-expert: invalid value '8x'"},
  };
  for (const Case& c : usage) {
    SCOPED_TRACE(c.flags);
    const testing::RunResult r = run_muse(std::string("gen-model ") + c.flags + out);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(contains(r.err, c.message)) << r.err;
  }
  // The bare flag and its `=false` form.
  const std::string path = dir.file("n.gguf");
  for (const char* flag : {"--expert-weights-norm", "--expert-weights-norm=false"}) {
    const testing::RunResult r = run_muse(std::string("gen-model --arch muse --n-layer 1 ") + flag +
                                          " -o " + shell_quote(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    StatusOr<GgufFile> f = GgufFile::open(path);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*f->get_bool("muse.expert_weights_norm"), !contains(flag, "false")) << flag;
  }
}

TEST(GenModelMoeTest, HelpListsTheNewFlags) {
  const testing::RunResult r = run_muse("gen-model --help");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--n-expert ", "--n-expert-used", "--n-expert-shared", "--n-ff-exp", "--n-ff-shexp",
        "--n-leading-dense", "--expert-gating", "--expert-weights-norm", "--expert-weights-scale",
        "--q-lora-rank", "--kv-lora-rank", "--qk-nope", "--qk-rope", "--v-head-dim", "qwen2moe",
        "qwen3moe", "deepseek2", "muse"}) {
    EXPECT_TRUE(contains(r.out, flag)) << flag << "\n" << r.out;
  }
}

}  // namespace
}  // namespace muse
