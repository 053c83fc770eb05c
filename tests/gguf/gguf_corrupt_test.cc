// Corrupt GGUF files: every header field broken on purpose, truncation at every offset of
// the header, and a deterministic mutation fuzz. Each case must be a non-ok Status whose
// message names the problem (asserted by substring), never a crash; run under ASan/UBSan,
// where buffers are exactly the file's size so any over-read is caught.
// Field offsets come from `walk` below, an independent minimal GGUF walker (valid input only).
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "gguf/test_util.h"

namespace muse {
namespace {

using Bytes = std::vector<uint8_t>;

// ---- Independent layout walker (test oracle) ----

struct KvAt {
  std::string key;
  size_t key_len_at, type_at, value_at;  // value_at: after the type field
};
struct TensorAt {
  std::string name;
  size_t name_len_at, n_dims_at, dims_at, type_at, offset_at;
};
struct Layout {
  std::vector<KvAt> kvs;
  std::vector<TensorAt> tensors;
  size_t infos_end = 0;
  std::vector<size_t> fields;  // every field start, for targeted mutations
  const KvAt& kv(const std::string& key) const {
    for (const KvAt& k : kvs)
      if (k.key == key) return k;
    ADD_FAILURE() << "no key " << key;
    return kvs[0];
  }
  const TensorAt& tensor(const std::string& name) const {
    for (const TensorAt& t : tensors)
      if (t.name == name) return t;
    ADD_FAILURE() << "no tensor " << name;
    return tensors[0];
  }
};

uint64_t get_u64(const Bytes& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, &b[at], 8);
  return v;
}
uint32_t get_u32(const Bytes& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, &b[at], 4);
  return v;
}
void put_u64(Bytes* b, size_t at, uint64_t v) { std::memcpy(&(*b)[at], &v, 8); }
void put_u32(Bytes* b, size_t at, uint32_t v) { std::memcpy(&(*b)[at], &v, 4); }

size_t skip_value(const Bytes& b, size_t at, uint32_t type, std::vector<size_t>* fields) {
  constexpr size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (type == 8) return at + 8 + get_u64(b, at);
  if (type != 9) return at + kSizes[type];
  const uint32_t et = get_u32(b, at);
  const uint64_t n = get_u64(b, at + 4);
  fields->push_back(at);
  fields->push_back(at + 4);
  at += 12;
  for (uint64_t i = 0; i < n; ++i) {
    if (et == 8 && i < 4) fields->push_back(at);
    at = et == 9 ? skip_value(b, at, 9, fields) : skip_value(b, at, et, fields);
  }
  return at;
}

Layout walk(const Bytes& b) {
  Layout l;
  size_t at = 24;
  l.fields = {0, 4, 8, 16};
  const uint64_t n_tensors = get_u64(b, 8), n_kv = get_u64(b, 16);
  for (uint64_t i = 0; i < n_kv; ++i) {
    KvAt k;
    k.key_len_at = at;
    const uint64_t len = get_u64(b, at);
    k.key.assign(reinterpret_cast<const char*>(&b[at + 8]), len);
    k.type_at = at + 8 + len;
    k.value_at = k.type_at + 4;
    l.fields.insert(l.fields.end(), {k.key_len_at, k.type_at, k.value_at});
    at = skip_value(b, k.value_at, get_u32(b, k.type_at), &l.fields);
    l.kvs.push_back(k);
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorAt t;
    t.name_len_at = at;
    const uint64_t len = get_u64(b, at);
    t.name.assign(reinterpret_cast<const char*>(&b[at + 8]), len);
    t.n_dims_at = at + 8 + len;
    t.dims_at = t.n_dims_at + 4;
    t.type_at = t.dims_at + 8 * get_u32(b, t.n_dims_at);
    t.offset_at = t.type_at + 4;
    at = t.offset_at + 8;
    l.fields.insert(l.fields.end(),
                    {t.name_len_at, t.n_dims_at, t.dims_at, t.type_at, t.offset_at});
    l.tensors.push_back(t);
  }
  l.infos_end = at;
  return l;
}

// ---- Helpers ----

std::string error_of(std::span<const uint8_t> b) {
  StatusOr<GgufFile> f = GgufFile::from_bytes(b);
  return f.ok() ? std::string("<ok>") : f.status().message();
}

#define EXPECT_GGUF_ERROR(bytes, substr)                                     \
  do {                                                                       \
    const std::string msg_ = error_of(bytes);                                \
    EXPECT_NE(msg_, "<ok>") << "expected an error containing: " << (substr); \
    EXPECT_NE(msg_.find(substr), std::string::npos) << "message: " << msg_;  \
  } while (0)

