// Helpers shared by the gguf and cli tests: where the fixtures live, temporary
// directories, and whole-file read/write. Fixtures are read in place, never copied into
// the repository; tests that need one skip with a message naming it when it is absent.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace muse::testing {

inline std::string fixtures_dir() {
  const char* env = std::getenv("MUSE_FIXTURES");
  return env && *env ? env : MUSE_SOURCE_DIR "/../shared/fixtures";
}

inline std::string fixture(const std::string& rel) { return fixtures_dir() + "/" + rel; }

// Every `*.gguf` in fixtures/<sub>, sorted; empty when the folder is absent.
inline std::vector<std::string> fixture_ggufs(const std::string& sub) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(fixture(sub), ec))
    if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

#define MUSE_REQUIRE_FIXTURE(path)                                                   \
  do {                                                                               \
    if (!std::filesystem::exists(path))                                              \
      GTEST_SKIP() << "fixture missing: " << (path) << " (set MUSE_FIXTURES to the " \
                   << "fixtures folder)";                                            \
  } while (0)

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/muse_test_XXXXXX";
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// One read of the whole file (an istreambuf_iterator copy is ~100x slower under ASan).
inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::vector<uint8_t> out(size_t(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), std::streamsize(out.size()));
  return out;
}

inline bool write_bytes(const std::string& path, const uint8_t* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(n));
  return bool(out);
}
inline bool write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  return write_bytes(path, b.data(), b.size());
}

}  // namespace muse::testing
