#pragma once
// A TCP connection's four addresses as netfilter and the kernel's socket
// lookup see them: the local (server) address and port, the remote
// (client) address and port. The key of a collapsed connection.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace shoal::collapse {

struct ConnTuple {
  uint8_t family = 0;  // AF_INET or AF_INET6
  uint16_t local_port = 0;   // host order
  uint16_t remote_port = 0;  // host order
  uint8_t local[16] = {};    // IPv4: the first 4 octets
  uint8_t remote[16] = {};

  bool operator==(const ConnTuple&) const = default;

  /// The connected socket's addresses (getsockname, getpeername).
  static std::optional<ConnTuple> ofSocket(int fd);
  /// The connection an incoming IPv4 or IPv6 TCP segment belongs to (the
  /// client's source is the remote side). Nullopt for anything else or a
  /// truncated header. IPv6 extension headers are not walked: a segment
  /// with one is not a collapsed connection's (it is let through).
  static std::optional<ConnTuple> ofIncoming(std::span<const uint8_t> packet);

  socklen_t localAddress(sockaddr_storage& out) const;
  socklen_t remoteAddress(sockaddr_storage& out) const;
  /// The netfilter set key: remote address . remote port . local address .
  /// local port (the packet's saddr . sport . daddr . dport), each field
  /// padded to 4 octets as nftables' concatenations are. Returns its
  /// length: 16 (IPv4) or 40 (IPv6); `out` holds at least 40.
  size_t setKey(std::span<uint8_t> out) const;
  /// "192.0.2.1:53 <- 198.51.100.7:40000", for logs.
  std::string toText() const;
};

struct ConnTupleHash {
  size_t operator()(const ConnTuple& t) const;
};

}  // namespace shoal::collapse
