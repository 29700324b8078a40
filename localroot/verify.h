#pragma once
// Verifying a transferred zone before it is used (RFC 8806 section 3,
// RFC 8976 section 4): a zone is used only if every check passes, else the
// reason is returned for the log and the resolver keeps iterating.
//
//  1. Shape: one SOA at the apex; every record of class IN inside the zone.
//  2. A ZONEMD RRset at the apex (RFC 8976): a zone without one cannot be
//     verified and is refused, whatever its NSEC says.
//  3. The ZONEMD's serial equals the SOA's (RFC 8976 section 4 step 5).
//  4. DNSSEC, by shoal's own validator (dnssec/): the apex DNSKEY RRset is
//     signed by a key the configured trust anchors match (keys.h), and the
//     ZONEMD RRset's RRSIG verifies with those keys now (rrsig.h): an
//     expired or not yet valid signature fails.
//  5. The digest (scheme SIMPLE, SHA-384 or SHA-512) over the whole zone
//     equals the ZONEMD's, computed by ldns
//     (ldns_dnssec_zone_verify_zonemd).
// Together these prove every record is what the zone's publisher signed:
// the other RRSIGs are not verified one by one (the loader still honours
// their validity windows: load.h).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/verdict.h"
#include "localroot/zone.h"
#include "resolver/roots.h"

namespace shoal::localroot {

/// The trust anchors of the apex, as rdata.
struct ApexAnchors {
  std::vector<std::vector<uint8_t>> ds;
  std::vector<std::vector<uint8_t>> dnskeys;
  bool empty() const { return ds.empty() && dnskeys.empty(); }
};
/// The anchors of `apex` among `anchors` (other owners are ignored).
ApexAnchors anchorsFor(const resolver::TrustAnchors& anchors, const dns::Name& apex);

/// A zone that passed every check: its RRsets (RRSIGs attached) ready for
/// the cache.
struct VerifiedZone {
  dns::Name apex;
  Soa soa;
  std::vector<dns::Rrset> rrsets;
  /// The expiration of the ZONEMD signature that verified (wall seconds):
  /// past it nothing in the zone is vouched for any more.
  int64_t valid_until = 0;
  std::string source;
};

struct VerifyResult {
  std::optional<VerifiedZone> zone;
  std::string error;  // set when zone is not: which check failed and why
};

/// Runs the checks above on `data` at wall-clock second `now_s`.
VerifyResult verifyZone(const ZoneData& data, const ApexAnchors& anchors,
                        const dnssec::Policy& policy, int64_t now_s);

/// Step 5 alone, for the tests: empty if the ZONEMD digest of `records`
/// (the apex's SOA among them) verifies, else why not.
std::string checkZonemdDigest(const std::vector<dns::Record>& records);

}  // namespace shoal::localroot
