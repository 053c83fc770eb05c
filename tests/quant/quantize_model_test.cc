// quantize_model / `muse quantize`: the per-tensor type rules (on synthetic models, expected
// types written out by hand from llama.cpp's llama-quant.cpp), byte-level agreement with
// the Q8_0/Q4_0 fixtures llama.cpp's tools made from llama-spm-tiny-f32, the type choices
// of llama-quantize's Q4_K_M fixture, metadata preservation, and error handling.
#include "quant/quantize_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/run_util.h"
#include "core/fp16.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "gguf/test_util.h"
#include "model/gen_model.h"
#include "quant/quant.h"
#include "quant_test_util.h"

namespace muse {
namespace {

using testing::fixture;
using testing::run_muse;
using testing::shell_quote;
using testing::TempDir;

bool contains(const std::string& s, const std::string& sub) {
  return s.find(sub) != std::string::npos;
}

std::vector<float> dequantized(const GgufTensor& t) {
  std::vector<float> out(size_t(t.n_elements()));
  dequantize_row_ref(t.dtype, t.data, out.data(), t.n_elements());
  return out;
}

// ---- synthetic models ----

struct Spec {
  std::string name;
  std::vector<int64_t> ne;
  DType type = DType::F32;
};

struct ModelKeys {
  int n_layer = 0;
  int n_expert = 0;  // written only when > 0
};

// Writes F32/F16/BF16 tensors of Gaussian values (seeded by position, so reproducible).
void write_model(const std::string& path, const ModelKeys& keys, const std::vector<Spec>& specs) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "quantize-test");
  w.set_u32("llama.block_count", uint32_t(keys.n_layer));
  if (keys.n_expert > 0) w.set_u32("llama.expert_count", uint32_t(keys.n_expert));
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < specs.size(); ++i) {
    int64_t n = 1;
    for (int64_t d : specs[i].ne) n *= d;
    const std::vector<float> x = test::Gaussian(uint32_t(100 + i)).Row(n, 0.05f);
    std::vector<uint8_t> bytes(row_bytes(specs[i].type, n));
    quantize_row_ref(specs[i].type, x.data(), bytes.data(), n);
    data.push_back(std::move(bytes));
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    ASSERT_TRUE(w.add_tensor(specs[i].name, specs[i].type, specs[i].ne, data[i].data()).ok());
  }
  ASSERT_TRUE(w.write(path).ok());
}

// A llama-shaped model with `n_layer` layers, n_embd 256, 8 rows per matrix (the rules look
// at names and row lengths only), stored in reverse order so that a rule counting tensors
// in file order, or sorting "blk.10" before "blk.2", would be caught.
std::vector<Spec> llama_specs(int n_layer, bool with_output) {
  std::vector<Spec> s = {{"token_embd.weight", {256, 8}}, {"output_norm.weight", {256}}};
  if (with_output) s.push_back({"output.weight", {256, 8}});
  for (int l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* m :
         {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
      s.push_back({p + m + ".weight", {256, 8}});
    }
    s.push_back({p + "attn_norm.weight", {256}});
    s.push_back({p + "ffn_norm.weight", {256}});
  }
  std::reverse(s.begin(), s.end());
  return s;
}

std::map<std::string, DType> planned_types(const std::string& path, QuantizeOptions opts) {
  std::map<std::string, DType> out;
  StatusOr<GgufFile> f = GgufFile::open(path);
  EXPECT_TRUE(f.ok()) << f.status().message();
  if (!f.ok()) return out;
  StatusOr<std::vector<TensorPlan>> plans = plan_quantization(*f, opts);
  EXPECT_TRUE(plans.ok()) << plans.status().message();
  if (!plans.ok()) return out;
  for (const TensorPlan& p : *plans) out[p.name] = p.dst_type;
  return out;
}

int layer_of(const std::string& name) {
  return name.rfind("blk.", 0) == 0 ? std::stoi(name.substr(4)) : -1;
}