// A small file through every parser path: strings, a string array, a nested array, three
// tensors of two types. Layout: t0 f32 [8,2] at 0 (64 B), t1 q8_0 [64,2] at 64 (136 B),
// t2 f32 [4] at 224 (16 B).
Bytes made_file(const std::function<void(GgufWriter*)>& extra = nullptr) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("a.x", 1);
  w.set_u32("a.y", 2);
  w.set_alignment(32);
  const std::vector<std::string> tokens = {"<unk>", "a", "bc"};
  w.set_string_array("t.tokens", tokens);
  static const int32_t kRow[] = {1, 2, 3};
  w.set_value("t.nested",
              GgufValue::nested_array({GgufValue::numeric_array(GgufType::kI32, kRow, 3)}));
  if (extra) extra(&w);
  static const std::vector<uint8_t> kZeros(256, 0);
  const int64_t ne0[] = {8, 2}, ne1[] = {64, 2}, ne2[] = {4};
  EXPECT_TRUE(w.add_tensor("t0", DType::F32, ne0, kZeros.data()).ok());
  EXPECT_TRUE(w.add_tensor("t1", DType::Q8_0, ne1, kZeros.data()).ok());
  EXPECT_TRUE(w.add_tensor("t2", DType::F32, ne2, kZeros.data()).ok());
  testing::TempDir dir;
  EXPECT_TRUE(w.write(dir.file("m.gguf")).ok());
  return testing::read_bytes(dir.file("m.gguf"));
}

TEST(GgufCorruptTest, MadeFileIsValid) {
  const Bytes b = made_file();
  StatusOr<GgufFile> f = GgufFile::from_bytes(b);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const Layout l = walk(b);
  ASSERT_EQ(l.kvs.size(), 6u);
  ASSERT_EQ(l.tensors.size(), 3u);
  EXPECT_EQ(f->find_tensor("t1")->offset, 64u);
  EXPECT_EQ(f->find_tensor("t2")->offset, 224u);
  EXPECT_EQ(f->data_offset(), (l.infos_end + 31) / 32 * 32);
}

TEST(GgufCorruptTest, HeaderFields) {
  const Bytes base = made_file();
  Bytes b = base;
  std::memcpy(b.data(), "GGUX", 4);
  EXPECT_GGUF_ERROR(b, "not a GGUF file: bad magic 'GGUX'");
  b = base;
  std::memcpy(b.data(), "\x89PNG", 4);
  EXPECT_GGUF_ERROR(b, "bad magic '\\x89PNG'");
  EXPECT_GGUF_ERROR(Bytes({'G', 'G'}), "not a GGUF file: only 2 bytes");

  b = base;
  put_u32(&b, 4, 1);
  EXPECT_GGUF_ERROR(b, "GGUF version 1 is not supported");
  put_u32(&b, 4, 99);
  EXPECT_GGUF_ERROR(b, "unsupported GGUF version 99");
  put_u32(&b, 4, 0);
  EXPECT_GGUF_ERROR(b, "unsupported GGUF version 0");
  put_u32(&b, 4, 0x03000000);
  EXPECT_GGUF_ERROR(b, "big-endian GGUF files are not supported");
  put_u32(&b, 4, 2);  // v2 has the same layout as v3
  EXPECT_EQ(error_of(b), "<ok>");

  b = base;
  put_u64(&b, 8, uint64_t(1) << 63);
  EXPECT_GGUF_ERROR(b, "header claims 9223372036854775808 tensors");
  b = base;
  put_u64(&b, 16, uint64_t(1) << 40);
  EXPECT_GGUF_ERROR(b, "header claims 1099511627776 metadata entries");
  b = base;
  put_u64(&b, 16, UINT64_MAX);
  EXPECT_GGUF_ERROR(b, "header claims 18446744073709551615 metadata entries");
  b = base;  // each count alone is plausible, together they are not
  put_u64(&b, 8, (b.size() - 24) / 32);
  put_u64(&b, 16, (b.size() - 24) / 13);
  EXPECT_GGUF_ERROR(b, "more than the");
}

