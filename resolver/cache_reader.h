#pragma once
// The one reader of answers in the shared cache, for the hot path and the
// engine alike: from (qname, qtype) it follows cached CNAMEs (repeating
// the DNAME each synthesised CNAME came from, RFC 6672 section 3.4) to the
// data, or to a negative answer (NODATA, NXDOMAIN, and with the NXDOMAIN
// cut NXDOMAIN below a cached one, RFC 8020), or to where the cache ends.
//
// It never allocates: each entry found is handed to the visitor while its
// payload is in `scratch`, before the next lookup overwrites it. Only
// answer-ranked entries count (glue and referral NS sets never answer,
// RFC 2181 section 5.4.1); with validation on, entries of unknown DNSSEC
// status are misses, and the statuses seen are summed up for AD and for
// bogus answers.
//
// Where the cache holds nothing for a name, answers are synthesised from
// validated NSEC/NSEC3 ranges when `aggressive` is on (RFC 8198,
// resolver/aggressive.h) and the scratch space allows it.

#include <cstdint>
#include <span>

#include "base/ip_address.h"
#include "dns/name.h"
#include "dnssec/verdict.h"
#include "resolver/aggressive.h"
#include "resolver/cache_format.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

/// One entry found, as the visitor sees it.
struct CachedEntry {
  uint32_t ttl = 0;  // remaining (0 when stale)
  shmcache::Security security = shmcache::Security::kIndeterminate;
  uint16_t ede = 0;  // bogus entries: why (RFC 8914)
  bool stale = false;
};

class CacheVisitor {
 public:
  virtual ~CacheVisitor() = default;
  /// A link of the chain (CNAME, DNAME) or the data. False: stop reading
  /// (no room).
  virtual bool onRrset(const dns::Name& owner, uint16_t type, const CachedEntry& entry,
                       const RrsetView& rrset) = 0;
  /// The negative answer that ends the chain.
  virtual bool onNegative(bool nxdomain, const CachedEntry& entry, const NegativeView& records) = 0;
};

/// Scratch octets for cache copies; with kSynthesisSpace more, readCache
/// can synthesise answers from ranges.
inline constexpr size_t kLookupScratch = 65536;
inline constexpr size_t kCacheScratchSize = kLookupScratch + kSynthesisSpace;

struct CacheReadOptions {
  bool nxdomain_cut = true;
  bool validating = false;
  /// RFC 8198: synthesise from ranges (only while validating).
  bool aggressive = false;
  dnssec::Policy policy;  // its NSEC3 iteration limit bounds the ranges used
  int max_links = 8;          // CNAME links followed
  uint32_t max_stale_s = 0;   // serve-stale: entries expired at most this long ago
  /// EDNS Client Subnet (RFC 7871): the client's subnet, to match cache
  /// partitions against (the most specific covering one wins, none longer
  /// than `client_prefix`); null: global entries only.
  const base::IpAddress* client = nullptr;
  uint8_t client_prefix = 0;
};

enum class CacheRead : uint8_t {
  kAnswer,    // the data (after the links)
  kNodata,    // a cached NODATA ends the chain
  kNxdomain,  // a cached NXDOMAIN (or one above, RFC 8020) ends the chain
  kMoved,     // links were followed, then the cache ends at `next_name`
  kMiss,      // nothing for qname
  kStopped,   // the visitor stopped
};

struct CacheReadResult {
  CacheRead result = CacheRead::kMiss;
  dns::Name next_name;     // kMoved: the name the chain leads to
  int links = 0;           // CNAME links followed
  bool all_secure = true;  // every entry used was secure (validating only)
  bool bogus = false;      // an entry used was bogus
  uint16_t bogus_ede = 0;  // the first bogus entry's EDE
  bool stale = false;      // an entry used had expired (serve-stale)
  /// The longest ECS scope of the entries used (0: all global), for the
  /// client's ECS option (RFC 7871 section 7.2.1).
  uint8_t scope = 0;
  Synthesis synthesised = Synthesis::kNone;  // the end of the chain came from ranges
  bool local_root = false;                   // ... of the local root zone (RFC 8806)
  /// The first entry read (the question's own): its lookups in the last
  /// tenth of its TTL (shmcache::Found::late_hits), for prefetch.
  uint32_t question_late_hits = 0;
};

/// Reads the answer to (qname, qtype) from `cache`. `scratch` holds at
/// least 65535 octets (kCacheScratchSize to synthesise); `now_s` is the
/// cache's clock.
CacheReadResult readCache(shmcache::Cache& cache, const dns::Name& qname, uint16_t qtype,
                          const CacheReadOptions& options, int64_t now_s,
                          std::span<uint8_t> scratch, CacheVisitor& visitor);

}  // namespace shoal::resolver