// llama.cpp's choices for a 12-layer llama, derived by hand: use_more_bits(i, 12) holds for
// i < 1, i >= 10, and (i - 1) % 3 == 2, i.e. layers {0, 3, 6, 9, 10, 11}.
DType expected_12_layer(QuantMix mix, const std::string& name) {
  if (contains(name, "norm")) return DType::F32;
  const std::set<int> more_bits = {0, 3, 6, 9, 10, 11};
  const int layer = layer_of(name);
  const bool v_or_down = contains(name, "attn_v") || contains(name, "ffn_down");
  const bool output = name == "output.weight";
  switch (mix) {
    case QuantMix::kQ8_0:
      return DType::Q8_0;
    case QuantMix::kQ4_0:
      return output ? DType::Q6_K : DType::Q4_0;
    case QuantMix::kQ6_K:
      return DType::Q6_K;
    case QuantMix::kQ5_K_S:
      return output ? DType::Q6_K : DType::Q5_K;
    case QuantMix::kQ4_K_S:
      if (output) return DType::Q6_K;
      if (contains(name, "attn_v") && layer < 4) return DType::Q5_K;
      if (contains(name, "ffn_down") && layer < 1) return DType::Q5_K;
      return DType::Q4_K;
    case QuantMix::kQ4_K_M:
    case QuantMix::kQ5_K_M:
      if (output || (v_or_down && more_bits.count(layer))) return DType::Q6_K;
      return mix == QuantMix::kQ4_K_M ? DType::Q4_K : DType::Q5_K;
  }
  return DType::F32;
}

TEST(QuantMixTest, NamesAndFileTypes) {
  EXPECT_EQ(quant_mix_from_name("q4_k_m"), QuantMix::kQ4_K_M);
  EXPECT_EQ(quant_mix_from_name("Q4_K"), QuantMix::kQ4_K_M);
  EXPECT_EQ(quant_mix_from_name("q5_k"), QuantMix::kQ5_K_M);
  EXPECT_EQ(quant_mix_from_name("Q5_K_S"), QuantMix::kQ5_K_S);
  EXPECT_FALSE(quant_mix_from_name("Q3_K_M").has_value());
  EXPECT_FALSE(quant_mix_from_name("").has_value());
  // llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers.
  const std::map<std::string, uint32_t> ftype = {{"Q8_0", 7},    {"Q4_0", 2},    {"Q4_K_S", 14},
                                                 {"Q4_K_M", 15}, {"Q5_K_S", 16}, {"Q5_K_M", 17},
                                                 {"Q6_K", 18}};
  ASSERT_EQ(quant_mixes().size(), ftype.size());
  for (const QuantMixInfo& m : quant_mixes()) {
    EXPECT_EQ(uint32_t(m.mix), ftype.at(std::string(m.name))) << m.name;
    EXPECT_EQ(quant_mix_from_name(m.name), m.mix);
  }
}

TEST(QuantizePlanTest, TwelveLayerLlamaEveryMix) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  write_model(path, {.n_layer = 12}, llama_specs(12, true));
  for (const QuantMixInfo& m : quant_mixes()) {
    const std::map<std::string, DType> types = planned_types(path, {.mix = m.mix});
    ASSERT_EQ(types.size(), 3u + 12 * 9);
    for (const auto& [name, type] : types) {
      EXPECT_EQ(dtype_name(type), dtype_name(expected_12_layer(m.mix, name)))
          << m.name << " " << name;
    }
  }
}

TEST(QuantizePlanTest, PureGivesEveryMatrixTheBaseType) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  write_model(path, {.n_layer = 12}, llama_specs(12, true));
  for (QuantMix mix : {QuantMix::kQ4_0, QuantMix::kQ4_K_M}) {
    const DType base = quant_mix_info(mix).base;
    for (const auto& [name, type] : planned_types(path, {.mix = mix, .pure = true}))
      EXPECT_EQ(type, contains(name, "norm") ? DType::F32 : base) << name;
  }
}

TEST(QuantizePlanTest, TiedEmbeddingsTakeTheOutputType) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  write_model(path, {.n_layer = 2}, llama_specs(2, /*with_output=*/false));
  EXPECT_EQ(planned_types(path, {.mix = QuantMix::kQ4_K_M})["token_embd.weight"], DType::Q6_K);
  EXPECT_EQ(planned_types(path, {.mix = QuantMix::kQ4_0})["token_embd.weight"], DType::Q6_K);
  EXPECT_EQ(planned_types(path, {.mix = QuantMix::kQ8_0})["token_embd.weight"], DType::Q8_0);
}

