// MappedFile: maps exactly the file's bytes, moves without remapping, and turns every
// unusable path into an error that names the path and the cause.
#include "core/mmap.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf/test_util.h"

namespace muse {
namespace {

using testing::TempDir;

TEST(MappedFileTest, MapsTheFileBytes) {
  TempDir dir;
  const std::vector<uint8_t> bytes = {1, 2, 3, 0, 255, 7};
  ASSERT_TRUE(testing::write_bytes(dir.file("f"), bytes));
  StatusOr<MappedFile> m = MappedFile::open(dir.file("f"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), bytes.size());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), m->data()));
  EXPECT_EQ(m->path(), dir.file("f"));

  const uint8_t* data = m->data();
  MappedFile moved = std::move(m).value();
  EXPECT_EQ(moved.data(), data);  // views into the mapping survive a move
  MappedFile assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), data);
  EXPECT_EQ(moved.data(), nullptr);  // NOLINT: moved-from state is specified as empty
  EXPECT_EQ(moved.size(), 0u);
}

TEST(MappedFileTest, MissingFile) {
  StatusOr<MappedFile> m = MappedFile::open("/nonexistent/muse/file.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "cannot open '/nonexistent/muse/file.gguf': no such file or directory");
}

TEST(MappedFileTest, Directory) {
  TempDir dir;
  StatusOr<MappedFile> m = MappedFile::open(dir.path());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("is a directory"), std::string::npos) << m.status().message();
}

TEST(MappedFileTest, EmptyFileAndEmptyPath) {
  TempDir dir;
  ASSERT_TRUE(testing::write_bytes(dir.file("empty"), {}));
  StatusOr<MappedFile> m = MappedFile::open(dir.file("empty"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("is empty (0 bytes)"), std::string::npos)
      << m.status().message();
  EXPECT_FALSE(MappedFile::open("").ok());
}

TEST(MappedFileTest, NotARegularFile) {
  StatusOr<MappedFile> m = MappedFile::open("/dev/null");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("not a regular file"), std::string::npos)
      << m.status().message();
}

TEST(MappedFileTest, PermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: file permissions are not enforced";
  TempDir dir;
  ASSERT_TRUE(testing::write_bytes(dir.file("secret"), {1, 2, 3}));
  ASSERT_EQ(chmod(dir.file("secret").c_str(), 0), 0);
  StatusOr<MappedFile> m = MappedFile::open(dir.file("secret"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("permission denied"), std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace muse
