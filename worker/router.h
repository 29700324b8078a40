#pragma once
// Internal to worker/: who may ask (the ACL), and where the engine's answer
// to each client goes. The engine knows a client by a 64-bit id only; the
// router maps it back to the transport, socket or connection, and address.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "worker/sockaddr.h"

namespace shoal::worker {

/// Where the answer to a query handed to the engine must go.
struct ClientRef {
  bool tcp = false;
  uint32_t listener = 0;       // UDP: the socket the query came in on
  sockaddr_storage address{};  // UDP: the client's address and port
  uint64_t connection = 0;     // TCP: the connection's id (it may be gone)
  int32_t stream = -1;         // DNS over HTTPS: the HTTP/2 stream (-1: none)
  int64_t received_us = 0;     // when the query arrived (wall clock)
  int32_t pending = -1;        // UDP: its journal entry (-1: none)
  LocalAddress local;          // UDP: where it arrived (wildcard sockets)
  base::IpAddress client;      // who asked (the query log, dnstap)
  uint16_t client_port = 0;    // (dnstap)
  uint8_t transport = 0;       // dnstap::Transport
  bool logged = false;         // sampled by the query log: logged when answered
};

class ClientRouter {
 public:
  explicit ClientRouter(std::vector<base::IpPrefix> acl) : acl_(std::move(acl)) {}

  /// The ACL (server: acl.allow): a client outside every prefix is refused.
  bool allows(const base::IpAddress& client) const;
  /// Remembers `ref`; returns the id the engine is given.
  uint64_t add(const ClientRef& ref);
  /// The client of `id`, forgotten; nullopt when unknown (answered already).
  std::optional<ClientRef> take(uint64_t id);
  size_t size() const { return clients_.size(); }
  /// Queries of `client` (its address) waiting here ([limits]
  /// client_in_flight).
  uint32_t inFlight(const base::IpAddress& client) const;

 private:
  /// An address as a map key: its 4 or 16 octets.
  static std::string keyOf(const base::IpAddress& client);
  std::vector<base::IpPrefix> acl_;
  std::unordered_map<uint64_t, ClientRef> clients_;
  std::unordered_map<std::string, uint32_t> in_flight_;
  uint64_t next_ = 1;
};

}  // namespace shoal::worker
