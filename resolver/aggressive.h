#pragma once
// Answers synthesised from the validated NSEC/NSEC3 ranges in the shared
// cache (RFC 8198 section 5; storage: resolver/ranges.h, proofs:
// dnssec/aggressive.h), for the one cache reader (resolver/cache_reader.h)
// and so for the hot path and the engine alike.
//
// For a name the cache has nothing for, the closest enclosing zone with a
// zone entry is found (one lookup per label), its ranges are asked for the
// records a proof needs, and the answer is written as a cache payload that
// the reader hands to its visitor like any cached entry:
//  - NXDOMAIN and NODATA: a negative payload with the zone's SOA and
//    RRSIG, then the proving records and their RRSIGs;
//  - a wildcard answer (RFC 8198 section 5.3): the cached wildcard RRset
//    of the type asked, with the records that prove the name itself does
//    not exist as its proofs.
// Everything used is secure; the TTL is the least remaining of every entry
// used and the SOA MINIMUM (RFC 9077). Nothing is allocated: all copies go
// to the caller's scratch space.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dns/name.h"
#include "dnssec/verdict.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

enum class Synthesis : uint8_t { kNone, kNxdomain, kNodata, kWildcard };

/// Scratch octets synthesise() needs besides the reader's lookup buffer.
inline constexpr size_t kSynthesisSpace = 40 * 1024;

struct Synthesised {
  Synthesis kind = Synthesis::kNone;
  uint32_t ttl = 0;
  bool local_root = false;  // proven by the local root zone's ranges (RFC 8806)
  /// kNxdomain, kNodata: a negative payload; kWildcard: an RRset payload
  /// (cache_format.h), in `space`.
  std::span<const uint8_t> payload;
};

/// Synthesises the answer to (qname, qtype) from the ranges, if they prove
/// one. `lookup` holds at least 65535 octets (the wildcard RRset is read
/// into it), `space` at least kSynthesisSpace octets.
Synthesised synthesise(shmcache::Cache& cache, const dns::Name& qname, uint16_t qtype,
                       const dnssec::Policy& policy, int64_t now_s, std::span<uint8_t> lookup,
                       std::span<uint8_t> space);

/// Where a name the ranges do not answer falls among the known ranges of
/// `zone`, for the iterator to keep one question per unknown gap on its way
/// at a time (its answer's ranges may cover the others). The point is the
/// name one label below the zone on the way to `qname` (the next closer
/// name when the zone's apex is the closest encloser, the usual junk case),
/// hashed for NSEC3; the gap is named by the zone and the owner of the
/// range at or before it. Nullopt when the zone has no zone entry (no
/// secure denial seen). `scratch`: at least 2 * 65536 octets. A heuristic:
/// it decides only who waits, never what is answered.
std::optional<std::string> rangeGap(shmcache::Cache& cache, const dns::Name& zone,
                                    const dns::Name& qname, int64_t now_s,
                                    std::span<uint8_t> scratch);

}  // namespace shoal::resolver
