#pragma once
// The listening sockets. The supervisor opens, for each worker slot and
// each listen address, one UDP socket and one TCP listener (for a TLS
// address, the TCP listener only), all bound with SO_REUSEPORT so the
// kernel spreads clients across the slots. It keeps them open for its
// whole life: when a worker dies, what is queued in its sockets waits for
// the replacement, which inherits the same sockets.

#include <vector>

#include "base/ip_prefix.h"
#include "worker/worker.h"

namespace shoal::supervisor {

/// Opens the UDP socket and TCP listener of `address` (non-blocking,
/// SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY for IPv6, a large receive
/// buffer); with `tls` (server.tls_listen), the TCP listener only. Throws
/// StartupError, e.g. when the address is in use.
worker::ListenSocket openListenSocket(const base::SocketAddress& address, bool tls,
                                      bool https = false);

/// Closes both descriptors (idempotent).
void closeListenSocket(worker::ListenSocket& socket);

}  // namespace shoal::supervisor