TEST(QuantizePlanTest, RowLengthFallbacks) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  // 2 layers: use_more_bits(1, 2) holds, so layer 1's attn_v / ffn_down want Q6_K.
  write_model(path, {.n_layer = 2},
              {{"output.weight", {384, 4}},
               {"token_embd.weight", {96, 4}},
               {"blk.0.attn_q.weight", {384, 4}},
               {"blk.0.ffn_down.weight", {48, 4}},
               {"blk.1.attn_v.weight", {384, 4}},
               {"blk.1.ffn_down.weight", {96, 4}}});
  std::map<std::string, DType> t = planned_types(path, {.mix = QuantMix::kQ4_K_M});
  EXPECT_EQ(t["output.weight"], DType::Q8_0);      // base block 256 does not divide 384
  EXPECT_EQ(t["token_embd.weight"], DType::Q5_0);  // Q4_K -> Q5_0
  EXPECT_EQ(t["blk.0.attn_q.weight"], DType::Q5_0);
  EXPECT_EQ(t["blk.0.ffn_down.weight"], DType::F16);  // not even a multiple of 32
  EXPECT_EQ(t["blk.1.attn_v.weight"], DType::Q8_0);   // Q6_K -> Q8_0
  EXPECT_EQ(t["blk.1.ffn_down.weight"], DType::Q8_0);
  t = planned_types(path, {.mix = QuantMix::kQ5_K_S});
  EXPECT_EQ(t["blk.0.attn_q.weight"], DType::Q5_1);  // Q5_K -> Q5_1
  t = planned_types(path, {.mix = QuantMix::kQ8_0});
  EXPECT_EQ(t["blk.0.ffn_down.weight"], DType::F16);
  EXPECT_EQ(t["output.weight"], DType::Q8_0);
}

TEST(QuantizePlanTest, EightExpertModel) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  write_model(path, {.n_layer = 2, .n_expert = 8},
              {{"output.weight", {256, 4}},
               {"blk.0.attn_v.weight", {256, 4}},
               {"blk.0.attn_k.weight", {256, 4}},
               {"blk.0.attn_output.weight", {256, 4}},
               {"blk.0.ffn_gate_inp.weight", {256, 8}},
               {"blk.0.ffn_down_exps.weight", {256, 4, 8}},
               {"blk.1.ffn_down_exps.weight", {256, 4, 8}}});
  std::map<std::string, DType> t = planned_types(path, {.mix = QuantMix::kQ4_K_M});
  EXPECT_EQ(t["blk.0.attn_v.weight"], DType::Q8_0);
  EXPECT_EQ(t["blk.0.attn_k.weight"], DType::Q8_0);
  EXPECT_EQ(t["blk.0.attn_output.weight"], DType::Q5_K);
  EXPECT_EQ(t["blk.0.ffn_gate_inp.weight"], DType::F32);  // the router is never quantized
  EXPECT_EQ(t["blk.0.ffn_down_exps.weight"], DType::Q4_K);
  EXPECT_EQ(t["blk.1.ffn_down_exps.weight"], DType::Q6_K);
  t = planned_types(path, {.mix = QuantMix::kQ4_0});
  EXPECT_EQ(t["blk.0.attn_v.weight"], DType::Q8_0);
  EXPECT_EQ(t["blk.0.attn_output.weight"], DType::Q4_0);
}

// llama-quantize never quantizes what picks the experts: the router, qwen2moe's shared-
// expert gate and DeepSeek-V3's selection bias (2-D here, so that only the names keep them).
TEST(QuantizePlanTest, RoutersAreNeverQuantized) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  write_model(path, {.n_layer = 1, .n_expert = 4},
              {{"blk.0.ffn_gate_inp.weight", {256, 4}},
               {"blk.0.ffn_gate_inp_shexp.weight", {256, 4}},
               {"blk.0.exp_probs_b.weight", {256, 4}},
               {"blk.0.ffn_gate_shexp.weight", {256, 4}},
               {"blk.0.ffn_up_exps.weight", {256, 4, 4}}});
  for (const QuantMixInfo& m : quant_mixes()) {
    std::map<std::string, DType> t = planned_types(path, {.mix = m.mix});
    EXPECT_EQ(t["blk.0.ffn_gate_inp.weight"], DType::F32) << m.name;
    EXPECT_EQ(t["blk.0.ffn_gate_inp_shexp.weight"], DType::F32) << m.name;
    EXPECT_EQ(t["blk.0.exp_probs_b.weight"], DType::F32) << m.name;
    EXPECT_EQ(t["blk.0.ffn_gate_shexp.weight"], m.base) << m.name;
    EXPECT_EQ(t["blk.0.ffn_up_exps.weight"], m.base) << m.name;
  }
}

// ---- conversion ----

