// Checkpoints: bit-exact round trips of tensors and state, a training run that resumes from
// a checkpoint ending bit-identical to one that never stopped, and every way a load must
// fail (shape, missing, extra, truncated at each byte, corrupt, wrong kind) without a crash
// and without touching the caller's buffers.
#include "train/checkpoint.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>

#include "gguf/gguf_writer.h"
#include "gguf/test_util.h"
#include "train/optim.h"

namespace muse {
namespace {

using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

float from_bits(uint32_t b) { return std::bit_cast<float>(b); }

// Owns the buffers a trainer would own, and hands out CheckpointTensor views of them.
struct Buffers {
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::vector<float>> data;

  void add(std::string name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    names.push_back(std::move(name));
    shapes.push_back(std::move(shape));
    data.emplace_back(size_t(n), 0.0f);
  }
  std::vector<CheckpointTensor> views() {
    std::vector<CheckpointTensor> out;
    for (size_t i = 0; i < names.size(); ++i) out.push_back({names[i], shapes[i], data[i]});
    return out;
  }
};

// Three tensors shaped like a trainer's, filled with the float bit patterns a careless
// format would lose: NaN payloads of both signs, signalling NaN, denormals, -0.0, infinities.
Buffers sample_buffers() {
  Buffers b;
  b.add("blk.0.attn_q.weight", {4, 3});
  b.add("adam_m.blk.0.attn_q.weight", {4, 3});
  b.add("adam_v.blk.3.ffn_gate_exps.weight", {2, 2, 2, 2});
  const uint32_t special[] = {0x7fc12345, 0xffc00001, 0x7f800001, 0x00000001, 0x807fffff,
                              0x80000000, 0x7f800000, 0xff800000, 0x7f7fffff, 0x3f800000};
  uint32_t x = 12345;
  for (size_t t = 0; t < b.data.size(); ++t) {
    for (size_t i = 0; i < b.data[t].size(); ++i) {
      x = x * 1664525u + 1013904223u;
      b.data[t][i] =
          i < std::size(special) ? from_bits(special[(i + t) % std::size(special)]) : from_bits(x);
    }
  }
  return b;
}

CheckpointState sample_state() {
  CheckpointState st;
  st.step = 1234;
  st.rng_state = 0xFEDCBA9876543210ull;  // above 2^63: must stay unsigned
  st.config = R"({"model":{"n_layer":4,"name":"tiny \"q\" ▁"},"lr":3e-4})";
  st.strings = {{"phase", "sft"}, {"empty", ""}, {"", "empty key"}};
  st.numbers = {{"tokens_seen", 1.5e12},
                {"neg_zero", -0.0},
                {"nan", from_bits(0x7fc00000)},
                {"tiny", std::numeric_limits<double>::denorm_min()}};
  return st;
}

bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(Checkpoint, RoundTripsTensorsBitExactAndState) {
  TempDir dir;
  const std::string path = dir.file("ck.gguf");
  Buffers saved = sample_buffers();
  const CheckpointState st = sample_state();
  ASSERT_TRUE(save_checkpoint(path, st, saved.views()).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  Buffers loaded = sample_buffers();
  for (auto& d : loaded.data) std::fill(d.begin(), d.end(), 7.0f);
  CheckpointState got;
  got.strings["stale"] = "must be dropped";
  const Status s = load_checkpoint(path, &got, loaded.views());
  ASSERT_TRUE(s.ok()) << s.message();
  for (size_t t = 0; t < saved.data.size(); ++t) {
    EXPECT_TRUE(bits_equal(saved.data[t], loaded.data[t])) << saved.names[t];
  }
  EXPECT_EQ(got.step, st.step);
  EXPECT_EQ(got.rng_state, st.rng_state);
  EXPECT_EQ(got.config, st.config);
  EXPECT_EQ(got.strings, st.strings);
  ASSERT_EQ(got.numbers.size(), st.numbers.size());
  for (const auto& [k, v] : st.numbers) {
    ASSERT_TRUE(got.numbers.count(k)) << k;
    EXPECT_EQ(std::bit_cast<uint64_t>(got.numbers[k]), std::bit_cast<uint64_t>(v)) << k;
  }
}

TEST(Checkpoint, EmptyStateAndNoTensorsRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("empty.gguf");
  ASSERT_TRUE(save_checkpoint(path, CheckpointState{}, {}).ok());
  CheckpointState got = sample_state();
  const Status s = load_checkpoint(path, &got, {});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got.step, 0);
  EXPECT_EQ(got.rng_state, 0u);
  EXPECT_EQ(got.config, "");
  EXPECT_TRUE(got.strings.empty());
  EXPECT_TRUE(got.numbers.empty());
}

