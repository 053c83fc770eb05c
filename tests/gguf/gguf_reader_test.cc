// GgufFile on real files: every fixture opens, known facts about a few of them read back
// through the typed getters, and the getters' type rules (any fitting integer width,
// errors naming the key) hold.
#include <gtest/gtest.h>

#include <cstring>

#include "gguf/gguf.h"
#include "gguf/test_util.h"

namespace muse {
namespace {

TEST(GgufReaderTest, OpensEveryFixture) {
  std::vector<std::string> files = testing::fixture_ggufs("models");
  for (const std::string& f : testing::fixture_ggufs("vocab")) files.push_back(f);
  if (files.empty()) GTEST_SKIP() << "fixtures missing: " << testing::fixtures_dir();
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    StatusOr<GgufFile> f = GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(f->version(), 3u);
    EXPECT_TRUE(f->get_string("general.architecture").ok());
    const uint8_t* begin = f->bytes().data();
    for (const GgufTensor& t : f->tensors()) {
      EXPECT_EQ(f->find_tensor(t.name), &t);
      const uint8_t* p = static_cast<const uint8_t*>(t.data);
      EXPECT_EQ(p, begin + f->data_offset() + t.offset);
      EXPECT_LE(p + t.bytes, begin + f->file_size());
      EXPECT_EQ(t.bytes, row_bytes(t.dtype, t.ne[0]) * uint64_t(t.ne[1] * t.ne[2] * t.ne[3]));
    }
    for (const GgufKv& kv : f->kvs()) EXPECT_EQ(f->find(kv.key), &kv.value);
  }
}

TEST(GgufReaderTest, Stories260K) {
  const std::string path = testing::fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  // Facts from the fixture README: llama arch, F32, GQA 8/4 heads, vocab 512, SPM.
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*f->get_u32("llama.attention.head_count"), 8u);
  EXPECT_EQ(*f->get_u32("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(*f->get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(*f->get_u32("llama.block_count"), 5u);
  EXPECT_EQ(*f->get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  auto tokens = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ(tokens.value()[0], "<unk>");
  EXPECT_EQ(tokens.value()[3], "<0x00>");
  EXPECT_EQ(f->get_f32_array("tokenizer.ggml.scores")->size(), 512u);
  auto types = f->get_i32_array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ(types.value()[0], 2);  // unknown
  EXPECT_EQ(types.value()[1], 3);  // control
  EXPECT_EQ(types.value()[3], 6);  // byte

  ASSERT_EQ(f->tensors().size(), 48u);  // 3 + 5 layers x 9
  const GgufTensor* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->dtype, DType::F32);
  EXPECT_EQ(emb->n_dims, 2);
  EXPECT_EQ(emb->ne[0], 64);
  EXPECT_EQ(emb->ne[1], 512);
  EXPECT_EQ(emb->bytes, 64u * 512 * 4);
  const GgufTensor* down = f->find_tensor("blk.4.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->ne[0], 172);
  EXPECT_EQ(down->ne[1], 64);
  EXPECT_EQ(f->find_tensor("blk.5.ffn_down.weight"), nullptr);
  EXPECT_EQ(f->find("no.such.key"), nullptr);
}

TEST(GgufReaderTest, KQuantFixtureMixesTypes) {
  const std::string path = testing::fixture("models/llama-spm-kquant-q4_k_m.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->get_u32("general.file_type"), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->dtype, DType::Q4_K);
  EXPECT_EQ(f->find_tensor("output.weight")->dtype, DType::Q6_K);
  EXPECT_EQ(f->find_tensor("output_norm.weight")->dtype, DType::F32);
}

TEST(GgufReaderTest, GettersCheckTypesAndRanges) {
  const std::string path = testing::fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  // u32 values are readable at every width they fit.
  EXPECT_EQ(*f->get_i32("llama.block_count"), 5);
  EXPECT_EQ(*f->get_u64("llama.block_count"), 5u);
  EXPECT_EQ(*f->get_i64("llama.block_count"), 5);
  EXPECT_EQ(*f->get_u32_or("llama.block_count", 9), 5u);
  EXPECT_EQ(*f->get_u32_or("llama.expert_count", 9), 9u);
  EXPECT_EQ(*f->get_f32_or("llama.rope.freq_base", 10000.0f), 10000.0f);
  EXPECT_EQ(*f->get_string_or("tokenizer.ggml.pre", "default"), "default");

  auto msg = [](const auto& s) { return s.status().message(); };
  EXPECT_EQ(msg(f->get_u32("llama.nope")), "missing key 'llama.nope'");
  EXPECT_EQ(msg(f->get_u32("general.name")), "key 'general.name' has type str, expected u32");
  EXPECT_EQ(msg(f->get_u32_or("general.name", 1)), "key 'general.name' has type str, expected u32");
  EXPECT_EQ(msg(f->get_string("llama.block_count")),
            "key 'llama.block_count' has type u32, expected str");
  EXPECT_EQ(msg(f->get_f32("llama.block_count")),
            "key 'llama.block_count' has type u32, expected f32");
  EXPECT_EQ(msg(f->get_bool("llama.block_count")),
            "key 'llama.block_count' has type u32, expected bool");
  // 0xFFFFFFFF (the "no separator" id) fits u32 but not i32.
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.seperator_token_id"), 0xFFFFFFFFu);
  EXPECT_EQ(msg(f->get_i32("tokenizer.ggml.seperator_token_id")),
            "key 'tokenizer.ggml.seperator_token_id' value 4294967295 does not fit in i32");
  EXPECT_EQ(msg(f->get_string_array("tokenizer.ggml.scores")),
            "key 'tokenizer.ggml.scores' has type array of f32, expected array of str");
  EXPECT_EQ(msg(f->get_int_array("tokenizer.ggml.tokens")),
            "key 'tokenizer.ggml.tokens' has type array of str, expected array of integers");
  EXPECT_EQ(msg(f->get_f32_array("general.name")),
            "key 'general.name' has type str, expected array of f32");
}

TEST(GgufReaderTest, ValueRendering) {
  const std::string path = testing::fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(gguf_value_to_string(*f->find("general.architecture")), "\"llama\"");
  EXPECT_EQ(gguf_value_to_string(*f->find("llama.attention.layer_norm_rms_epsilon")), "1e-05");
  EXPECT_EQ(gguf_value_to_string(*f->find("tokenizer.ggml.tokens"), 3),
            "[str \xC3\x97 512] [\"<unk>\", \"<s>\", \"</s>\", ...]");
}

TEST(GgufReaderTest, RenderingEscapesAndClipsStrings) {
  const std::string long_text(200, 'x');
  const GgufValue v = GgufValue::string(long_text);
  EXPECT_EQ(gguf_value_to_string(v), "\"" + std::string(120, 'x') + "\"... (200 bytes)");
  EXPECT_EQ(gguf_value_to_string(v, 8, SIZE_MAX), "\"" + long_text + "\"");
  const std::string odd("a\"\\\n\t\x01\xE2\x96\x81", 9);
  EXPECT_EQ(gguf_value_to_string(GgufValue::string(odd)), "\"a\\\"\\\\\\n\\t\\x01\xE2\x96\x81\"");
  const uint8_t raw[] = {1, 0, 2};
  EXPECT_EQ(gguf_value_to_string(GgufValue::numeric_array(GgufType::kBool, raw, 3)),
            "[true, false, true]");
  EXPECT_EQ(gguf_value_to_string(GgufValue::scalar(GgufType::kI8, 0xFF)), "-1");
  EXPECT_EQ(gguf_value_to_string(GgufValue::scalar(GgufType::kU64, UINT64_MAX)),
            "18446744073709551615");
}

}  // namespace
}  // namespace muse