TEST(GgufCorruptTest, KeysAndValues) {
  const Bytes base = made_file();
  const Layout l = walk(base);
  Bytes b = base;
  put_u64(&b, l.kvs[0].key_len_at, uint64_t(1) << 62);
  EXPECT_GGUF_ERROR(b, "key of metadata entry #0: string length 4611686018427387904");
  b = base;
  put_u64(&b, l.kvs[0].key_len_at, 0);
  EXPECT_GGUF_ERROR(b, "metadata entry #0 has an empty key");
  b = base;
  put_u64(&b, l.kv("general.architecture").value_at, b.size());
  EXPECT_GGUF_ERROR(b, "value of key 'general.architecture': string length");
  b = base;
  put_u32(&b, l.kv("a.x").type_at, 13);
  EXPECT_GGUF_ERROR(b, "key 'a.x' has invalid value type 13 (GGUF types are 0..12)");
  b = base;
  put_u32(&b, l.kv("a.x").type_at, 0xFFFFFFFF);
  EXPECT_GGUF_ERROR(b, "key 'a.x' has invalid value type 4294967295");

  const size_t tokens = l.kv("t.tokens").value_at;
  b = base;
  put_u32(&b, tokens, 77);
  EXPECT_GGUF_ERROR(b, "key 't.tokens': array has invalid element type 77");
  b = base;
  put_u64(&b, tokens + 4, uint64_t(1) << 61);
  EXPECT_GGUF_ERROR(b, "key 't.tokens': array of 2305843009213693952 str elements");
  b = base;
  put_u64(&b, tokens + 12 + 8 + 5, 1000);  // length of element 1 ("a")
  EXPECT_GGUF_ERROR(b, "key 't.tokens' element 1: string length 1000");
  b = base;
  put_u32(&b, tokens, 4);  // three u32 fit in the string bytes: then the next key is garbage
  EXPECT_NE(error_of(b), "<ok>");

  // Duplicate keys: "a.y" becomes "a.x".
  b = base;
  b[l.kv("a.y").key_len_at + 8 + 2] = 'x';
  EXPECT_GGUF_ERROR(b, "duplicate key 'a.x' (metadata entries #1 and #2)");

  const size_t nested = l.kv("t.nested").value_at;
  b = base;
  put_u32(&b, nested + 12, 9);  // inner array claims to hold arrays: depth 3
  EXPECT_GGUF_ERROR(b, "arrays nested more than 2 deep");
}

TEST(GgufCorruptTest, NestedArrayRules) {
  static const int32_t kInts[] = {1};
  static const float kFloats[] = {1.0f};
  const GgufValue ints = GgufValue::numeric_array(GgufType::kI32, kInts, 1);
  const GgufValue floats = GgufValue::numeric_array(GgufType::kF32, kFloats, 1);
  Bytes b = made_file([&](GgufWriter* w) {
    w->set_value("t.deep", GgufValue::nested_array({GgufValue::nested_array({ints})}));
  });
  EXPECT_GGUF_ERROR(b, "key 't.deep': arrays nested more than 2 deep");
  b = made_file([&](GgufWriter* w) {
    w->set_value("t.mixed", GgufValue::nested_array({ints, floats}));
  });
  EXPECT_GGUF_ERROR(b, "key 't.mixed': nested arrays mix element types i32 and f32");
}

TEST(GgufCorruptTest, BadAlignment) {
  const Bytes base = made_file();
  const Layout l = walk(base);
  const size_t at = l.kv("general.alignment").value_at;
  Bytes b = base;
  put_u32(&b, at, 3);
  EXPECT_GGUF_ERROR(b, "general.alignment 3 is not a power of two");
  put_u32(&b, at, 0);
  EXPECT_GGUF_ERROR(b, "general.alignment 0 is not a power of two");
  put_u32(&b, at, 64);  // valid, but t2 at 224 is not 64-aligned
  EXPECT_GGUF_ERROR(b, "tensor 't2' offset 224 is not a multiple of the alignment 64");
  b = base;
  put_u32(&b, l.kv("general.alignment").type_at, uint32_t(GgufType::kF32));
  EXPECT_GGUF_ERROR(b, "general.alignment has type f32; expected an unsigned integer");
  b = made_file([](GgufWriter* w) { w->set_string("general.alignment", "32"); });
  EXPECT_GGUF_ERROR(b, "general.alignment has type str");
}