// `muse gen-model`'s MoE models through the quantizer: routers, the shared-expert gate and
// the selection bias are copied byte for byte; a 3-D expert stack [ne0, ne1, E] is ne1 * E
// rows of ne0, quantized like any matrix, with llama.cpp's per-layer ffn_down choice.
TEST(QuantizeModelTest, GenModelMoeExpertsQuantizedRoutersKept) {
  TempDir dir;
  ThreadPool pool(2);
  for (const char* arch : {"qwen2moe", "deepseek2"}) {
    SCOPED_TRACE(arch);
    GenModelOptions g;
    g.arch = arch;
    g.n_embd = 256;
    g.n_layer = 2;
    g.n_head = 4;
    g.n_ff = 512;
    g.n_vocab = 300;
    g.n_expert = 4;
    g.n_ff_exp = 256;
    g.n_leading_dense = 1;  // deepseek2: block 0 dense, block 1 MoE
    g.expert_gating = g.arch == "deepseek2" ? ExpertGating::kSigmoid : ExpertGating::kSoftmax;
    ASSERT_TRUE(gen_model(g, dir.file("f32.gguf")).ok());
    StatusOr<QuantizeSummary> s =
        quantize_model(dir.file("f32.gguf"), dir.file("q.gguf"), {.mix = QuantMix::kQ4_K_M}, pool);
    ASSERT_TRUE(s.ok()) << s.status().message();
    StatusOr<GgufFile> in = GgufFile::open(dir.file("f32.gguf"));
    StatusOr<GgufFile> out = GgufFile::open(dir.file("q.gguf"));
    ASSERT_TRUE(in.ok() && out.ok());
    ASSERT_EQ(in->tensors().size(), out->tensors().size());
    int n_routers = 0, n_stacks = 0;
    for (size_t i = 0; i < in->tensors().size(); ++i) {
      const GgufTensor& a = in->tensors()[i];
      const GgufTensor& b = out->tensors()[i];
      const std::string name(a.name);
      SCOPED_TRACE(name);
      ASSERT_EQ(b.name, a.name);
      ASSERT_EQ(b.n_dims, a.n_dims);
      for (int d = 0; d < kGgufMaxDims; ++d) ASSERT_EQ(b.ne[d], a.ne[d]);
      if (contains(name, "ffn_gate_inp") || contains(name, "exp_probs_b") || a.n_dims == 1) {
        n_routers += !contains(name, "norm") && !contains(name, "attn_");
        EXPECT_EQ(b.dtype, DType::F32);
        ASSERT_EQ(b.bytes, a.bytes);
        EXPECT_EQ(std::memcmp(a.data, b.data, a.bytes), 0);
        continue;
      }
      ASSERT_NE(b.dtype, DType::F32);
      EXPECT_EQ(b.bytes, row_bytes(b.dtype, b.ne[0]) * uint64_t(b.ne[1] * b.ne[2]));
      if (a.n_dims != 3) continue;
      ++n_stacks;
      // Q4_K keeps about 4.5 bits: the rms error of N(0, 1/256) weights is ~5 % of their rms,
      // Q6_K's ~1.5 %. A stack quantized with the wrong row length would be far off.
      const std::vector<float> x = dequantized(a), y = dequantized(b);
      double err = 0, ref = 0;
      for (size_t k = 0; k < x.size(); ++k) {
        err += (double(x[k]) - y[k]) * (double(x[k]) - y[k]);
        ref += double(x[k]) * x[k];
      }
      EXPECT_LT(std::sqrt(err / ref), 0.1);
    }
    // qwen2moe: ffn_gate_inp and ffn_gate_inp_shexp in both blocks; deepseek2: ffn_gate_inp
    // and exp_probs_b in its one MoE block.
    EXPECT_EQ(n_routers, g.arch == "qwen2moe" ? 4 : 2);
    EXPECT_EQ(n_stacks, g.arch == "qwen2moe" ? 6 : 3);
    // use_more_bits(i, 2) holds for block 1 only.
    EXPECT_EQ(out->find_tensor("blk.1.ffn_down_exps.weight")->dtype, DType::Q6_K);
    EXPECT_EQ(out->find_tensor("blk.1.ffn_gate_exps.weight")->dtype, DType::Q4_K);
    const bool qwen = g.arch == "qwen2moe";
    EXPECT_EQ(out->find_tensor(qwen ? "blk.0.ffn_up_exps.weight" : "blk.0.ffn_up.weight")->dtype,
              DType::Q4_K);
  }
}