// A toy run: params follow AdamW on gradients drawn from an RNG whose state lives in the
// checkpoint. Stopping halfway, saving, loading into fresh buffers and finishing must give
// exactly the weights of the run that never stopped.
struct ToyRun {
  std::vector<float> p, m, v;
  CheckpointState st;
  explicit ToyRun(size_t n) : p(n), m(n, 0.0f), v(n, 0.0f) {
    for (size_t i = 0; i < n; ++i) p[i] = float(i) * 0.01f - 0.3f;
    st.rng_state = 42;
  }
  std::vector<CheckpointTensor> views() {
    const int64_t n = int64_t(p.size());
    return {{"w", {n}, p}, {"adam_m.w", {n}, m}, {"adam_v.w", {n}, v}};
  }
  void steps(ThreadPool& pool, int n_steps) {
    std::vector<float> g(p.size());
    for (int s = 0; s < n_steps; ++s) {
      for (size_t i = 0; i < g.size(); ++i) {
        st.rng_state = st.rng_state * 6364136223846793005ull + 1442695040888963407ull;
        g[i] = p[i] + float(int64_t(st.rng_state >> 40) - (1 << 23)) * 1e-7f;
      }
      ++st.step;
      adamw_step(pool, {.lr = 0.05f, .weight_decay = 0.1f}, st.step, p.data(), g.data(), m.data(),
                 v.data(), int64_t(p.size()));
    }
  }
};

TEST(Checkpoint, ResumedRunIsBitIdenticalToUninterruptedRun) {
  TempDir dir;
  ThreadPool pool(2);
  ToyRun straight(37), first_half(37);
  straight.steps(pool, 20);
  first_half.steps(pool, 10);
  const std::string path = dir.file("mid.gguf");
  ASSERT_TRUE(save_checkpoint(path, first_half.st, first_half.views()).ok());

  ToyRun resumed(37);
  std::fill(resumed.p.begin(), resumed.p.end(), 0.0f);
  const Status s = load_checkpoint(path, &resumed.st, resumed.views());
  ASSERT_TRUE(s.ok()) << s.message();
  resumed.steps(pool, 10);
  EXPECT_EQ(resumed.st.step, 20);
  EXPECT_EQ(resumed.st.rng_state, straight.st.rng_state);
  EXPECT_TRUE(bits_equal(resumed.p, straight.p));
  EXPECT_TRUE(bits_equal(resumed.m, straight.m));
  EXPECT_TRUE(bits_equal(resumed.v, straight.v));
}

// Saves the sample, then expects load into `b` to fail with every fragment in `expect` and
// to leave the buffers exactly as they were.
void expect_load_fails(const std::string& path, Buffers b,
                       std::initializer_list<std::string> expect) {
  for (auto& d : b.data) std::fill(d.begin(), d.end(), 7.0f);
  const Buffers before = b;
  CheckpointState st;
  st.step = -5;
  const Status s = load_checkpoint(path, &st, b.views());
  ASSERT_FALSE(s.ok());
  for (const std::string& e : expect) {
    EXPECT_NE(s.message().find(e), std::string::npos) << "'" << e << "' not in: " << s.message();
  }
  EXPECT_EQ(st.step, -5) << "state changed by a failed load";
  for (size_t t = 0; t < b.data.size(); ++t) EXPECT_TRUE(bits_equal(b.data[t], before.data[t]));
}

class CheckpointErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("ck.gguf");
    Buffers b = sample_buffers();
    ASSERT_TRUE(save_checkpoint(path_, sample_state(), b.views()).ok());
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(CheckpointErrors, ShapeMismatchNamesTensorAndBothShapes) {
  Buffers b = sample_buffers();
  b.shapes[1] = {3, 4};  // same element count, transposed
  expect_load_fails(path_, b, {"adam_m.blk.0.attn_q.weight", "[4, 3]", "[3, 4]"});
  b = sample_buffers();
  b.shapes[2] = {4, 4};  // different rank
  expect_load_fails(path_, b, {"adam_v.blk.3.ffn_gate_exps.weight", "[2, 2, 2, 2]", "[4, 4]"});
}

TEST_F(CheckpointErrors, MissingTensor) {
  Buffers b = sample_buffers();
  b.add("adam_v.blk.0.attn_q.weight", {4, 3});
  expect_load_fails(path_, b, {"adam_v.blk.0.attn_q.weight", "missing"});
}

TEST_F(CheckpointErrors, ExtraTensorInFile) {
  Buffers b = sample_buffers();
  b.names.erase(b.names.begin());
  b.shapes.erase(b.shapes.begin());
  b.data.erase(b.data.begin());
  expect_load_fails(path_, b, {"blk.0.attn_q.weight", "did not ask for"});
}

TEST_F(CheckpointErrors, CallerBufferDisagreesWithShape) {
  Buffers b = sample_buffers();
  b.data[0].resize(11);
  expect_load_fails(path_, b, {"blk.0.attn_q.weight", "buffer holds 11"});
}

TEST_F(CheckpointErrors, TruncatedAtEveryOffsetIsAnError) {
  const std::vector<uint8_t> full = read_bytes(path_);
  ASSERT_GT(full.size(), 512u);
  const std::string cut = dir_.file("cut.gguf");
  for (size_t n = 0; n < full.size(); ++n) {
    ASSERT_TRUE(write_bytes(cut, full.data(), n));
    Buffers b = sample_buffers();
    CheckpointState st;
    const Status s = load_checkpoint(cut, &st, b.views());
    EXPECT_FALSE(s.ok()) << "truncated to " << n << " of " << full.size() << " bytes loaded";
    EXPECT_NE(s.message().find(cut), std::string::npos) << s.message();
  }
  std::vector<uint8_t> longer = full;
  longer.push_back(0);
  ASSERT_TRUE(write_bytes(cut, longer));
  expect_load_fails(cut, sample_buffers(), {"trailing bytes"});
}

TEST_F(CheckpointErrors, CorruptTensorByteFailsChecksum) {
  std::vector<uint8_t> bytes = read_bytes(path_);
  StatusOr<GgufFile> f = GgufFile::open(path_);
  ASSERT_TRUE(f.ok());
  const GgufTensor* t = f->find_tensor("adam_v.blk.3.ffn_gate_exps.weight");
  ASSERT_NE(t, nullptr);
  bytes[f->data_offset() + t->offset + 5] ^= 0x10;
  const std::string bad = dir_.file("bad.gguf");
  ASSERT_TRUE(write_bytes(bad, bytes));
  expect_load_fails(bad, sample_buffers(), {"adam_v.blk.3.ffn_gate_exps.weight", "checksum"});
}

