// Runs the built `muse` binary (path from the MUSE_BINARY_PATH compile definition) in a
// shell and captures its exit code, stdout and stderr through temporary files.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "gguf/test_util.h"

namespace muse::testing {

struct RunResult {
  int exit_code = -1;  // -1 when the process did not exit normally (e.g. a crash)
  std::string out;
  std::string err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `args` is appended to the binary path verbatim: quote paths with shell_quote.
// `env` is prepended as shell variable assignments ("NAME=value ...").
inline RunResult run_muse(const std::string& args, const std::string& env = "") {
  TempDir dir;
  const std::string out = dir.file("out"), err = dir.file("err");
  const std::string cmd = (env.empty() ? "" : env + " ") + shell_quote(MUSE_BINARY_PATH) + " " +
                          args + " >" + shell_quote(out) + " 2>" + shell_quote(err);
  const int status = std::system(cmd.c_str());
  RunResult r;
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  const std::vector<uint8_t> o = read_bytes(out), e = read_bytes(err);
  r.out.assign(o.begin(), o.end());
  r.err.assign(e.begin(), e.end());
  return r;
}

}  // namespace muse::testing
