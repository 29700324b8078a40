#include "resolver/cache_reader.h"

#include <algorithm>

#include "dns/constants.h"

namespace shoal::resolver {

namespace {

uint8_t kindByte(Kind kind) { return static_cast<uint8_t>(kind); }

/// The walk's state: the lookups and the statuses seen so far.
class Reader {
 public:
  Reader(shmcache::Cache& cache, const CacheReadOptions& options, int64_t now_s,
         std::span<uint8_t> scratch, CacheReadResult& result)
      : cache_(cache), options_(options), now_s_(now_s), scratch_(scratch), result_(result) {}

  /// The entry of (name, type, kind), if it may answer.
  std::optional<shmcache::Found> find(const dns::Name& name, uint16_t type, Kind kind) {
    const auto key = name.lookupKey();
    auto found = cache_.lookup({key.bytes(), type, kindByte(kind)}, options_.client, now_s_,
                               scratch_, options_.max_stale_s, options_.client_prefix);
    if (!found) return std::nullopt;
    if (kind == Kind::kRrset && found->meta.rank < static_cast<uint8_t>(kMinAnswerRank)) {
      return std::nullopt;
    }
    if (options_.validating && found->meta.security == shmcache::Security::kIndeterminate) {
      return std::nullopt;  // cached before validation was on: fetch it again
    }
    return *found;
  }

  CachedEntry note(const shmcache::Found& found) {
    if (!noted_) result_.question_late_hits = found.late_hits;
    noted_ = true;
    CachedEntry entry;
    entry.ttl = found.meta.expires_at > now_s_ ? static_cast<uint32_t>(found.meta.expires_at - now_s_)
                                               : 0;
    entry.security = found.meta.security;
    entry.ede = found.meta.flags;
    entry.stale = found.stale;
    result_.stale = result_.stale || found.stale;
    result_.scope = std::max(result_.scope, found.partition.prefix);
    if (options_.validating) {
      result_.all_secure = result_.all_secure && entry.security == shmcache::Security::kSecure;
      if (entry.security == shmcache::Security::kBogus && !result_.bogus) {
        result_.bogus = true;
        result_.bogus_ede = entry.ede;
      }
    }
    return entry;
  }

  std::span<const uint8_t> payload(const shmcache::Found& found) const {
    return scratch_.first(found.payload_length);
  }

