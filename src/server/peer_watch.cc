// Socket lookup by address and a non-blocking peek for end of stream.
#include "server/peer_watch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

namespace muse::server {
namespace {

bool address_of(const sockaddr_storage& a, std::string* ip, int* port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    if (!inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf))) return false;
    *port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    if (!inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf))) return false;
    *port = ntohs(v6->sin6_port);
  } else {
    return false;
  }
  *ip = buf;
  return true;
}

}  // namespace

PeerWatch::PeerWatch(const std::string& remote_addr, int remote_port, int local_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  while (const dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (*end || end == e->d_name) continue;
    sockaddr_storage peer{}, local{};
    socklen_t n = sizeof(peer), m = sizeof(local);
    if (getpeername(int(fd), reinterpret_cast<sockaddr*>(&peer), &n) != 0) continue;
    if (getsockname(int(fd), reinterpret_cast<sockaddr*>(&local), &m) != 0) continue;
    std::string ip, local_ip;
    int port = 0, lport = 0;
    if (!address_of(peer, &ip, &port) || !address_of(local, &local_ip, &lport)) continue;
    if (port == remote_port && lport == local_port && ip == remote_addr) {
      fd_ = int(fd);
      break;
    }
  }
  closedir(dir);
}

bool PeerWatch::closed() const {
  if (fd_ < 0) return false;
  char c;
  const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly shutdown
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace muse::server
