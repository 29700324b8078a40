#pragma once
// Conversions between base::IpAddress (+ port) and the sockaddr structures
// of the socket API, for the supervisor (binding) and the worker (clients,
// upstream servers).

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/ip_address.h"

namespace shoal::worker {

/// The address of an AF_INET or AF_INET6 sockaddr; nullopt for others.
std::optional<base::IpAddress> addressOf(const sockaddr* address);
/// The port of an AF_INET or AF_INET6 sockaddr (0 otherwise).
uint16_t portOf(const sockaddr* address);
/// Fills `out` and returns the length to pass to bind/connect/sendto.
socklen_t toSockaddr(const base::IpAddress& address, uint16_t port, sockaddr_storage& out);
/// The wildcard address of the family of `like` ("0.0.0.0" or "::").
base::IpAddress anyAddressLike(const base::IpAddress& like);
/// Changes the port of an AF_INET or AF_INET6 sockaddr in place.
void setPort(sockaddr_storage& address, uint16_t port);
/// Size of the sockaddr for its family.
socklen_t sockaddrLength(const sockaddr* address);
/// "192.0.2.1:53" or "[2001:db8::1]:53", for logs.
std::string toText(const base::IpAddress& address, uint16_t port);

}  // namespace shoal::worker