 private:
  shmcache::Cache& cache_;
  const CacheReadOptions& options_;
  int64_t now_s_;
  std::span<uint8_t> scratch_;
  CacheReadResult& result_;
  bool noted_ = false;  // the first entry (the question's own) was noted
};

/// Visits the DNAME owned by the closest ancestor of `name`. False when
/// the visitor stopped.
bool visitCoveringDname(Reader& reader, const dns::Name& name, CacheVisitor& visitor) {
  for (dns::Name owner = name; !owner.isRoot();) {
    owner = owner.parent();
    auto found = reader.find(owner, dns::rrtype::kDname, Kind::kRrset);
    if (!found) continue;
    auto rrset = RrsetView::parse(reader.payload(*found));
    if (!rrset) return true;
    return visitor.onRrset(owner, dns::rrtype::kDname, reader.note(*found), *rrset);
  }
  return true;
}

/// The end of the chain from the ranges (RFC 8198), or where the cache ends.
CacheReadResult readSynthesised(shmcache::Cache& cache, const dns::Name& name, uint16_t qtype,
                                const CacheReadOptions& options, int64_t now_s,
                                std::span<uint8_t> scratch, CacheVisitor& visitor,
                                CacheReadResult& result) {
  const Synthesised synthesised = synthesise(cache, name, qtype, options.policy, now_s,
                                             scratch.first(kLookupScratch),
                                             scratch.subspan(kLookupScratch));
  CachedEntry entry;
  entry.ttl = synthesised.ttl;
  entry.security = shmcache::Security::kSecure;
  bool go_on = false;
  switch (synthesised.kind) {
    case Synthesis::kNone:
      result.result = result.links > 0 ? CacheRead::kMoved : CacheRead::kMiss;
      result.next_name = name;
      return result;
    case Synthesis::kWildcard: {
      auto rrset = RrsetView::parse(synthesised.payload);
      if (!rrset) return result;  // kMiss: written by synthesise(), cannot fail
      go_on = visitor.onRrset(name, qtype, entry, *rrset);
      result.result = CacheRead::kAnswer;
      break;
    }
    case Synthesis::kNxdomain:
    case Synthesis::kNodata: {
      auto records = NegativeView::parse(synthesised.payload);
      if (!records) return result;
      const bool nxdomain = synthesised.kind == Synthesis::kNxdomain;
      go_on = visitor.onNegative(nxdomain, entry, *records);
      result.result = nxdomain ? CacheRead::kNxdomain : CacheRead::kNodata;
      break;
    }
  }
  if (!go_on) {
    result.result = CacheRead::kStopped;
    return result;
  }
  result.synthesised = synthesised.kind;
  result.local_root = synthesised.local_root;
  return result;
}

}  // namespace

CacheReadResult readCache(shmcache::Cache& cache, const dns::Name& qname, uint16_t qtype,
                          const CacheReadOptions& options, int64_t now_s,
                          std::span<uint8_t> scratch, CacheVisitor& visitor) {
  CacheReadResult result;
  Reader reader(cache, options, now_s, scratch.first(std::min(scratch.size(), kLookupScratch)),
                result);
  dns::Name name = qname;
  for (;; ++result.links) {
    if (auto found = reader.find(name, qtype, Kind::kRrset)) {
      auto rrset = RrsetView::parse(reader.payload(*found));
      if (!rrset) break;
      result.result = visitor.onRrset(name, qtype, reader.note(*found), *rrset) ? CacheRead::kAnswer
                                                                                 : CacheRead::kStopped;
      return result;
    }
    if (qtype == dns::rrtype::kCname || result.links >= options.max_links) break;
    auto found = reader.find(name, dns::rrtype::kCname, Kind::kRrset);
    if (!found) break;
    auto rrset = RrsetView::parse(reader.payload(*found));
    if (!rrset || rrset->count() != 1) break;
    auto target = dns::Name::fromUncompressed(rrset->rdata(rrset->firstRdata()).rdata);
    if (!target) break;
    if ((rrset->flags() & kFromDname) != 0) {
      // The DNAME goes first; its lookup reuses scratch, so read the CNAME
      // again after it.
      if (!visitCoveringDname(reader, name, visitor)) {
        result.result = CacheRead::kStopped;
        return result;
      }
      found = reader.find(name, dns::rrtype::kCname, Kind::kRrset);
      if (!found) break;
      rrset = RrsetView::parse(reader.payload(*found));
      if (!rrset) break;
    }
    if (!visitor.onRrset(name, dns::rrtype::kCname, reader.note(*found), *rrset)) {
      result.result = CacheRead::kStopped;
      return result;
    }
    name = *target;
  }
  // A negative answer: no data of this type, or no such name (also for an
  // ancestor, RFC 8020).
  bool nxdomain = false;
  auto found = reader.find(name, qtype, Kind::kNodata);
  for (dns::Name probe = name; !found;) {
    found = reader.find(probe, 0, Kind::kNxdomain);
    if (found) {
      nxdomain = true;
      break;
    }
    if (!options.nxdomain_cut || probe.labelCount() <= 1) break;
    probe = probe.parent();
  }
  auto records = found ? NegativeView::parse(reader.payload(*found)) : std::nullopt;
  if (records && (records->flags() & kNoSoa) != 0) records.reset();  // not for clients
  if (!records && options.aggressive && options.validating && scratch.size() >= kCacheScratchSize) {
    return readSynthesised(cache, name, qtype, options, now_s, scratch, visitor, result);
  }
  if (!records) {
    result.result = result.links > 0 ? CacheRead::kMoved : CacheRead::kMiss;
    result.next_name = name;
    return result;
  }
  if (!visitor.onNegative(nxdomain, reader.note(*found), *records)) {
    result.result = CacheRead::kStopped;
    return result;
  }
  result.result = nxdomain ? CacheRead::kNxdomain : CacheRead::kNodata;
  return result;
}

}  // namespace shoal::resolver
