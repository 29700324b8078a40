#pragma once
// Validated NSEC and NSEC3 records kept as ranges per zone (RFC 8198), in
// shmcache's ordered sets, for answers synthesised from them
// (resolver/aggressive.h).
//
// Per zone (the signer of the records) the cache holds:
//  - a zone entry (kind kDenialZone, type 0, key: the zone's lookup key):
//    which denial the zone uses (NSEC or NSEC3 and its parameters) and the
//    zone's SOA with its RRSIGs, the authority section and TTL bound of
//    every answer synthesised for the zone (RFC 8198 section 5.4, RFC 9077);
//  - range entries in the ordered set named by the zone's lookup key,
//    ordered by the owner's lookup key (canonical order; for an NSEC3
//    owner, "<base32hex hash>.zone", that is hash order): one NSEC or NSEC3
//    record with its RRSIGs, as a negative payload (cache_format.h).
// Only secure data is stored (shmcache refuses anything else in ordered
// sets). Entries expire with their records' TTL (the caller caps it by the
// RRSIG validity) and are evicted like any other entry.
//
// Payload flags (octet 1 of both payloads): kFromLocalRoot marks data
// loaded from the verified local copy of the root zone (RFC 8806), so that
// answers from it are counted as such.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/name.h"
#include "dns/rrset.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

/// Payload flag: loaded from the local root zone (RFC 8806).
inline constexpr uint8_t kFromLocalRoot = 0x02;

/// The zone entry's payload format octet (its own: a change of it drops
/// only zone entries).
inline constexpr uint8_t kDenialZoneFormat = 1;

/// How a zone denies existence, and its NSEC3 parameters.
struct ZoneDenial {
  bool nsec3 = false;
  uint8_t hash_algorithm = 0;  // NSEC3: 1 = SHA-1
  uint16_t iterations = 0;
  std::vector<uint8_t> salt;
};

/// A zone entry's payload, decoded without allocating:
///   u8 kDenialZoneFormat | u8 flags | u8 nsec3 (0/1) | u8 hash algorithm
///   | u16 iterations | u8 salt length | salt
///   | a negative payload (cache_format.h) holding the SOA and its RRSIGs
struct DenialZoneView {
  uint8_t flags = 0;
  bool nsec3 = false;
  uint8_t hash_algorithm = 0;
  uint16_t iterations = 0;
  std::span<const uint8_t> salt;
  std::span<const uint8_t> soa;  // NegativeView::parse() reads it

  static std::optional<DenialZoneView> parse(std::span<const uint8_t> payload);
};

/// Stores (or refreshes) the zone entry of `zone`: its denial and its SOA
/// RRset with RRSIGs (validated secure by the caller), or no SOA (null:
/// known from a wildcard proof only; then only wildcard answers can be
/// synthesised). `ttl` is the entry's lifetime (the caller's min of SOA
/// TTL, RRSIG validity and the negative TTL cap). False if not stored.
bool storeDenialZone(shmcache::Cache& cache, const dns::Name& zone, const ZoneDenial& denial,
                     const dns::Rrset* soa, uint32_t ttl, int64_t now_s, uint8_t flags = 0);

/// Stores one validated NSEC or NSEC3 RRset (one record and its RRSIGs)
/// as a range of `zone`, for `ttl` seconds. False if it was not stored
/// (not NSEC/NSEC3, not one record, owner outside the zone, too large).
bool storeRange(shmcache::Cache& cache, const dns::Name& zone, const dns::Rrset& record,
                uint32_t ttl, int64_t now_s, uint8_t flags = 0);

/// The secure NSEC/NSEC3 records of a validated reply, for the ranges:
/// what the validator proved a denial (or a wildcard expansion) with.
struct ValidatedDenial {
  dns::Name zone;                  // their signer
  std::vector<dns::Rrset> records; // NSEC/NSEC3 RRsets, signatures verified
  std::optional<dns::Rrset> soa;   // the zone's SOA, verified (negative answers)
  uint32_t ttl = 0;                // least RRSIG-capped TTL, and the negative TTL
};

/// Stores every record of `denial` as a range for at most `max_ttl`
/// seconds, and the zone entry: with the SOA if the denial has one, else
/// without, unless the zone has an entry already. Returns the ranges
/// stored.
size_t storeDenial(shmcache::Cache& cache, const ValidatedDenial& denial, uint32_t max_ttl,
                   int64_t now_s);

/// The denial of a zone as carried by one of its NSEC3 records' rdata
/// (hash algorithm, iterations, salt); nullopt if malformed. For NSEC,
/// ZoneDenial{} (nsec3 = false).
std::optional<ZoneDenial> denialOf(const dns::Rrset& record);

}  // namespace shoal::resolver