TEST(QuantizeModelTest, F16AndBf16InputsQuantizeLikeTheirF32Values) {
  TempDir dir;
  ThreadPool pool(2);
  const std::vector<Spec> f32 = {{"blk.0.attn_q.weight", {256, 16}}};
  write_model(dir.file("f32.gguf"), {.n_layer = 1}, f32);
  StatusOr<GgufFile> src = GgufFile::open(dir.file("f32.gguf"));
  ASSERT_TRUE(src.ok());
  const std::vector<float> x = dequantized(src->tensors()[0]);
  for (DType t : {DType::F16, DType::BF16}) {
    // The F32 model holds exactly the values the F16/BF16 model stores.
    std::vector<uint8_t> narrow(row_bytes(t, int64_t(x.size())));
    quantize_row_ref(t, x.data(), narrow.data(), int64_t(x.size()));
    std::vector<float> widened(x.size());
    dequantize_row_ref(t, narrow.data(), widened.data(), int64_t(x.size()));
    GgufWriter a, b;
    a.set_u32("llama.block_count", 1);
    b.set_u32("llama.block_count", 1);
    ASSERT_TRUE(a.add_tensor("blk.0.attn_q.weight", t, f32[0].ne, narrow.data()).ok());
    ASSERT_TRUE(b.add_tensor("blk.0.attn_q.weight", DType::F32, f32[0].ne, widened.data()).ok());
    ASSERT_TRUE(a.write(dir.file("narrow.gguf")).ok());
    ASSERT_TRUE(b.write(dir.file("wide.gguf")).ok());
    const QuantizeOptions o{.mix = QuantMix::kQ4_K_M};
    ASSERT_TRUE(quantize_model(dir.file("narrow.gguf"), dir.file("qa.gguf"), o, pool).ok());
    ASSERT_TRUE(quantize_model(dir.file("wide.gguf"), dir.file("qb.gguf"), o, pool).ok());
    StatusOr<GgufFile> qa = GgufFile::open(dir.file("qa.gguf"));
    StatusOr<GgufFile> qb = GgufFile::open(dir.file("qb.gguf"));
    ASSERT_TRUE(qa.ok() && qb.ok());
    const GgufTensor& ta = qa->tensors()[0];
    const GgufTensor& tb = qb->tensors()[0];
    EXPECT_EQ(ta.dtype, DType::Q4_K);
    ASSERT_EQ(ta.bytes, tb.bytes);
    EXPECT_EQ(std::memcmp(ta.data, tb.data, ta.bytes), 0) << dtype_name(t);
  }
}

TEST(QuantizeModelTest, OutputDoesNotDependOnThreadCount) {
  TempDir dir;
  write_model(dir.file("m.gguf"), {.n_layer = 2}, llama_specs(2, true));
  ThreadPool one(1), three(3);
  const QuantizeOptions o{.mix = QuantMix::kQ4_K_M};
  ASSERT_TRUE(quantize_model(dir.file("m.gguf"), dir.file("a.gguf"), o, one).ok());
  ASSERT_TRUE(quantize_model(dir.file("m.gguf"), dir.file("b.gguf"), o, three).ok());
  EXPECT_EQ(testing::read_bytes(dir.file("a.gguf")), testing::read_bytes(dir.file("b.gguf")));
}

TEST(QuantizeModelTest, NonFiniteWeightsAreAnError) {
  TempDir dir;
  std::vector<float> x(256 * 4, 0.5f);
  x[256 * 2 + 7] = std::nanf("");
  GgufWriter w;
  const int64_t ne[] = {256, 4};
  ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", DType::F32, ne, x.data()).ok());
  ASSERT_TRUE(w.write(dir.file("nan.gguf")).ok());
  ThreadPool pool(2);
  StatusOr<QuantizeSummary> s =
      quantize_model(dir.file("nan.gguf"), dir.file("out.gguf"), {.mix = QuantMix::kQ8_0}, pool);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.status().message(), "blk.0.attn_q.weight")) << s.status().message();
  EXPECT_TRUE(contains(s.status().message(), "row 2")) << s.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.gguf")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.gguf.tmp")));
}

// ---- llama.cpp fixtures ----

struct BlockDiff {
  int64_t n_blocks = 0;
  int64_t n_differing = 0;
  double max_steps = 0;  // largest |ours - theirs| in units of the block's scale
};

