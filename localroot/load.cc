#include "localroot/load.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

#include "dns/constants.h"
#include "dnssec/rrsig.h"
#include "resolver/ranges.h"

namespace shoal::localroot {

namespace {

using resolver::Rank;
using Key = std::vector<uint8_t>;

Key keyOf(const dns::Name& name) {
  const auto key = name.lookupKey();
  return {key.bytes().begin(), key.bytes().end()};
}

enum class Place : uint8_t { kApex, kAuthoritative, kAtCut, kBelowCut };

/// Where `owner` sits: the apex, authoritative data, a delegation point,
/// or below one (glue and occluded data).
Place placeOf(const dns::Name& owner, const dns::Name& apex, const std::set<Key>& cuts) {
  if (owner == apex) return Place::kApex;
  dns::Name name = owner;
  while (name.labelCount() > apex.labelCount()) {
    if (cuts.count(keyOf(name)) != 0) return name == owner ? Place::kAtCut : Place::kBelowCut;
    name = name.parent();
  }
  return Place::kAuthoritative;
}

/// The lifetime a signed RRset may be cached for: capped by the apex
/// RRSIG valid now that lasts longest (its original TTL and expiration).
/// Nullopt when no RRSIG of the apex is valid now.
std::optional<int64_t> signedTtl(const dns::Rrset& rrset, const dns::Name& apex, int64_t now_s) {
  std::optional<int64_t> best;
  for (const auto& sig_rdata : rrset.sigs) {
    const auto sig = dnssec::parseRrsig(sig_rdata);
    if (!sig || !(sig->signer == apex) || !dnssec::signatureTimeValid(*sig, now_s)) continue;
    const int64_t until = static_cast<int32_t>(sig->expiration - static_cast<uint32_t>(now_s));
    const int64_t ttl = std::min<int64_t>({rrset.ttl, sig->original_ttl, until});
    if (!best || ttl > *best) best = ttl;
  }
  return best;
}

class Loader {
 public:
  Loader(resolver::RecordCache& records, const VerifiedZone& zone, uint32_t max_negative_ttl,
         int64_t now_s)
      : records_(records), zone_(zone), max_negative_ttl_(max_negative_ttl), now_s_(now_s) {
    for (const auto& rrset : zone.rrsets) {
      if (rrset.type == dns::rrtype::kNs && !(rrset.owner == zone.apex)) {
        cuts_.insert(keyOf(rrset.owner));
      }
    }
  }

  LoadReport run() {
    for (const auto& rrset : zone_.rrsets) load(rrset);
    loadDenialZone();
    countLostRanges();
    return report_;
  }

 private:
  void load(const dns::Rrset& rrset) {
    const Place place = placeOf(rrset.owner, zone_.apex, cuts_);
    const bool denial = rrset.type == dns::rrtype::kNsec || rrset.type == dns::rrtype::kNsec3;
    const int64_t zone_left = zone_.valid_until - now_s_;
    if (place == Place::kBelowCut ||
        (place == Place::kAtCut && rrset.type != dns::rrtype::kDs && !denial)) {
      // Unsigned data of the parent side of a cut (RFC 4035 section 2.2).
      if (place == Place::kAtCut && rrset.type == dns::rrtype::kNs) {
        store(rrset, Rank::kReferral, {}, std::min<int64_t>(rrset.ttl, zone_left));
      } else if (rrset.type == dns::rrtype::kA || rrset.type == dns::rrtype::kAaaa) {
        store(rrset, Rank::kGlue, {}, std::min<int64_t>(rrset.ttl, zone_left));
      } else {
        ++report_.skipped;  // occluded (RFC 5936 section 3.5): never an answer
      }
      return;
    }
    const auto ttl = signedTtl(rrset, zone_.apex, now_s_);
    if (!ttl) {
      ++report_.skipped;  // unsigned authoritative data cannot be secure
      return;
    }
    const int64_t lifetime = std::min(*ttl, zone_left);
    store(rrset, Rank::kAuthoritativeAnswer, {shmcache::Security::kSecure, 0}, lifetime);
    if (denial && lifetime > 0) storeRange(rrset, lifetime);
  }

