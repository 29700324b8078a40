#pragma once
// A zone as it arrived by zone transfer, and the zone's RRsets: the
// vocabulary the local root (RFC 8806) passes from transfer to verification
// to the cache. Slow path: allocates freely.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/rrset.h"
#include "dns/zone_text.h"

namespace shoal::localroot {

/// RR type ZONEMD (RFC 8976 section 2), not in dns/constants.h: only the
/// local root reads it.
inline constexpr uint16_t kZonemd = 63;

/// SOA rdata and its timers (dns/rdata.h).
using dns::Soa;
using dns::parseSoa;

/// A zone as transferred: every record in the order received, the closing
/// SOA of the transfer left out (RFC 5936 section 2.2).
struct ZoneData {
  dns::Name apex;
  std::vector<dns::Record> records;
  std::string source;  // the server it came from ("192.0.2.1:53")
};

/// Groups `records` into RRsets: one per owner and type (owners compared
/// case-insensitively), in order of first appearance; duplicate rdata kept
/// once (RFC 2181 section 5); the TTL of an RRset is the lowest of its
/// records' (RFC 2181 section 5.2). RRSIG records are attached to the
/// RRset of their owner and covered type (Rrset::sigs); an RRSIG covering
/// nothing in the zone is dropped. No RRset of type RRSIG is returned.
std::vector<dns::Rrset> groupRrsets(const std::vector<dns::Record>& records);

/// The type an RRSIG rdata covers (0 if shorter than 2 octets).
uint16_t typeCovered(std::span<const uint8_t> rrsig_rdata);

}  // namespace shoal::localroot