// Q8_0 and Q4_0 blocks start with their fp16 scale d; one quantization step is |d|.
BlockDiff compare_legacy_blocks(const GgufTensor& ours, const GgufTensor& theirs) {
  BlockDiff r;
  const DTypeInfo& info = dtype_info(theirs.dtype);
  const auto* a = static_cast<const uint8_t*>(ours.data);
  const auto* b = static_cast<const uint8_t*>(theirs.data);
  r.n_blocks = theirs.n_elements() / info.block_size;
  std::vector<float> fa(size_t(info.block_size)), fb(size_t(info.block_size));
  for (int64_t i = 0; i < r.n_blocks; ++i) {
    const uint8_t* pa = a + i * info.type_size;
    const uint8_t* pb = b + i * info.type_size;
    if (std::memcmp(pa, pb, info.type_size) == 0) continue;
    ++r.n_differing;
    dequantize_row_ref(theirs.dtype, pa, fa.data(), info.block_size);
    dequantize_row_ref(theirs.dtype, pb, fb.data(), info.block_size);
    fp16_t d;
    std::memcpy(&d, pb, sizeof(d));
    const double step = std::fabs(fp16_to_fp32(d));
    for (int64_t j = 0; j < info.block_size; ++j)
      r.max_steps = std::max(r.max_steps, std::fabs(double(fa[j]) - fb[j]) / step);
  }
  return r;
}

void cross_check_legacy(QuantMix mix, const std::string& reference) {
  const std::string src = fixture("models/llama-spm-tiny-f32.gguf");
  const std::string ref = fixture("models/" + reference);
  MUSE_REQUIRE_FIXTURE(src);
  MUSE_REQUIRE_FIXTURE(ref);
  TempDir dir;
  ThreadPool pool(2);
  // These fixtures hold one type for every matrix (output.weight included), which is what
  // llama-quantize --pure writes; its default Q4_0 mix would make output.weight Q6_K.
  StatusOr<QuantizeSummary> s =
      quantize_model(src, dir.file("q.gguf"), {.mix = mix, .pure = true}, pool);
  ASSERT_TRUE(s.ok()) << s.status().message();
  StatusOr<GgufFile> ours = GgufFile::open(dir.file("q.gguf"));
  StatusOr<GgufFile> theirs = GgufFile::open(ref);
  ASSERT_TRUE(ours.ok() && theirs.ok());
  ASSERT_EQ(ours->tensors().size(), theirs->tensors().size());
  BlockDiff total;
  for (const GgufTensor& t : theirs->tensors()) {
    const GgufTensor* o = ours->find_tensor(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    ASSERT_EQ(dtype_name(o->dtype), dtype_name(t.dtype)) << t.name;
    ASSERT_EQ(o->n_dims, t.n_dims) << t.name;
    for (int d = 0; d < kGgufMaxDims; ++d) ASSERT_EQ(o->ne[d], t.ne[d]) << t.name;
    ASSERT_EQ(o->bytes, t.bytes) << t.name;
    if (t.dtype == DType::F32) {
      EXPECT_EQ(std::memcmp(o->data, t.data, t.bytes), 0) << t.name;
      continue;
    }
    const BlockDiff d = compare_legacy_blocks(*o, t);
    total.n_blocks += d.n_blocks;
    total.n_differing += d.n_differing;
    total.max_steps = std::max(total.max_steps, d.max_steps);
  }
  // The only differences allowed are exact .5 ties that another rounding of the same
  // arithmetic resolves the other way: rare, and one step (plus fp16 scale slack) at most.
  std::printf("%s: %lld of %lld blocks differ from %s, max %.4f steps\n",
              std::string(quant_mix_info(mix).name).c_str(), (long long)total.n_differing,
              (long long)total.n_blocks, reference.c_str(), total.max_steps);
  EXPECT_LE(double(total.n_differing), 1e-3 * double(total.n_blocks));
  EXPECT_LE(total.max_steps, 1.001);
}

TEST(QuantizeFixtureTest, Q8_0MatchesLlamaCpp) {
  cross_check_legacy(QuantMix::kQ8_0, "llama-spm-tiny-q8_0.gguf");
}

TEST(QuantizeFixtureTest, Q4_0MatchesLlamaCpp) {
  cross_check_legacy(QuantMix::kQ4_0, "llama-spm-tiny-q4_0.gguf");
}

TEST(QuantizeFixtureTest, DefaultQ4_0MixUpgradesTheOutput) {
  const std::string src = fixture("models/llama-spm-tiny-f32.gguf");
  MUSE_REQUIRE_FIXTURE(src);
  StatusOr<GgufFile> f = GgufFile::open(src);
  ASSERT_TRUE(f.ok());
  StatusOr<std::vector<TensorPlan>> plans = plan_quantization(*f, {.mix = QuantMix::kQ4_0});
  ASSERT_TRUE(plans.ok());
  for (const TensorPlan& p : *plans) {
    // Q6_K wanted, but n_embd 128 is not a multiple of 256: llama.cpp falls back to Q8_0.
    const DType want = p.name == "output.weight" ? DType::Q8_0
                       : p.n_dims == 1           ? DType::F32
                                                 : DType::Q4_0;
    EXPECT_EQ(dtype_name(p.dst_type), dtype_name(want)) << p.name;
  }
}

// llama-quantize's Q4_K_M output has no F32 source, but its type choices are visible.
// Dequantize it (token_embd and output cut to their first 1024 rows: the rules look at
// names and row length only, and it keeps the test fast), quantize that with Q4_K_M.
TEST(QuantizeFixtureTest, Q4_K_MTypesMatchLlamaQuantize) {
  const std::string ref = fixture("models/llama-spm-kquant-q4_k_m.gguf");
  MUSE_REQUIRE_FIXTURE(ref);
  StatusOr<GgufFile> theirs = GgufFile::open(ref);
  ASSERT_TRUE(theirs.ok());
  constexpr int64_t kRows = 1024;
  TempDir dir;
  GgufWriter w;
  for (const GgufKv& kv : theirs->kvs()) w.set_value(kv.key, kv.value);
  std::vector<std::vector<float>> data;
  for (const GgufTensor& t : theirs->tensors()) {
    std::vector<float> x = dequantized(t);
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    if (t.n_dims == 2 && ne[1] > kRows) {
      ne[1] = kRows;
      x.resize(size_t(ne[0] * kRows));
    }
    data.push_back(std::move(x));
    ASSERT_TRUE(w.add_tensor(t.name, DType::F32, ne, data.back().data()).ok());
  }
  ASSERT_TRUE(w.write(dir.file("f32.gguf")).ok());

  ThreadPool pool(2);
  StatusOr<QuantizeSummary> s =
      quantize_model(dir.file("f32.gguf"), dir.file("q.gguf"), {.mix = QuantMix::kQ4_K_M}, pool);
  ASSERT_TRUE(s.ok()) << s.status().message();
  StatusOr<GgufFile> ours = GgufFile::open(dir.file("q.gguf"));
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*ours->get_u32("general.file_type"), 15u);
  EXPECT_EQ(*ours->get_u32("general.quantization_version"), 2u);
  for (const GgufTensor& t : theirs->tensors()) {
    const GgufTensor* o = ours->find_tensor(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    EXPECT_EQ(dtype_name(o->dtype), dtype_name(t.dtype)) << t.name;
    if (o->dtype != t.dtype) continue;
    // Values that already lie on a grid of the same format come back almost unchanged
    // (measured: at most 3e-4 relative RMS, on token_embd); a wrong layout or scale search
    // would be off by percents.
    const std::vector<float> a = dequantized(*o);
    const std::vector<float> b = dequantized(t);
    double err = 0, ref2 = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      err += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
      ref2 += double(b[i]) * b[i];
    }
    EXPECT_LE(std::sqrt(err / std::max(ref2, 1e-30)), 1e-3) << t.name;
  }
}