  void store(const dns::Rrset& rrset, Rank rank, resolver::EntryStatus status, int64_t ttl) {
    if (ttl <= 0) {
      ++report_.skipped;
      return;
    }
    dns::Rrset copy = rrset;
    copy.ttl = static_cast<uint32_t>(ttl);
    copy.flags = resolver::kFromLocalRoot;
    if (records_.storeRrset(copy, rank, now_s_, status)) {
      ++report_.rrsets;
      note(records_.limitTtl(copy.ttl));
    } else {
      ++report_.refused;
    }
  }

  /// RFC 9077: a negative answer lives min(SOA TTL, SOA MINIMUM); the
  /// ranges are negative answers waiting to be made.
  uint32_t negativeCap(int64_t ttl) const {
    return static_cast<uint32_t>(std::min<int64_t>(
        {ttl, zone_.soa.minimum, max_negative_ttl_}));
  }

  void storeRange(const dns::Rrset& rrset, int64_t lifetime) {
    const uint32_t ttl = negativeCap(lifetime);
    if (ttl > 0 && resolver::storeRange(records_.cache(), zone_.apex, rrset, ttl, now_s_,
                                        resolver::kFromLocalRoot)) {
      ++report_.ranges;
      stored_ranges_.push_back(keyOf(rrset.owner));
      note(ttl);
    } else {
      ++report_.refused;
    }
  }

  void loadDenialZone() {
    const dns::Rrset* soa = nullptr;
    std::optional<resolver::ZoneDenial> denial = resolver::ZoneDenial{};
    for (const auto& rrset : zone_.rrsets) {
      if (rrset.type == dns::rrtype::kSoa && rrset.owner == zone_.apex) soa = &rrset;
      if (rrset.type == dns::rrtype::kNsec3) denial = resolver::denialOf(rrset);
    }
    if (soa == nullptr || !denial) return;
    const auto ttl = signedTtl(*soa, zone_.apex, now_s_);
    if (!ttl) return;
    const uint32_t lifetime = negativeCap(std::min(*ttl, zone_.valid_until - now_s_));
    if (lifetime == 0) return;
    report_.denial_zone = resolver::storeDenialZone(records_.cache(), zone_.apex, *denial, &*soa,
                                                    lifetime, now_s_, resolver::kFromLocalRoot);
    if (report_.denial_zone) note(lifetime);
  }

  /// Looks each stored range up again: the ones stored last may have
  /// pushed the first ones out of their stripe.
  void countLostRanges() {
    const auto set = zone_.apex.lookupKey();
    std::vector<uint8_t> order_out(dns::kMaxLookupKeyLength);
    std::vector<uint8_t> payload(65536);
    for (const Key& order : stored_ranges_) {
      auto found = records_.cache().findRange(set.bytes(), order, now_s_, order_out, payload);
      const bool kept = found && found->order_length == order.size() &&
                        std::equal(order.begin(), order.end(), order_out.begin());
      if (!kept) ++report_.ranges_lost;
    }
    report_.ranges -= report_.ranges_lost;
  }

  void note(uint32_t ttl) {
    if (report_.shortest_ttl == 0 || ttl < report_.shortest_ttl) report_.shortest_ttl = ttl;
  }

  resolver::RecordCache& records_;
  const VerifiedZone& zone_;
  uint32_t max_negative_ttl_;
  int64_t now_s_;
  std::set<Key> cuts_;
  std::vector<Key> stored_ranges_;
  LoadReport report_;
};

}  // namespace

LoadReport loadZone(resolver::RecordCache& records, const VerifiedZone& zone,
                    uint32_t max_negative_ttl, int64_t now_s) {
  return Loader(records, zone, max_negative_ttl, now_s).run();
}

}  // namespace shoal::localroot
