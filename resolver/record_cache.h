#pragma once
// DNS semantics on top of shmcache for the resolver's slow path: RRsets and
// negative answers keyed by owner name (lookup key), type and kind, TTL
// limits applied on the way in and remaining TTL on the way out. May
// allocate. Answers are read with the hot path's reader (readAnswer), so
// that both paths walk the cache the same way.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/ip_address.h"
#include "dns/name.h"
#include "resolver/cache_format.h"
#include "resolver/cache_reader.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

struct TtlLimits {
  uint32_t min_ttl = 0;
  uint32_t max_ttl = 86400;
  uint32_t max_negative_ttl = 3600;
};

/// The DNSSEC status stored with an entry, and for bogus data the Extended
/// DNS Error (RFC 8914) that says why (kept in the entry's meta flags).
struct EntryStatus {
  shmcache::Security security = shmcache::Security::kIndeterminate;
  uint16_t ede = 0;
};

struct NegativeAnswer {
  bool nxdomain = false;
  uint32_t ttl = 0;  // remaining
  std::vector<NegativeRecord> records;
  EntryStatus status;
};

/// What the cache holds for a question, copied out (readCache, owned).
struct CachedAnswer {
  CacheReadResult read;
  std::vector<Rrset> rrsets;  // the links in order, then the data (kAnswer)
  std::vector<NegativeRecord> negative;  // kNodata, kNxdomain: SOA and proofs
  uint32_t negative_ttl = 0;
  std::vector<NegativeRecord> proofs;  // wildcard proofs kept with the RRsets
  uint32_t proof_ttl = 0;
};

/// A cached RRset with its status.
struct CachedRrset {
  Rrset rrset;
  EntryStatus status;
};

class RecordCache {
 public:
  RecordCache(shmcache::Cache& cache, TtlLimits limits) : cache_(cache), limits_(limits) {}

  /// The shared cache underneath, for what is kept there besides DNS data
  /// (the runtime negative trust anchors the validator consults).
  shmcache::Cache& cache() { return cache_; }

  /// Stores an RRset with its TTL clamped to the limits. Returns false if
  /// it was not stored (TTL 0, a higher-ranked entry in place, too large).
  /// `proofs`: the NSEC/NSEC3 records of a wildcard expansion, kept with it.
  /// `partition`: the ECS partition of an answer tailored to a subnet.
  bool storeRrset(const Rrset& rrset, Rank rank, int64_t now_s, EntryStatus status = {},
                  const std::vector<NegativeRecord>& proofs = {},
                  const shmcache::Partition& partition = shmcache::Partition::global());
  /// Stores a negative answer (RFC 2308): NXDOMAIN for `name`, or NODATA for
  /// (name, type). `ttl` is already min(SOA TTL, SOA MINIMUM).
  bool storeNegative(const dns::Name& name, uint16_t type, bool nxdomain, uint32_t ttl,
                     const std::vector<NegativeRecord>& records, int64_t now_s,
                     EntryStatus status = {},
                     const shmcache::Partition& partition = shmcache::Partition::global());

  /// The cached RRset (global partition) with its remaining TTL, if its
  /// trust rank is at least `min_rank` (answers pass kMinAnswerRank; finding
  /// servers accepts glue).
  std::optional<Rrset> fetchRrset(const dns::Name& owner, uint16_t type, int64_t now_s,
                                  Rank min_rank = Rank::kGlue, uint32_t max_stale_s = 0);
  /// The same, with the entry's DNSSEC status.
  std::optional<CachedRrset> fetchCached(const dns::Name& owner, uint16_t type, int64_t now_s,
                                         Rank min_rank = Rank::kGlue, uint32_t max_stale_s = 0);
  /// NODATA for exactly (name, type) (a DS proven absent, for the
  /// validator).
  std::optional<NegativeAnswer> fetchNodata(const dns::Name& name, uint16_t type, int64_t now_s);
  /// The answer to (qname, qtype) as far as the cache holds it: the same
  /// reader as the hot path's (resolver/cache_reader.h), copied out.
  CachedAnswer readAnswer(const dns::Name& qname, uint16_t qtype, const CacheReadOptions& options,
                          int64_t now_s);
  /// `ttl` within the configured min/max TTL, as stored.
  uint32_t limitTtl(uint32_t ttl) const { return std::clamp(ttl, limits_.min_ttl, limits_.max_ttl); }
  /// A and AAAA addresses cached for `name`.
  std::vector<base::IpAddress> fetchAddresses(const dns::Name& name, bool ipv4, bool ipv6,
                                              int64_t now_s);

 private:
  std::optional<NegativeAnswer> decodeNegative(const shmcache::Found& found, bool nxdomain,
                                               int64_t now_s) const;

  shmcache::Cache& cache_;
  TtlLimits limits_;
  std::vector<uint8_t> scratch_ = std::vector<uint8_t>(kCacheScratchSize);
};

}  // namespace shoal::resolver