TEST(QuantizeFixtureTest, MetadataIsPreserved) {
  const std::string src = fixture("models/llama-spm-tiny-f32.gguf");
  MUSE_REQUIRE_FIXTURE(src);
  TempDir dir;
  ThreadPool pool(2);
  ASSERT_TRUE(quantize_model(src, dir.file("q.gguf"), {.mix = QuantMix::kQ8_0}, pool).ok());
  StatusOr<GgufFile> in = GgufFile::open(src);
  StatusOr<GgufFile> out = GgufFile::open(dir.file("q.gguf"));
  ASSERT_TRUE(in.ok() && out.ok()) << out.status().message();
  EXPECT_EQ(*out->get_u32("general.file_type"), 7u);
  EXPECT_EQ(*out->get_u32("general.quantization_version"), 2u);
  EXPECT_EQ(out->kvs().size(), in->kvs().size() + 1);  // + quantization_version
  const size_t all = SIZE_MAX;
  for (const GgufKv& kv : in->kvs()) {
    if (kv.key == "general.file_type") continue;
    const GgufValue* v = out->find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_EQ(v->type(), kv.value.type()) << kv.key;
    EXPECT_EQ(gguf_value_to_string(*v, all, all), gguf_value_to_string(kv.value, all, all))
        << kv.key;
  }
  // Order kept too: the tensor table lists the input's tensors in the input's order.
  ASSERT_EQ(out->tensors().size(), in->tensors().size());
  for (size_t i = 0; i < in->tensors().size(); ++i)
    EXPECT_EQ(out->tensors()[i].name, in->tensors()[i].name);
}

// ---- the command ----

