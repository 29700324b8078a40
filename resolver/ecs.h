#pragma once
// EDNS Client Subnet (RFC 7871): what shoal sends about a client, to whom,
// and how the answers are kept apart.
//
// For each client query, clientEcs() decides the subnet that stands for
// the client (docs/ecs.md):
//  - from a trusted front end (e.g. dnsdist), the ECS option it sent is
//    the client's subnet; from anyone else, the packet's source address
//    is, and an ECS option of theirs may only narrow it (a shorter source
//    prefix), never widen it or move it elsewhere (RFC 7871 section 7.1);
//  - cut to the configured source prefix (default /24 and /56);
//  - an address in an RFC 6890 special-purpose block (private, shared,
//    loopback, link-local, ULA, documentation, ...) is never sent: no ECS,
//    or a configured substitute (RFC 7871 sections 7.1.2 and 11.3).
// The subnet goes only to the zones and servers on the allow-list
// (ecsAllowed, RFC 7871 section 12.1). An answer that comes back with a
// scope > 0 is cached in the partition of that scope (partitionFor,
// section 7.3.1) and answers only clients inside it; scope 0 is global.
//
// Everything here is allocation-free: the hot path calls clientEcs() for
// every query when ECS is on.

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "dns/edns.h"
#include "dns/name.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

/// True if `address` lies in a block of the IANA IPv4 or IPv6
/// Special-Purpose Address Registry (RFC 6890 and its updates), or is
/// multicast or otherwise no unicast client's. An IPv4-mapped IPv6 address
/// is judged as the IPv4 address it maps.
bool isSpecialPurpose(const base::IpAddress& address);

/// The ECS configuration ([ecs]).
struct EcsPolicy {
  bool enabled = false;
  /// Zones whose servers get ECS (names at and below them).
  std::vector<dns::Name> zones;
  /// Servers that get ECS, whatever the zone.
  std::vector<base::IpPrefix> servers;
  uint8_t ipv4_source = 24;
  uint8_t ipv6_source = 56;
  /// Sent instead of a special-purpose client address: nullopt sends no
  /// ECS at all; a prefix of length 0 sends the family alone (source /0:
  /// "do not use my address", RFC 7871 section 7.1.2).
  std::optional<base::IpPrefix> special_substitute;
  /// Front ends whose ECS option is taken as the client's subnet.
  std::vector<base::IpPrefix> trusted;
  /// Partitions per name and type, for shoalctl (the cache holds the cap).
  unsigned max_partitions = 16;
};

/// What one client query means for ECS.
struct ClientEcs {
  /// The client sent an ECS option: the answer carries it back with the
  /// scope (RFC 7871 section 7.2.1), as it came (`echo`).
  bool echo = false;
  dns::ClientSubnet echoed;
  /// A subnet to send upstream (to allowed zones and servers), and its
  /// address as the one the cache's partitions are matched against.
  bool send = false;
  dns::ClientSubnet subnet;
  base::IpAddress address;

  /// The address cache partitions are matched against: the subnet's, or
  /// null (global entries only) when there is none to send.
  const base::IpAddress* lookupAddress() const { return send ? &address : nullptr; }
};

/// The ECS of a query from `source` that carried `option` (null: none).
/// With ECS off: nothing sent, nothing echoed.
ClientEcs clientEcs(const EcsPolicy& policy, const base::IpAddress& source,
                    const dns::ClientSubnet* option);

/// True if a query for `zone`'s data to `server` carries ECS.
bool ecsAllowed(const EcsPolicy& policy, const dns::Name& zone, const base::IpAddress& server);

/// True if the ECS option of a reply belongs to the query that carried
/// `sent`: same family, source prefix and address (RFC 7871 section 7.3;
/// a reply that fails this is dropped).
bool ecsReplyMatches(const dns::ClientSubnet& sent, const dns::ClientSubnet& got);

/// The cache partition of an answer to a query that carried `sent` and
/// came back with `scope`: global for scope 0; a scope longer than the
/// source prefix is cut to it (RFC 7871 section 7.3.1: nothing finer than
/// what was sent is known about the client).
shmcache::Partition partitionFor(const dns::ClientSubnet& sent, uint8_t scope);

}  // namespace shoal::resolver
