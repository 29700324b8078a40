#pragma once
// An owned RRset (RFC 2181 section 5): records of one owner, type and class
// IN, with the RRSIGs that cover them. Slow-path vocabulary shared by the
// resolver (replies, cache payloads) and the validator (dnssec/).

#include <cstdint>
#include <vector>

#include "dns/name.h"

namespace shoal::dns {

struct Rrset {
  Name owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  uint8_t flags = 0;  // caller-defined (resolver/cache_format.h)
  std::vector<std::vector<uint8_t>> rdatas;  // uncompressed wire rdata
  std::vector<std::vector<uint8_t>> sigs;    // RRSIG rdata covering this RRset
};

}  // namespace shoal::dns