TEST(GgufCorruptTest, TensorInfos) {
  const Bytes base = made_file();
  const Layout l = walk(base);
  const TensorAt& t0 = l.tensor("t0");
  const TensorAt& t1 = l.tensor("t1");
  const TensorAt& t2 = l.tensor("t2");
  Bytes b = base;
  put_u64(&b, t0.name_len_at, uint64_t(1) << 62);
  EXPECT_GGUF_ERROR(b, "name of tensor #0: string length 4611686018427387904");
  b = base;
  put_u64(&b, t0.name_len_at, 0);
  EXPECT_GGUF_ERROR(b, "tensor #0 has an empty name");
  b = base;
  b[t1.name_len_at + 8 + 1] = '0';
  EXPECT_GGUF_ERROR(b, "duplicate tensor name 't0' (tensors #0 and #1)");

  b = base;
  put_u32(&b, t0.n_dims_at, 0);
  EXPECT_GGUF_ERROR(b, "tensor 't0' has n_dims 0; GGUF allows 1 to 4");
  put_u32(&b, t0.n_dims_at, 5);
  EXPECT_GGUF_ERROR(b, "tensor 't0' has n_dims 5");
  b = base;
  put_u64(&b, t0.dims_at + 8, 0);
  EXPECT_GGUF_ERROR(b, "tensor 't0' dimension 1 is 0");
  b = base;
  put_u64(&b, t0.dims_at, uint64_t(1) << 62);
  put_u64(&b, t0.dims_at + 8, 4);
  EXPECT_GGUF_ERROR(b, "tensor 't0': element count overflows int64 at dimension 1");
  b = base;
  put_u64(&b, t0.dims_at, uint64_t(1) << 63);
  EXPECT_GGUF_ERROR(b, "tensor 't0': element count overflows int64 at dimension 0");

  b = base;
  put_u32(&b, t0.type_at, 200);
  EXPECT_GGUF_ERROR(b, "tensor 't0' has unknown type id 200");
  put_u32(&b, t0.type_at, 4);  // GGML's removed Q4_2
  EXPECT_GGUF_ERROR(b, "tensor 't0' has unknown type id 4");
  b = base;
  put_u64(&b, t1.dims_at, 48);
  EXPECT_GGUF_ERROR(b,
                    "tensor 't1': first dimension 48 is not a multiple of the q8_0 block "
                    "size 32");

  b = base;
  put_u64(&b, t1.offset_at, 65);
  EXPECT_GGUF_ERROR(b, "tensor 't1' offset 65 is not a multiple of the alignment 32");
  b = base;
  put_u64(&b, t2.offset_at, uint64_t(1) << 40);
  EXPECT_GGUF_ERROR(b, "tensor 't2' (offset 1099511627776, 16 bytes) extends past the end");
  b = base;
  put_u64(&b, t2.offset_at, UINT64_MAX - 31);  // aligned, and offset + bytes wraps around
  EXPECT_GGUF_ERROR(b, "extends past the end of the file");
  b = base;
  put_u64(&b, t2.offset_at, 256);  // the data section is 224 + 16 padded to 256 bytes
  EXPECT_GGUF_ERROR(b,
                    "tensor 't2' (offset 256, 16 bytes) extends past the end of the file: "
                    "the data section holds 256 bytes");
  b = base;
  put_u64(&b, t1.offset_at, 32);
  EXPECT_GGUF_ERROR(b, "tensors 't0' (offset 0, 64 bytes) and 't1' (offset 32) overlap");
  b = base;
  put_u64(&b, t2.offset_at, 0);  // overlaps t0 too; sorted order puts t0 and t2 side by side
  EXPECT_GGUF_ERROR(b, "overlap");
}

