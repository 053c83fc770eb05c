// GgufWriter round trips: every value type and tensor path written, read back by GgufFile
// and compared exactly; real fixture files rewritten through the writer must come out
// byte-identical, which pins the layout to what llama.cpp itself writes.
#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>

#include "core/fp16.h"
#include "gguf/gguf.h"
#include "gguf/test_util.h"

namespace muse {
namespace {

using testing::TempDir;

TEST(GgufWriterTest, RoundTripsEveryValueType) {
  TempDir dir;
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u8("t.u8", 255);
  w.set_i8("t.i8", -128);
  w.set_u16("t.u16", 65535);
  w.set_i16("t.i16", -32768);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", std::numeric_limits<int32_t>::min());
  w.set_f32("t.f32", 1e-5f);
  w.set_bool("t.true", true);
  w.set_bool("t.false", false);
  w.set_u64("t.u64", std::numeric_limits<uint64_t>::max());
  w.set_i64("t.i64", std::numeric_limits<int64_t>::min());
  w.set_f64("t.f64", -0.1);
  const std::string with_nul("a\0b\xE2\x96\x81", 6);  // embedded NUL and UTF-8 must survive
  w.set_string("t.str", with_nul);
  w.set_string("t.empty", "");
  const std::vector<std::string> tokens = {"<unk>", "", "\xE2\x96\x81the", "<0x0A>"};
  w.set_string_array("t.tokens", tokens);
  const std::vector<int32_t> i32s = {1, -2, 3};
  w.set_i32_array("t.i32s", i32s);
  const std::vector<uint32_t> u32s = {7};
  w.set_u32_array("t.u32s", u32s);
  const std::vector<int64_t> i64s = {};
  w.set_i64_array("t.empty_arr", i64s);
  const std::vector<float> f32s = {0.5f, -0.0f, 3e38f};
  w.set_f32_array("t.f32s", f32s);
  bool barr[3] = {true, false, true};
  w.set_bool_array("t.bools", barr);
  w.set_u32("t.replaced", 1);
  w.set_u32("t.replaced", 2);  // replaces in place: order unchanged

  std::vector<float> a(3 * 5);
  std::iota(a.begin(), a.end(), -7.0f);
  const int64_t a_ne[] = {3, 5};
  ASSERT_TRUE(w.add_tensor("a", DType::F32, a_ne, a.data()).ok());
  const int64_t b_ne[] = {64, 2, 1, 3};
  ASSERT_TRUE(w.add_tensor("b.q8", DType::Q8_0, b_ne, [](std::span<uint8_t> dst) {
                 for (size_t i = 0; i < dst.size(); ++i) dst[i] = uint8_t(i * 7);
                 return Status::Ok();
               }).ok());
  std::vector<fp16_t> c(7);
  for (size_t i = 0; i < c.size(); ++i) c[i] = fp32_to_fp16(float(i) / 3);
  const int64_t c_ne[] = {7};
  ASSERT_TRUE(w.add_tensor("c", DType::F16, c_ne, c.data()).ok());

  const std::string path = dir.file("all.gguf");
  ASSERT_TRUE(w.write(path).ok());
  ASSERT_FALSE(std::filesystem::exists(path + ".tmp"));
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();

  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  ASSERT_EQ(f->kvs().size(), 22u);
  EXPECT_EQ(f->kvs()[0].key, "general.architecture");
  EXPECT_EQ(f->kvs().back().key, "t.replaced");
  EXPECT_EQ(*f->get_u32("t.replaced"), 2u);
  EXPECT_EQ(f->find("t.u8")->type(), GgufType::kU8);
  EXPECT_EQ(*f->get_u32("t.u8"), 255u);
  EXPECT_EQ(*f->get_i32("t.i8"), -128);
  EXPECT_EQ(*f->get_u32("t.u16"), 65535u);
  EXPECT_EQ(*f->get_i32("t.i16"), -32768);
  EXPECT_EQ(*f->get_u32("t.u32"), 4000000000u);
  EXPECT_EQ(*f->get_i32("t.i32"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(*f->get_f32("t.f32"), 1e-5f);
  EXPECT_TRUE(*f->get_bool("t.true"));
  EXPECT_FALSE(*f->get_bool("t.false"));
  EXPECT_EQ(*f->get_u64("t.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*f->get_i64("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*f->find("t.f64")->as_float(), -0.1);
  EXPECT_EQ(*f->get_string("t.str"), with_nul);
  EXPECT_EQ(*f->get_string("t.empty"), "");
  auto toks = f->get_string_array("t.tokens");
  ASSERT_TRUE(toks.ok());
  ASSERT_EQ(toks->size(), tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ((*toks)[i], tokens[i]);
  EXPECT_EQ(*f->get_i32_array("t.i32s"), i32s);
  EXPECT_EQ(*f->get_int_array("t.u32s"), std::vector<int64_t>{7});
  EXPECT_TRUE(f->get_int_array("t.empty_arr")->empty());
  auto fs = f->get_f32_array("t.f32s");
  ASSERT_TRUE(fs.ok());
  EXPECT_EQ(std::memcmp(fs->data(), f32s.data(), 12), 0);  // bitwise: -0.0 stays -0.0
  const GgufValue* bvals = f->find("t.bools");
  ASSERT_EQ(bvals->element_type(), GgufType::kBool);
  ASSERT_EQ(bvals->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(*bvals->element(i).as_bool(), barr[i]);

  ASSERT_EQ(f->tensors().size(), 3u);
  const GgufTensor* ta = f->find_tensor("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, DType::F32);
  EXPECT_EQ(ta->n_dims, 2);
  EXPECT_EQ(ta->ne[0], 3);
  EXPECT_EQ(ta->ne[1], 5);
  EXPECT_EQ(ta->ne[2], 1);
  EXPECT_EQ(ta->bytes, 60u);
  EXPECT_EQ(ta->offset, 0u);
  EXPECT_EQ(std::memcmp(ta->data, a.data(), 60), 0);
  const GgufTensor* tb = f->find_tensor("b.q8");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->n_dims, 4);
  EXPECT_EQ(tb->n_elements(), 64 * 2 * 3);
  EXPECT_EQ(tb->bytes, 6u * 2 * 34);  // 6 rows of 2 blocks of 34 bytes
  EXPECT_EQ(tb->offset, 64u);         // 60 bytes of `a` padded to 64
  const uint8_t* bb = static_cast<const uint8_t*>(tb->data);
  for (size_t i = 0; i < tb->bytes; ++i) ASSERT_EQ(bb[i], uint8_t(i * 7)) << i;
  const GgufTensor* tc = f->find_tensor("c");
  ASSERT_NE(tc, nullptr);
  EXPECT_EQ(tc->offset % 32, 0u);
  EXPECT_EQ(std::memcmp(tc->data, c.data(), 14), 0);
  // The file ends with the last tensor padded to the alignment, as GGML writes it.
  EXPECT_EQ(f->file_size(), f->data_offset() + tc->offset + 32);
}

TEST(GgufWriterTest, HonoursAlignment) {
  TempDir dir;
  GgufWriter w;
  std::vector<float> x(5, 1.0f);
  const int64_t ne[] = {5};
  ASSERT_TRUE(w.add_tensor("x", DType::F32, ne, x.data()).ok());
  ASSERT_TRUE(w.add_tensor("y", DType::F32, ne, x.data()).ok());
  w.set_alignment(256);  // after add_tensor: offsets are computed at write time
  ASSERT_TRUE(w.write(dir.file("a.gguf")).ok());
  StatusOr<GgufFile> f = GgufFile::open(dir.file("a.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->alignment(), 256u);
  EXPECT_EQ(*f->get_u32("general.alignment"), 256u);
  EXPECT_EQ(f->data_offset() % 256, 0u);
  EXPECT_EQ(f->find_tensor("y")->offset, 256u);
}

TEST(GgufWriterTest, NestedArraysRoundTrip) {
  TempDir dir;
  const int32_t row0[] = {1, 2};
  const int32_t row1[] = {3};
  std::vector<GgufValue> rows = {GgufValue::numeric_array(GgufType::kI32, row0, 2),
                                 GgufValue::numeric_array(GgufType::kI32, row1, 1)};
  GgufWriter w;
  w.set_value("t.nested", GgufValue::nested_array(rows));
  ASSERT_TRUE(w.write(dir.file("n.gguf")).ok());
  StatusOr<GgufFile> f = GgufFile::open(dir.file("n.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufValue* v = f->find("t.nested");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->element_type(), GgufType::kArray);
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ(v->element(0).size(), 2u);
  EXPECT_EQ(*v->element(0).element(1).as_int(), 2);
  EXPECT_EQ(*v->element(1).element(0).as_int(), 3);
  EXPECT_EQ(gguf_value_to_string(*v), "[[1, 2], [3]]");
}

TEST(GgufWriterTest, RejectsBadTensorsAndKeys) {
  GgufWriter w;
  std::vector<float> x(64);
  const int64_t ok_ne[] = {64};
  ASSERT_TRUE(w.add_tensor("x", DType::F32, ok_ne, x.data()).ok());
  Status s = w.add_tensor("x", DType::F32, ok_ne, x.data());
  EXPECT_NE(s.message().find("duplicate tensor 'x'"), std::string::npos) << s.message();
  const int64_t zero_ne[] = {64, 0};
  s = w.add_tensor("z", DType::F32, zero_ne, x.data());
  EXPECT_NE(s.message().find("dimension 1 is 0"), std::string::npos) << s.message();
  const int64_t five[] = {1, 1, 1, 1, 1};
  s = w.add_tensor("five", DType::F32, five, x.data());
  EXPECT_NE(s.message().find("5 dimensions"), std::string::npos) << s.message();
  const int64_t odd[] = {48};
  s = w.add_tensor("q", DType::Q8_0, odd, x.data());
  EXPECT_NE(s.message().find("not a multiple of the q8_0 block size 32"), std::string::npos)
      << s.message();
  s = w.add_tensor(std::string(64, 'n'), DType::F32, ok_ne, x.data());
  EXPECT_NE(s.message().find("at most 63"), std::string::npos) << s.message();
  s = w.add_tensor("bad_type", DType(5), ok_ne, x.data());
  EXPECT_NE(s.message().find("undefined type id 5"), std::string::npos) << s.message();

  GgufWriter bad_align;
  bad_align.set_alignment(48);
  TempDir dir;
  s = bad_align.write(dir.file("never.gguf"));
  EXPECT_NE(s.message().find("alignment 48 is not a power of two"), std::string::npos)
      << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("never.gguf")));

  GgufWriter empty_key;
  empty_key.set_u32("", 1);
  s = empty_key.write(dir.file("never.gguf"));
  EXPECT_NE(s.message().find("key is empty"), std::string::npos) << s.message();
}

TEST(GgufWriterTest, FillErrorLeavesNoFile) {
  TempDir dir;
  GgufWriter w;
  const int64_t ne[] = {32};
  ASSERT_TRUE(w.add_tensor("boom", DType::F32, ne, [](std::span<uint8_t>) {
                 return Status::Error("generator failed");
               }).ok());
  const std::string path = dir.file("boom.gguf");
  Status s = w.write(path);
  EXPECT_EQ(s.message(), "tensor 'boom': generator failed");
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  s = w.write(dir.path() + "/no/such/dir/x.gguf");
  EXPECT_NE(s.message().find("cannot create"), std::string::npos) << s.message();
}

// Rewrites a file through set_value + add_tensor. Where llama.cpp wrote the original (every
// model fixture), the result must be the same bytes: same header encoding, same padding.
StatusOr<std::vector<uint8_t>> rewrite(const std::string& src, const std::string& dst) {
  StatusOr<GgufFile> f = GgufFile::open(src);
  if (!f.ok()) return f.status();
  GgufWriter w;
  for (const GgufKv& kv : f->kvs()) w.set_value(kv.key, kv.value);
  for (const GgufTensor& t : f->tensors()) {
    MUSE_RETURN_IF_ERROR(
        w.add_tensor(t.name, t.dtype, std::span<const int64_t>(t.ne, size_t(t.n_dims)), t.data));
  }
  MUSE_RETURN_IF_ERROR(w.write(dst));
  return testing::read_bytes(dst);
}

TEST(GgufWriterTest, RewritingModelFixturesIsByteIdentical) {
  // Three writers' output, kept to ~25 MB so the suite stays fast: a converted real model,
  // llama-quantize's mixed K-quant output, and a many-tensor MoE file.
  const char* kModels[] = {"stories260K.gguf", "llama-spm-kquant-q4_k_m.gguf",
                           "deepseek2-tiny-q8_0.gguf"};
  TempDir dir;
  for (const char* name : kModels) {
    const std::string src = testing::fixture(std::string("models/") + name);
    MUSE_REQUIRE_FIXTURE(src);
    SCOPED_TRACE(src);
    StatusOr<std::vector<uint8_t>> out = rewrite(src, dir.file("rewrite.gguf"));
    ASSERT_TRUE(out.ok()) << out.status().message();
    const std::vector<uint8_t> orig = testing::read_bytes(src);
    ASSERT_EQ(out->size(), orig.size());
    EXPECT_TRUE(out.value() == orig);
  }
}

TEST(GgufWriterTest, RewritingVocabFixturesKeepsEveryHeaderByte) {
  const std::vector<std::string> vocabs = testing::fixture_ggufs("vocab");
  if (vocabs.empty()) GTEST_SKIP() << "fixtures missing: " << testing::fixture("vocab");
  TempDir dir;
  for (const std::string& src : vocabs) {
    SCOPED_TRACE(src);
    StatusOr<std::vector<uint8_t>> out = rewrite(src, dir.file("rewrite.gguf"));
    ASSERT_TRUE(out.ok()) << out.status().message();
    // These tensor-less files were written without trailing padding; ours pads the header
    // to the alignment (harmless: readers ignore bytes after the last KV when n_tensors = 0).
    const std::vector<uint8_t> orig = testing::read_bytes(src);
    ASSERT_EQ(out->size(), (orig.size() + 31) / 32 * 32);
    EXPECT_TRUE(std::equal(orig.begin(), orig.end(), out->begin()));
  }
}

}  // namespace
}  // namespace muse
