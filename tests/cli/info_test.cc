// `muse info` as a user runs it: succeeds on every fixture, prints the right architecture
// and counts, and turns a corrupt or missing file into exit code 1 with a message.
#include <gtest/gtest.h>

#include "cli/run_util.h"
#include "gguf/gguf.h"

namespace muse {
namespace {

using testing::run_muse;
using testing::shell_quote;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(InfoTest, SucceedsOnEveryFixture) {
  std::vector<std::string> files = testing::fixture_ggufs("models");
  for (const std::string& f : testing::fixture_ggufs("vocab")) files.push_back(f);
  if (files.empty()) GTEST_SKIP() << "fixtures missing: " << testing::fixtures_dir();
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    const testing::RunResult r = run_muse("info " + shell_quote(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_TRUE(contains(r.out, "general.architecture")) << r.out;
    StatusOr<GgufFile> f = GgufFile::open(path);
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(contains(r.out, "tensors (" + std::to_string(f->tensors().size()) + "):"));
    const testing::RunResult j = run_muse("info --json " + shell_quote(path));
    ASSERT_EQ(j.exit_code, 0) << j.err;
    EXPECT_TRUE(contains(j.out, "\"n_tensors\":" + std::to_string(f->tensors().size())));
  }
}

TEST(InfoTest, Stories260K) {
  const std::string path = testing::fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  const testing::RunResult r = run_muse("info " + shell_quote(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "general.architecture")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"llama\""));
  // 5 layers x 9 tensors + 3; parameters: 2 x 64x512 + 64 + 5 x (2x64x64 + 2x64x32 + 3x64x172
  // + 2x64) = 292800, all f32.
  EXPECT_TRUE(contains(r.out, "tensors (48):"));
  EXPECT_TRUE(contains(r.out, "total: 48 tensors, 292800 parameters")) << r.out;
  EXPECT_TRUE(contains(r.out, "32.0000 bits per weight"));
  EXPECT_TRUE(contains(r.out, "[str \xC3\x97 512] [\"<unk>\", \"<s>\", \"</s>\""));
  EXPECT_TRUE(contains(r.out, "blk.4.ffn_down.weight")) << r.out;
  EXPECT_TRUE(contains(r.out, "[172, 64]"));
  EXPECT_FALSE(contains(r.out, "\"<0xFF>\""));  // token 258: beyond the summary
  const testing::RunResult all = run_muse("info --all " + shell_quote(path));
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(contains(all.out, "\"<0xFE>\", \"<0xFF>\""));

  const testing::RunResult j = run_muse("info --json " + shell_quote(path));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_TRUE(contains(j.out,
                       "{\"key\":\"general.architecture\",\"type\":\"str\",\"value\":"
                       "\"llama\"}"))
      << j.out.substr(0, 2000);
  EXPECT_TRUE(contains(j.out, "\"n_params\":292800"));
  EXPECT_TRUE(contains(j.out, "\"element_type\":\"str\",\"count\":512,\"truncated\":true"));
}

TEST(InfoTest, Qwen2ArchitectureAndBiases) {
  const std::string path = testing::fixture("models/qwen2-gpt2-tiny-q8_0.gguf");
  MUSE_REQUIRE_FIXTURE(path);
  const testing::RunResult r = run_muse("info " + shell_quote(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"qwen2\""));
  // 2 layers x (9 llama tensors + q/k/v biases) + 3 globals.
  EXPECT_TRUE(contains(r.out, "tensors (27):")) << r.out;
  EXPECT_TRUE(contains(r.out, "blk.1.attn_q.bias"));
  EXPECT_TRUE(contains(r.out, "[str \xC3\x97 50257]"));  // GPT-2 vocabulary
}

TEST(InfoTest, CorruptFileFailsWithMessage) {
  const std::string src = testing::fixture("models/stories260K.gguf");
  MUSE_REQUIRE_FIXTURE(src);
  testing::TempDir dir;
  std::vector<uint8_t> bytes = testing::read_bytes(src);
  std::vector<uint8_t> bad_magic = bytes;
  bad_magic[0] = 'X';
  ASSERT_TRUE(testing::write_bytes(dir.file("magic.gguf"), bad_magic));
  testing::RunResult r = run_muse("info " + shell_quote(dir.file("magic.gguf")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "bad magic")) << r.err;
  EXPECT_TRUE(contains(r.err, dir.file("magic.gguf"))) << r.err;
  EXPECT_TRUE(r.out.empty());

  ASSERT_TRUE(testing::write_bytes(dir.file("cut.gguf"), bytes.data(), bytes.size() / 2));
  r = run_muse("info --json " + shell_quote(dir.file("cut.gguf")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "extends past the end of the file")) << r.err;

  ASSERT_TRUE(testing::write_bytes(dir.file("header.gguf"), bytes.data(), 100));
  r = run_muse("info " + shell_quote(dir.file("header.gguf")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "header claims 19 metadata entries")) << r.err;
}

TEST(InfoTest, MissingFileAndUsage) {
  testing::RunResult r = run_muse("info /nonexistent/model.gguf");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "cannot open '/nonexistent/model.gguf': no such file")) << r.err;
  r = run_muse("info");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "usage: muse info"));
  r = run_muse("info --bogus x.gguf");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown option '--bogus'"));
  r = run_muse("info --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "usage: muse info"));
}

}  // namespace
}  // namespace muse
