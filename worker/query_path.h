#pragma once
// Internal to worker/: what a client transport (UDP, TCP and DNS over TLS)
// needs from the worker, and the limits every transport shares. A transport
// reads queries, hands each to the QueryPath, writes the hot path's
// response at once, and the engine's answer later when the worker routes
// it back (UdpServer::answer, TcpServer::answer).

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/ip_address.h"
#include "worker/sockaddr.h"

namespace shoal::worker {

/// Largest DNS message (the TCP length prefix is 16 bits).
inline constexpr size_t kMaxMessage = 65535;
/// One read of client TCP data or of an upstream reply.
inline constexpr size_t kReadChunk = 64 * 1024;
/// Largest TLS record's plaintext (RFC 8446 section 5.1): one SSL_read.
inline constexpr size_t kTlsRecord = 16384;

/// Where a query came from, as its transport knows it (pointers valid for
/// the call only). Turned into a ClientRef (worker/router.h) only when the
/// query goes to the engine, so cache hits copy nothing.
struct ClientOrigin {
  bool tcp = false;
  uint32_t listener = 0;                // UDP: which of the worker's sockets
  const sockaddr* from = nullptr;       // UDP: the client's address and port
  const LocalAddress* local = nullptr;  // UDP: where it arrived (wildcard sockets)
  uint64_t connection = 0;              // TCP: the connection's id
  int32_t stream = -1;                  // DNS over HTTPS: the HTTP/2 stream
  /// TCP: the connection's idle timeout in units of 100 ms, for clients
  /// that ask for edns-tcp-keepalive (RFC 7828); 0: the configured one.
  uint16_t tcp_keepalive = 0;
  /// TCP: the client's port, and whether the connection is DNS over TLS
  /// (dnstap; DNS over HTTPS has a stream).
  uint16_t port = 0;
  bool tls = false;
};

/// What became of a query.
struct QueryOutcome {
  /// The response to send now (valid until the next query), or empty.
  std::span<const uint8_t> response;
  /// Handed to the engine: the answer comes later, routed by the worker to
  /// the transport's answer(). (It may already have come, inside the call.)
  bool pending = false;
};

/// The worker, as its client transports see it.
class QueryPath {
 public:
  /// One query from `client`: ACL, hot path, or hand-off to the engine.
  virtual QueryOutcome handleQuery(std::span<const uint8_t> query, const base::IpAddress& client,
                                   const ClientOrigin& origin) = 0;
  /// A transport has nothing left to send or close: a stopping worker may
  /// be done.
  virtual void onTransportIdle() = 0;

 protected:
  ~QueryPath() = default;
};

}  // namespace shoal::worker
