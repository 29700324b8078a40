#pragma once
// Putting a verified zone (verify.h) into the shared cache, where both the
// hot path and the engine find it like anything else they learnt: a TLD's
// NS, glue, DS and the root's keys are then cache hits, and queries for
// TLDs never go to the root (RFC 8806 section 2).
//
// Every RRset goes in through resolver::RecordCache::storeRrset, marked
// resolver::kFromLocalRoot in its payload flags, with the trust rank a
// referral or an authoritative answer from the root would have:
//   apex data (SOA, NS, DNSKEY, ZONEMD, NSEC), DS and NSEC at a delegation:
//     Rank::kAuthoritativeAnswer, secure;
//   the NS of a delegation (unsigned, RFC 4035 section 2.2): Rank::kReferral,
//     status unknown, like a referral's NS (never an answer);
//   A and AAAA at or below a delegation: Rank::kGlue, status unknown;
//   anything else below a delegation (occluded data) is left out.
// A signed RRset is loaded only with an RRSIG of the apex valid now, its TTL
// capped by that signature's original TTL and expiration; every TTL is
// capped by the zone's validity (the ZONEMD signature) and by the cache's
// limits. The NSEC (or NSEC3) records also go in as ranges of the apex and
// the apex's denial entry (resolver/ranges.h), for answers synthesised
// from them (RFC 8198); their TTL is capped by the SOA minimum and the
// negative TTL cap (RFC 9077).
//
// Loading the same zone again replaces its entries in place (equal ranks
// replace each other): the local-root process reloads it at every refresh
// so that its entries never age out while the zone is current.

#include <cstddef>
#include <cstdint>

#include "localroot/verify.h"
#include "resolver/record_cache.h"

namespace shoal::localroot {

struct LoadReport {
  size_t rrsets = 0;   // RRsets stored
  size_t ranges = 0;   // NSEC/NSEC3 ranges stored and still in the cache after the load
  /// Ranges stored but pushed out again by the later ones: a zone's ranges
  /// share one stripe of the cache (shmcache/cache.h), and a stripe holds
  /// at most (stripe size / 512) of them. Not 0: the stripes are too small
  /// for this zone.
  size_t ranges_lost = 0;
  bool denial_zone = false;  // the apex's denial entry stored
  size_t refused = 0;  // the cache refused (a higher-ranked entry in place, too large)
  size_t skipped = 0;  // left out: no valid signature, occluded, unsigned authoritative data
  /// The shortest lifetime given to an entry (seconds; 0 when none was
  /// stored): the next reload must come before it.
  uint32_t shortest_ttl = 0;
};

/// Loads `zone` at wall second `now_s`. `max_negative_ttl` caps the ranges
/// and the denial entry (cache.max_negative_ttl).
LoadReport loadZone(resolver::RecordCache& records, const VerifiedZone& zone,
                    uint32_t max_negative_ttl, int64_t now_s);

}  // namespace shoal::localroot