TEST(QuantizeCliTest, WritesTheModelAndReportsProgress) {
  TempDir dir;
  write_model(dir.file("m.gguf"), {.n_layer = 2}, llama_specs(2, true));
  const testing::RunResult r = run_muse("quantize " + shell_quote(dir.file("m.gguf")) + " " +
                                        shell_quote(dir.file("q.gguf")) + " q4_k --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "/21] blk.1.attn_v.weight")) << r.err;
  EXPECT_TRUE(contains(r.out, "Q4_K_M")) << r.out;
  EXPECT_TRUE(contains(r.out, "bits per weight")) << r.out;
  StatusOr<GgufFile> q = GgufFile::open(dir.file("q.gguf"));
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->find_tensor("blk.1.attn_v.weight")->dtype, DType::Q6_K);
  EXPECT_EQ(*q->get_u32("general.file_type"), 15u);
}

TEST(QuantizeCliTest, BadInputsFailWithoutWritingOutput) {
  TempDir dir;
  write_model(dir.file("m.gguf"), {.n_layer = 2}, llama_specs(2, true));
  ASSERT_TRUE(testing::write_bytes(dir.file("corrupt.gguf"), {'G', 'G', 'U', 'F', 3, 0, 0}));
  const std::string out = dir.file("out.gguf");
  struct Case {
    std::string args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {shell_quote(dir.file("missing.gguf")) + " " + shell_quote(out) + " Q8_0", "missing.gguf"},
      {shell_quote(dir.file("corrupt.gguf")) + " " + shell_quote(out) + " Q8_0", "corrupt.gguf"},
      {shell_quote(dir.file("m.gguf")) + " " + shell_quote(out) + " Q3_K_L", "unknown type"},
      {shell_quote(dir.file("m.gguf")) + " " + shell_quote(dir.file("m.gguf")) + " Q8_0",
       "is the input file"},
      {shell_quote(dir.file("m.gguf")) + " " + shell_quote(dir.file("no/such/dir/o.gguf")) +
           " Q8_0",
       "cannot create"},
  };
  const std::vector<uint8_t> original = testing::read_bytes(dir.file("m.gguf"));
  for (const Case& c : cases) {
    const testing::RunResult r = run_muse("quantize " + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, c.message)) << c.args << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.args;
    EXPECT_FALSE(std::filesystem::exists(out + ".tmp")) << c.args;
  }
  EXPECT_EQ(testing::read_bytes(dir.file("m.gguf")), original);
  EXPECT_EQ(run_muse("quantize " + shell_quote(dir.file("m.gguf"))).exit_code, 2);
  EXPECT_EQ(run_muse("quantize a b Q8_0 --bogus").exit_code, 2);
  EXPECT_EQ(run_muse("quantize a b Q8_0 --threads 0").exit_code, 2);
}

TEST(QuantizeCliTest, UnsupportedAndQuantizedInputs) {
  TempDir dir;
  const std::string out = dir.file("out.gguf");
  // An integer matrix where a weight is expected cannot be converted.
  {
    GgufWriter w;
    std::vector<int32_t> ids(256 * 2, 1);
    const int64_t ne[] = {256, 2};
    ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", DType::I32, ne, ids.data()).ok());
    ASSERT_TRUE(w.write(dir.file("i32.gguf")).ok());
  }
  testing::RunResult r =
      run_muse("quantize " + shell_quote(dir.file("i32.gguf")) + " " + shell_quote(out) + " Q8_0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "cannot convert")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  // Already quantized: same type is copied, another type needs --allow-requantize.
  write_model(dir.file("q8.gguf"), {.n_layer = 2},
              {{"blk.0.attn_q.weight", {256, 4}, DType::Q8_0}, {"blk.0.attn_norm.weight", {256}}});
  const std::string q8 = shell_quote(dir.file("q8.gguf"));
  r = run_muse("quantize " + q8 + " " + shell_quote(out) + " Q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  StatusOr<GgufFile> a = GgufFile::open(dir.file("q8.gguf"));
  StatusOr<GgufFile> b = GgufFile::open(out);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(std::memcmp(a->tensors()[0].data, b->tensors()[0].data, a->tensors()[0].bytes), 0);
  std::filesystem::remove(out);
  r = run_muse("quantize " + q8 + " " + shell_quote(out) + " Q4_0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "--allow-requantize")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  r = run_muse("quantize " + q8 + " " + shell_quote(out) + " Q4_0 --allow-requantize");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  b = GgufFile::open(out);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->find_tensor("blk.0.attn_q.weight")->dtype, DType::Q4_0);
}

}  // namespace
}  // namespace muse
