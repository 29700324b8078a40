#include "supervisor/sockets.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "supervisor/load.h"
#include "worker/sockaddr.h"

namespace shoal::supervisor {
namespace {

/// Room for bursts while a worker is busy or being replaced. Root may
/// exceed net.core.rmem_max (SO_RCVBUFFORCE); others get what it allows.
constexpr int kReceiveBuffer = 8 << 20;
constexpr int kSendBuffer = 4 << 20;
constexpr int kListenBacklog = 1024;

[[noreturn]] void fail(const base::SocketAddress& address, const char* proto, const char* what) {
  throw StartupError("listen " + address.toString() + " (" + proto + "): " + what + ": " +
                     std::strerror(errno));
}

void setOption(int fd, int level, int name, int value, const base::SocketAddress& address,
               const char* proto, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) fail(address, proto, what);
}

void setBuffer(int fd, int force_name, int name, int size) {
  // Best effort: a smaller buffer still works.
  if (setsockopt(fd, SOL_SOCKET, force_name, &size, sizeof size) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, name, &size, sizeof size);
  }
}

int openOne(const base::SocketAddress& address, int type, const char* proto) {
  sockaddr_storage storage{};
  const socklen_t length = worker::toSockaddr(address.ip, address.port, storage);
  const int fd = socket(storage.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(address, proto, "socket");
  try {
    setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, address, proto, "SO_REUSEADDR");
    setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, address, proto, "SO_REUSEPORT");
    if (!address.ip.isV4()) {
      setOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, address, proto, "IPV6_V6ONLY");
    }
    if (type == SOCK_DGRAM) {
      setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, kReceiveBuffer);
      setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, kSendBuffer);
    }
    if (bind(fd, reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
      fail(address, proto, "bind");
    }
    if (type == SOCK_STREAM && listen(fd, kListenBacklog) != 0) fail(address, proto, "listen");
  } catch (...) {
    close(fd);
    throw;
  }
  return fd;
}

}  // namespace

worker::ListenSocket openListenSocket(const base::SocketAddress& address, bool tls,
                                      bool https) {
  worker::ListenSocket socket;
  socket.address = address.toString();
  socket.tls = tls || https;
  socket.https = https;
  if (socket.tls) {
    socket.tcp_fd = openOne(address, SOCK_STREAM, https ? "https" : "tls");
    return socket;
  }
  socket.udp_fd = openOne(address, SOCK_DGRAM, "udp");
  try {
    socket.tcp_fd = openOne(address, SOCK_STREAM, "tcp");
  } catch (...) {
    closeListenSocket(socket);
    throw;
  }
  return socket;
}

void closeListenSocket(worker::ListenSocket& socket) {
  if (socket.udp_fd >= 0) close(socket.udp_fd);
  if (socket.tcp_fd >= 0) close(socket.tcp_fd);
  socket.udp_fd = socket.tcp_fd = -1;
}

}  // namespace shoal::supervisor
