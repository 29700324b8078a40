#pragma once
// Zone cuts: the closest enclosing zone whose name servers a task asks,
// found in the cache (an NS set with usable servers), in the root hints
// (before or without priming, RFC 8109), or in a referral.

#include <cstdint>
#include <optional>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "dns/name.h"
#include "resolver/cache_format.h"
#include "resolver/record_cache.h"
#include "resolver/roots.h"

namespace shoal::resolver {

struct NsServer {
  dns::Name name;
  std::vector<base::IpAddress> addresses;
  bool resolving = false;   // a sub-task is looking up its address
  bool unresolvable = false;
  uint8_t families_tried = 0;  // kTriedA | kTriedAaaa
};
inline constexpr uint8_t kTriedA = 1;
inline constexpr uint8_t kTriedAaaa = 2;

struct Cut {
  dns::Name zone;
  std::vector<NsServer> servers;
  bool from_hints = false;
  bool valid = false;
  int ns_lookups = 0;  // name-server addresses looked up for this cut (NXNSAttack cap)
  bool keys_prefetched = false;  // the zone's DNSKEY fetch was started (or not needed)
  /// A forward zone's upstream resolvers: asked with RD, the whole
  /// question (no minimisation), never followed into a referral; the
  /// configured addresses are used even where deny_upstream would refuse
  /// them. `validate` false: their answers are not validated.
  bool forward = false;
  bool validate = true;
  /// A forward cut: the port of each upstream address (53 when absent).
  std::vector<base::SocketAddress> ports;
  /// A forward cut over DNS over TLS (ForwardSpec::tls, tls_name, tls_ca).
  bool tls = false;
  std::string tls_name;
  std::string tls_ca;
};

/// Which address families the resolver queries.
struct Families {
  bool ipv4 = true;
  bool ipv6 = true;
};

/// The closest cut above (sname, stype) with a cached NS set that has a
/// usable server: one with a cached address, or a name outside the zone
/// that can be looked up. DS questions start at the parent (RFC 4035
/// section 3.1.4.1). Nullopt when not even the root's NS set is cached.
std::optional<Cut> cachedCut(RecordCache& records, const dns::Name& sname, uint16_t stype,
                             Families families, int64_t now_s);

/// The root cut from the hints.
Cut hintsCut(const RootHints& hints, Families families);

/// The cut a referral leads to: its NS names with the glue it brought, or
/// the addresses cached for them.
Cut referralCut(const Rrset& ns, const std::vector<Rrset>& glue, RecordCache& records,
                Families families, int64_t now_s);

}  // namespace shoal::resolver
