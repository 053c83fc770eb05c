// The web UI's files (web/), embedded in the binary at build time by cmake/embed_web.cmake.
#pragma once

#include <cstddef>
#include <span>

namespace muse::server {

struct WebAsset {
  const char* name;  // file name under web/, e.g. "index.html"
  const unsigned char* data;
  size_t size;
};

std::span<const WebAsset> web_assets();

}  // namespace muse::server
