#pragma once
// Negative trust anchors added at run time (RFC 7646), kept in the shared
// cache: every worker sees one the moment it is added, and they survive
// worker restarts, reloads, upgrades and warm starts. The configuration's
// list (dnssec.negative_trust_anchors, ValidationConfig::negative_anchors)
// is the durable one; these are the operator's quick fixes.
//
// One entry per anchor: kind kNegativeAnchor, type 0, the global
// partition, keyed by the zone's lookup key (payload in
// resolver/cache_format.h); its expires_at is the end of the anchor's
// lifetime (RFC 7646 section 2: anchors must expire; at most a week here).
// Entries are evicted like any other when a stripe is full: a runtime
// anchor may end early on a cache under pressure. Cache::removeName (and
// so `shoalctl cache flush`) keeps them: only remove() takes one away.
//
// The supervisor writes them (add, remove: one entry each); the validator
// reads them (covered..., one lookup per label, slow path only); list
// scans the whole cache one stripe at a time and is for the control socket
// only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "shmcache/cache.h"

namespace shoal::resolver {

/// RFC 7646 section 2: an anchor must expire; a week at most.
inline constexpr uint32_t kMaxAnchorLifetimeS = 7 * 86400;
/// Without --lifetime: a day.
inline constexpr uint32_t kDefaultAnchorLifetimeS = 86400;
/// The operator's reason, in octets.
inline constexpr size_t kMaxAnchorReason = 256;
/// The format octet of an anchor's payload.
inline constexpr uint8_t kNegativeAnchorFormat = 1;

/// One runtime anchor as stored.
struct NegativeAnchor {
  std::string name;        // presentation form, lowercase, with the trailing dot
  int64_t added_at = 0;    // wall-clock seconds; 0 when the payload did not decode
  int64_t expires_at = 0;  // wall-clock seconds
  std::string reason;      // may be empty
};

/// What add() and remove() did.
struct AnchorChange {
  std::string name;    // normalised presentation form
  size_t changed = 0;  // add: 1; remove: the entries removed (0: there was none)
  std::string error;   // non-empty: the arguments were refused; nothing changed
};

/// Adds (or replaces, renewing its lifetime) the runtime anchor `name_text`
/// for `lifetime_s` seconds (1..kMaxAnchorLifetimeS) from `now_s`. Refuses
/// a bad name, the root (that is validation off: dnssec.validation), a
/// lifetime out of range, a reason longer than kMaxAnchorReason or with
/// control characters. Does not flush the cache: the caller does.
AnchorChange addNegativeAnchor(shmcache::Cache& cache, std::string_view name_text,
                               uint32_t lifetime_s, std::string_view reason, int64_t now_s);

/// Removes the runtime anchor `name_text` (exactly that name); `changed`
/// is 0 when there was none.
AnchorChange removeNegativeAnchor(shmcache::Cache& cache, std::string_view name_text);

/// Every unexpired runtime anchor, in canonical order of the names. Scans
/// the whole cache: for the control socket, never the data path.
std::vector<NegativeAnchor> listNegativeAnchors(shmcache::Cache& cache, int64_t now_s);

/// Whether `name` or one of its ancestors is an unexpired runtime anchor:
/// one cache lookup per label, the root excluded. Slow path (the
/// validator, before it trusts a zone).
bool coveredByNegativeAnchor(shmcache::Cache& cache, const dns::Name& name, int64_t now_s);

/// The normalised form of a name as anchors are listed ("Example.COM" ->
/// "example.com."); empty when `text` is not a name.
std::string anchorName(std::string_view text);

}  // namespace shoal::resolver
