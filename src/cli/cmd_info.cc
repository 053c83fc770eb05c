// Placeholder until the command lands; replaced by its real implementation.
#include <cstdio>

#include "cli/commands.h"

namespace muse::cli {

int cmd_info(int, char**) {
  std::fprintf(stderr, "muse: 'info' is not implemented yet\n");
  return 1;
}

}  // namespace muse::cli
