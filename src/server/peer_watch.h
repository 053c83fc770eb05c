// Notices a client that closed its connection while its (non-streaming) request is still
// generating, so the request can be cancelled at the next engine step instead of running to
// max_tokens for nobody. cpp-httplib 0.11 does not expose a request's socket, so the socket
// is found by its addresses among the process's descriptors (Linux /proc/self/fd).
#pragma once

#include <string>

namespace muse::server {

class PeerWatch {
 public:
  // The connected socket whose peer is remote_addr:remote_port and whose local port is
  // local_port; watches nothing (closed() is always false) when there is none.
  PeerWatch(const std::string& remote_addr, int remote_port, int local_port);

  // The peer has closed or reset the connection (data it sent early is not a close).
  bool closed() const;
  bool watching() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace muse::server
