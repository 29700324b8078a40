#pragma once
// Root hints and trust anchors, loaded from text (built in or from the files
// the config names) into typed values the resolver starts from.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "dns/name.h"

namespace shoal::resolver {

struct RootServer {
  dns::Name name;
  std::vector<base::IpAddress> addresses;
};

struct RootHints {
  std::vector<RootServer> servers;
  std::string error;  // empty on success
  bool ok() const { return error.empty(); }
};

/// Parses named.root-style text: NS records at the root and the A/AAAA
/// records of those names. Fails if no server has an address.
RootHints parseRootHints(std::string_view text);

/// A DS or DNSKEY record that a chain of trust may start from (RFC 4035
/// section 4.4), for any domain.
struct TrustAnchor {
  dns::Name owner;
  uint16_t type = 0;  // DS or DNSKEY
  std::vector<uint8_t> rdata;
  /// Key tag: from the DS, or computed from the DNSKEY (RFC 4034 appendix B).
  uint16_t keyTag() const;
  uint8_t algorithm() const;
};

struct TrustAnchors {
  std::vector<TrustAnchor> anchors;
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Parses DS and DNSKEY records in zone-file syntax; any other type, or a DS
/// whose digest length does not match its digest type, is an error.
TrustAnchors parseTrustAnchors(std::string_view text);

}  // namespace shoal::resolver
