#pragma once
// Conversions between base::IpAddress (+ port) and the sockaddr structures
// of the socket API, for the supervisor (binding) and the worker (clients,
// upstream servers).

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/ip_address.h"
#include "base/sockaddr.h"

namespace shoal::worker {

/// The address of an AF_INET or AF_INET6 sockaddr; nullopt for others.
std::optional<base::IpAddress> addressOf(const sockaddr* address);
/// The port of an AF_INET or AF_INET6 sockaddr (0 otherwise).
uint16_t portOf(const sockaddr* address);
using base::toSockaddr;  // base/sockaddr.h
/// The wildcard address of the family of `like` ("0.0.0.0" or "::").
base::IpAddress anyAddressLike(const base::IpAddress& like);
/// Changes the port of an AF_INET or AF_INET6 sockaddr in place.
void setPort(sockaddr_storage& address, uint16_t port);
/// Size of the sockaddr for its family.
socklen_t sockaddrLength(const sockaddr* address);
/// "192.0.2.1:53" or "[2001:db8::1]:53", for logs.
std::string toText(const base::IpAddress& address, uint16_t port);

/// The local address a datagram arrived at, from IP_PKTINFO or
/// IPV6_PKTINFO: on a socket bound to 0.0.0.0 or ::, the answer must leave
/// from it (an anycast service address on a farm's loopback, say), not from
/// whatever address the route prefers. family 0: not known (a socket bound
/// to one address answers from it anyway).
struct LocalAddress {
  sa_family_t family = 0;
  uint32_t ifindex = 0;
  uint8_t bytes[16] = {};
};
/// Room for one pktinfo control message (IPv4 or IPv6).
inline constexpr size_t kPacketInfoSpace = 64;

/// Whether `fd` is bound to the wildcard address (0.0.0.0 or ::).
bool boundToWildcard(int fd);
/// Asks the kernel to report each datagram's local address (IP_PKTINFO /
/// IPV6_RECVPKTINFO); false when it refuses.
bool enablePacketInfo(int fd);
/// The local address in a received message's control data.
LocalAddress localAddressOf(const msghdr& message);
/// Writes the control message that sends from `local` into `control`
/// (kPacketInfoSpace octets); returns its length, 0 when `local` is not
/// known.
size_t writePacketInfo(const LocalAddress& local, uint8_t* control);

}  // namespace shoal::worker