TEST(GgufCorruptTest, DefinedButUnsupportedTypeIsReadable) {
  // `info` must describe any file GGML can write; compute code checks `supported`.
  GgufWriter w;
  const int64_t ne[] = {256, 2};
  ASSERT_TRUE(w.add_tensor("iq", DType::IQ2_XXS, ne, [](std::span<uint8_t> d) {
                 std::memset(d.data(), 0, d.size());
                 return Status::Ok();
               }).ok());
  testing::TempDir dir;
  ASSERT_TRUE(w.write(dir.file("iq.gguf")).ok());
  StatusOr<GgufFile> f = GgufFile::open(dir.file("iq.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->tensors()[0].dtype, DType::IQ2_XXS);
  EXPECT_EQ(f->tensors()[0].bytes, 2u * 66);
  EXPECT_FALSE(dtype_info(f->tensors()[0].dtype).supported);
}

// The same targeted breakage on every real fixture (llama.cpp- and gguf-py-written), so
// the field walker and the checks are exercised on real layouts, not only on ours.
TEST(GgufCorruptTest, RealFixturesBrokenAtKnownFields) {
  std::vector<std::string> files = testing::fixture_ggufs("models");
  for (const std::string& f : testing::fixture_ggufs("vocab")) files.push_back(f);
  if (files.empty()) GTEST_SKIP() << "fixtures missing: " << testing::fixtures_dir();
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    Bytes b = testing::read_bytes(path);
    ASSERT_EQ(error_of(b), "<ok>");
    const Layout l = walk(b);
    auto with = [&](size_t at, uint64_t v, int width, const std::string& want) {
      const Bytes saved(b.begin() + at, b.begin() + at + width);
      if (width == 8) put_u64(&b, at, v);
      if (width == 4) put_u32(&b, at, uint32_t(v));
      EXPECT_GGUF_ERROR(b, want);
      std::copy(saved.begin(), saved.end(), b.begin() + at);
    };
    with(16, uint64_t(1) << 60, 8, "header claims 1152921504606846976 metadata entries");
    with(l.kvs[0].type_at, 13, 4, "has invalid value type 13");
    with(l.kv("tokenizer.ggml.tokens").value_at + 4, uint64_t(1) << 59, 8,
         "key 'tokenizer.ggml.tokens': array of 576460752303423488 str elements");
    with(l.kv("tokenizer.ggml.tokens").value_at + 12, b.size(), 8,
         "key 'tokenizer.ggml.tokens' element 0: string length");
    if (l.tensors.empty()) continue;
    const TensorAt& first = l.tensors.front();
    const TensorAt& last = l.tensors.back();
    with(first.n_dims_at, 5, 4, "tensor '" + first.name + "' has n_dims 5");
    with(last.type_at, 200, 4, "tensor '" + last.name + "' has unknown type id 200");
    with(last.offset_at, get_u64(b, last.offset_at) + 1, 8, "tensor '" + last.name + "' offset");
    with(last.offset_at, uint64_t(1) << 50, 8,
         "tensor '" + last.name + "' (offset 1125899906842624");
    with(l.tensors[1].offset_at, get_u64(b, first.offset_at), 8, "overlap");
    with(first.dims_at, 0, 8, "tensor '" + first.name + "' dimension 0 is 0");
    // Truncation in the middle of the data section (a view: copying would cost more than
    // the parse).
    EXPECT_GGUF_ERROR(std::span<const uint8_t>(b.data(), (l.infos_end + b.size()) / 2),
                      "extends past the end of the file");
  }
}

// Which message a prefix of a valid file must produce, by where the cut falls.
void check_truncations(const Bytes& full, size_t step_in_data) {
  const Layout l = walk(full);
  StatusOr<GgufFile> ok = GgufFile::from_bytes(full);
  ASSERT_TRUE(ok.ok());
  uint64_t data_end = ok->data_offset();
  for (const GgufTensor& t : ok->tensors())
    data_end = std::max(data_end, ok->data_offset() + t.offset + t.bytes);
  std::vector<size_t> cuts;
  for (size_t n = 0; n < l.infos_end + 64 && n < full.size(); ++n) cuts.push_back(n);
  for (size_t n = l.infos_end + 64; n < full.size(); n += step_in_data) cuts.push_back(n);
  if (data_end > 0) cuts.push_back(data_end - 1);
  for (size_t n : cuts) {
    const Bytes prefix(full.begin(), full.begin() + n);  // exact size: ASan sees over-reads
    const std::string msg = error_of(prefix);
    SCOPED_TRACE("cut at " + std::to_string(n) + ": " + msg);
    if (n >= data_end && !ok->tensors().empty()) {
      EXPECT_EQ(msg, "<ok>");  // only trailing padding was cut
    } else if (n < 4) {
      EXPECT_NE(msg.find("not a GGUF file: only"), std::string::npos);
    } else if (n < 24) {
      EXPECT_NE(msg.find("file truncated"), std::string::npos);
    } else if (n < l.infos_end) {
      // A cut inside the header: a read ran out, a length or count no longer fits, or the
      // counts no longer fit at all.
      EXPECT_TRUE(msg.find("file truncated") != std::string::npos ||
                  msg.find("bytes left in the file") != std::string::npos ||
                  msg.find("bytes are left in the file") != std::string::npos ||
                  msg.find("header claims") != std::string::npos);
    } else if (!ok->tensors().empty()) {
      EXPECT_TRUE(msg.find("extends past the end of the file") != std::string::npos ||
                  msg.find("data section would start at offset") != std::string::npos);
    }
  }
}

TEST(GgufCorruptTest, TruncatedMadeFileAtEveryOffset) { check_truncations(made_file(), 1); }

TEST(GgufCorruptTest, TruncatedFixturesAtEveryHeaderOffset) {
  const std::string path = testing::fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  check_truncations(testing::read_bytes(path), 4099);
}

TEST(GgufCorruptTest, TruncatedVocabFixture) {
  // A tensor-less file with a 32000-token vocabulary: cut at ~60 spread offsets (each parse
  // walks the whole vocabulary, so every offset would cost seconds under ASan).
  const std::string path = testing::fixture("vocab/ggml-vocab-llama-spm.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  const Bytes full = testing::read_bytes(path);
  for (size_t n = 0; n < full.size(); n += full.size() / 61 + 1) {
    const std::string msg = error_of(Bytes(full.begin(), full.begin() + n));
    SCOPED_TRACE("cut at " + std::to_string(n));
    EXPECT_NE(msg, "<ok>");
    EXPECT_FALSE(msg.empty());
  }
  EXPECT_NE(error_of(Bytes(full.begin(), full.end() - 1)), "<ok>");
}

TEST(GgufCorruptTest, TruncatedFileOnDiskNamesThePath) {
  const Bytes full = made_file();
  testing::TempDir dir;
  const std::string path = dir.file("cut.gguf");
  ASSERT_TRUE(testing::write_bytes(path, full.data(), full.size() - 40));
  StatusOr<GgufFile> f = GgufFile::open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message().rfind(path + ": tensor 't2'", 0), 0u) << f.status().message();
  EXPECT_NE(f.status().message().find("extends past the end of the file"), std::string::npos);
}

// Deterministic mutations of the header region: whatever the parser accepts must still be
// internally consistent; whatever it rejects must come with a message.
void fuzz(Bytes b, int iterations, uint64_t seed) {
  const Layout l = walk(b);
  const size_t header = l.infos_end;
  uint64_t s = seed;
  auto next = [&s] {  // xorshift64*
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  };
  const uint64_t kInteresting[] = {0,
                                   1,
                                   2,
                                   3,
                                   4,
                                   5,
                                   13,
                                   31,
                                   32,
                                   33,
                                   255,
                                   0x7FFFFFFF,
                                   0xFFFFFFFF,
                                   uint64_t(1) << 32,
                                   uint64_t(1) << 62,
                                   uint64_t(1) << 63,
                                   UINT64_MAX,
                                   b.size(),
                                   b.size() - 1};
  int accepted = 0;
  for (int it = 0; it < iterations; ++it) {
    const Bytes saved(b.begin(), b.begin() + header);
    const int kind = int(next() % 4);
    const int edits = 1 + int(next() % 3);
    for (int e = 0; e < edits; ++e) {
      if (kind == 0) {
        b[next() % header] ^= uint8_t(1u << (next() % 8));
      } else if (kind == 1) {
        b[next() % header] = uint8_t(next());
      } else {
        const size_t at = l.fields[next() % l.fields.size()];
        const uint64_t v = kInteresting[next() % std::size(kInteresting)];
        if (kind == 2 && at + 8 <= header) put_u64(&b, at, v);
        if (kind == 3 && at + 4 <= header) put_u32(&b, at, uint32_t(v));
      }
    }
    StatusOr<GgufFile> f = GgufFile::from_bytes(b);
    if (f.ok()) {
      ++accepted;
      for (const GgufTensor& t : f->tensors()) {
        const uint8_t* p = static_cast<const uint8_t*>(t.data);
        ASSERT_TRUE(p >= b.data() && p + t.bytes <= b.data() + b.size()) << "iteration " << it;
      }
      for (const GgufKv& kv : f->kvs()) {
        ASSERT_TRUE(kv.key.data() >= reinterpret_cast<const char*>(b.data()) &&
                    kv.key.data() + kv.key.size() <=
                        reinterpret_cast<const char*>(b.data()) + b.size());
        (void)gguf_value_to_string(kv.value);  // walks every view of the value
      }
    } else {
      ASSERT_FALSE(f.status().message().empty()) << "iteration " << it;
    }
    std::copy(saved.begin(), saved.end(), b.begin());
  }
  // Flipping string bytes or token scores leaves a valid file, so some must pass; if none
  // did, the mutations would only ever hit the magic and the test would prove little.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, iterations);
}

TEST(GgufCorruptTest, FuzzMadeFile) { fuzz(made_file(), 3000, 1); }

TEST(GgufCorruptTest, FuzzStories260KHeader) {
  const std::string path = testing::fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  fuzz(testing::read_bytes(path), 3000, 2);
}

}  // namespace
}  // namespace muse
