#pragma once
// Internal to the iterator (iterator.cc, iterator_settle.cc): its limits and
// small helpers. Not an interface: include resolver/iterator.h.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dns/name.h"
#include "resolver/cache_format.h"
#include "resolver/record_cache.h"

namespace shoal::resolver::iterator_internal {

inline constexpr int kMaxChain = 12;          // CNAME/DNAME links per client question
inline constexpr int kMaxDepth = 4;           // nested sub-tasks (NS addresses, priming)
// Key sub-tasks (DS, DNSKEY) climb one zone per level towards the anchor.
inline constexpr int kMaxKeyDepth = 24;
// Data whose keys could not be fetched is remembered as bogus this long.
inline constexpr uint32_t kKeyFailureTtl = 5;
inline constexpr int kMaxSentPerTask = 40;    // upstream queries per task
// Hedging: each query sent earns the worker kHedgeShare of a hedge, and at
// most kHedgeBurst are saved up: hedges stay within 5 % of the queries in
// steady state, and a burst after a quiet time may hedge a little more.
inline constexpr double kHedgeShare = 0.05;
inline constexpr double kHedgeBurst = 10;
// Resolutions a worker carries on with after their clients had an answer
// (at query_timeout), so that the result is cached for the client's retry.
inline constexpr size_t kMaxBackgroundTasks = 2048;
inline constexpr int kMaxNsLookupsAtOnce = 2;
// NXNSAttack (CVE-2020-12662): name-server addresses looked up per zone cut
// (A and AAAA count one each), and upstream queries per client query
// across all the sub-tasks it started.
inline constexpr int kMaxNsLookupsPerCut = 8;
inline constexpr int kMaxQueriesPerClientQuery = 120;
// Holding questions back for a range flight (Iterator::RangeFlight): times
// one task may wait, waiters per flight, flights per worker, and how long
// a flight may hold anyone.
inline constexpr int kMaxRangeWaits = 3;
inline constexpr size_t kMaxRangeWaiters = 64;
inline constexpr size_t kMaxRangeFlights = 256;
inline constexpr int64_t kRangeHoldMs = 1000;
/// Overload (EngineConfig::max_resolutions): data expired up to a day ago
/// is better than SERVFAIL (RFC 8767's suggested upper bound is 1 to 3 days).
inline constexpr uint32_t kOverloadStaleS = 86400;

inline bool sameQuestion(const dns::Name& a, uint16_t at, const dns::Name& b, uint16_t bt) {
  return at == bt && a == b;
}

inline std::vector<uint8_t> keyBytes(const dns::Name& name) {
  const auto key = name.lookupKey();
  return {key.bytes().begin(), key.bytes().end()};
}

/// An RRset from a reply as the client gets it: with the TTL limits the
/// cache applies when it stores it.
inline Rrset withTtlLimits(const Rrset& rrset, const RecordCache& records) {
  Rrset out = rrset;
  out.ttl = records.limitTtl(out.ttl);
  return out;
}

}  // namespace shoal::resolver::iterator_internal
