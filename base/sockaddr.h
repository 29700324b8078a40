#pragma once
// base::IpAddress (+ port) as the sockaddr of the socket API, for every
// process that opens a socket: the supervisor (binding), the workers
// (clients, upstream servers) and the local-root process (zone transfers).

#include <sys/socket.h>

#include <cstdint>

#include "base/ip_address.h"

namespace shoal::base {

/// Fills `out` and returns the length to pass to bind/connect/sendto.
socklen_t toSockaddr(const IpAddress& address, uint16_t port, sockaddr_storage& out);

}  // namespace shoal::base