TEST_F(CheckpointErrors, NotACheckpoint) {
  const std::string model = dir_.file("model.gguf");
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  ASSERT_TRUE(w.write(model).ok());
  expect_load_fails(model, sample_buffers(), {"not a muse training checkpoint"});

  const std::string junk = dir_.file("junk.bin");
  const std::string text = "this is not gguf at all, just some text\n";
  ASSERT_TRUE(write_bytes(junk, reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  expect_load_fails(junk, sample_buffers(), {junk});
  expect_load_fails(dir_.file("absent.gguf"), sample_buffers(), {"absent.gguf"});
  expect_load_fails(dir_.path(), sample_buffers(), {dir_.path()});
}

// Writes a checkpoint by hand so one key or tensor can be wrong.
Status write_custom(const std::string& path, uint32_t version, bool step_as_string, DType dtype) {
  GgufWriter w;
  w.set_u32("muse.train.format_version", version);
  if (step_as_string) {
    w.set_string("muse.train.step", "12");
  } else {
    w.set_i64("muse.train.step", 12);
  }
  w.set_u64("muse.train.rng_state", 1);
  w.set_string("muse.train.config", "{}");
  const uint64_t sum = 0;
  w.set_value("muse.train.checksums", GgufValue::numeric_array(GgufType::kU64, &sum, 1));
  const int64_t ne[] = {32};
  const std::vector<uint8_t> zeros(32 * 4, 0);
  MUSE_RETURN_IF_ERROR(w.add_tensor("w", dtype, ne, zeros.data()));
  return w.write(path);
}

TEST_F(CheckpointErrors, WrongVersionKeyTypeOrTensorType) {
  Buffers b;
  b.add("w", {32});
  const std::string p = dir_.file("custom.gguf");
  ASSERT_TRUE(write_custom(p, 2, false, DType::F32).ok());
  expect_load_fails(p, b, {"muse.train.format_version", "version 1"});
  ASSERT_TRUE(write_custom(p, 1, true, DType::F32).ok());
  expect_load_fails(p, b, {"muse.train.step"});
  ASSERT_TRUE(write_custom(p, 1, false, DType::F16).ok());
  expect_load_fails(p, b, {"'w'", "f16"});
}

TEST(CheckpointSave, FailedSaveLeavesNoFile) {
  TempDir dir;
  Buffers b = sample_buffers();
  const std::string nowhere = dir.file("no/such/dir/ck.gguf");
  const Status s = save_checkpoint(nowhere, sample_state(), b.views());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(nowhere), std::string::npos) << s.message();
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  // A rename that fails (the target is a directory) must remove the temporary file.
  const std::string target = dir.file("is_a_dir");
  std::filesystem::create_directory(target);
  ASSERT_FALSE(save_checkpoint(target, sample_state(), b.views()).ok());
  EXPECT_FALSE(std::filesystem::exists(target + ".tmp"));
}

TEST(CheckpointSave, InvalidTensorKeepsPreviousCheckpoint) {
  TempDir dir;
  const std::string path = dir.file("ck.gguf");
  Buffers b = sample_buffers();
  ASSERT_TRUE(save_checkpoint(path, sample_state(), b.views()).ok());
  const std::vector<uint8_t> before = read_bytes(path);

  Buffers bad = sample_buffers();
  bad.shapes[2] = {2, 2, 2};  // 8 elements for a 16-float buffer
  Status s = save_checkpoint(path, CheckpointState{}, bad.views());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("adam_v.blk.3.ffn_gate_exps.weight"), std::string::npos);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  bad = sample_buffers();
  bad.shapes[0] = {};
  EXPECT_FALSE(save_checkpoint(path, CheckpointState{}, bad.views()).ok());
  bad = sample_buffers();
  bad.names[1] = bad.names[0];
  EXPECT_FALSE(save_checkpoint(path, CheckpointState{}, bad.views()).ok());
  EXPECT_EQ(read_bytes(path), before);
}

TEST(CheckpointSave, TensorNameLimitIsGgmls63Bytes) {
  TempDir dir;
  const std::string path = dir.file("ck.gguf");
  std::vector<float> x(4, 1.0f);
  const std::string ok_name(63, 'n');
  const std::string long_name = "adam_m." + std::string(57, 'n');  // 64 bytes
  const CheckpointTensor fits[] = {{ok_name, {4}, x}};
  ASSERT_TRUE(save_checkpoint(path, {}, fits).ok());
  CheckpointState st;
  ASSERT_TRUE(load_checkpoint(path, &st, fits).ok());
  const CheckpointTensor too_long[] = {{long_name, {4}, x}};
  const Status s = save_checkpoint(path, {}, too_long);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(long_name), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("63"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace muse
