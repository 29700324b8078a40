#pragma once
// An upstream reply, digested for the iterator: records grouped into
// RRsets per section, names in rdata expanded, RRSIGs attached to the RRset
// they cover, and everything outside the queried server's zone dropped
// (bailiwick: a server is trusted only for names at or below its zone).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/edns.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/wire_error.h"
#include "resolver/cache_format.h"

namespace shoal::resolver {

struct Reply {
  dns::Header header;
  uint16_t rcode = 0;
  bool has_question = false;
  dns::Question question;
  bool has_edns = false;
  /// The reply's ECS option (RFC 7871), if it had a well-formed one;
  /// `ecs_malformed` if it had one that did not parse.
  std::optional<dns::ClientSubnet> ecs;
  bool ecs_malformed = false;
  /// The reply's COOKIE option (RFC 7873), if it had a well-formed one;
  /// `cookie_malformed` if it had one that did not parse.
  std::optional<dns::Cookie> cookie;
  bool cookie_malformed = false;
  std::vector<Rrset> answer;
  std::vector<Rrset> authority;
  std::vector<Rrset> additional;
  size_t out_of_zone = 0;  // records dropped by the bailiwick rule

  bool aa() const { return header.has(dns::flag::kAa); }
  bool tc() const { return header.has(dns::flag::kTc); }
};

/// Parses `packet`, keeping only records whose owner is at or below `zone`.
dns::WireResult<Reply> digestReply(std::span<const uint8_t> packet, const dns::Name& zone);

/// The RRset of `owner` and `type` in `section`, or null.
const Rrset* findRrset(const std::vector<Rrset>& section, const dns::Name& owner, uint16_t type);
/// The first RRset of `type` in `section`, or null.
const Rrset* findType(const std::vector<Rrset>& section, uint16_t type);

}  // namespace shoal::resolver
