#include "resolver/validator.h"

#include <algorithm>
#include <cctype>

#include "dns/constants.h"
#include "dnssec/denial.h"
#include "dnssec/keys.h"
#include "dnssec/rrsig.h"
#include "resolver/negative_anchors.h"

namespace shoal::resolver {

namespace {

using dnssec::Security;
using dnssec::Verdict;

int severity(Security s) {
  switch (s) {
    case Security::kSecure: return 0;
    case Security::kInsecure: return 1;
    case Security::kIndeterminate: return 2;
    case Security::kBogus: return 3;
  }
  return 3;
}

Verdict fromStatus(const EntryStatus& status, const std::string& what) {
  switch (status.security) {
    case shmcache::Security::kSecure: return Verdict::secure();
    case shmcache::Security::kInsecure: return Verdict::insecure(0, what + " is insecure");
    case shmcache::Security::kBogus:
      return Verdict::bogus(status.ede != 0 ? status.ede : dnssec::ede::kDnssecBogus,
                            what + " is bogus");
    case shmcache::Security::kIndeterminate: break;
  }
  return {};
}

/// The signer of the first RRSIG of `rrset` that may sign it (a signer at or
/// above the owner, RFC 4035 section 5.3.1).
std::optional<dns::Name> signerOf(const Rrset& rrset) {
  for (const auto& sig : rrset.sigs) {
    auto parsed = dnssec::parseRrsig(sig);
    if (parsed && rrset.owner.isSubdomainOf(parsed->signer)) return parsed->signer;
  }
  return std::nullopt;
}

/// True if the cached proof of "no DS at `zone`" shows a delegation there
/// (NS in the bitmap of the NSEC or NSEC3 matching `zone`). Without one the
/// name is no zone cut, so it cannot sign anything (a forged signer name).
bool showsDelegation(const NegativeAnswer& negative, const dns::Name& zone) {
  for (const auto& record : negative.records) {
    if (record.type == dns::rrtype::kNsec && record.owner == zone) {
      auto next = dns::Name::fromUncompressed(record.rdata);
      if (!next) continue;
      return dnssec::bitmapHasType(std::span(record.rdata).subspan(next->length()),
                                   dns::rrtype::kNs);
    }
    if (record.type == dns::rrtype::kNsec3 && record.rdata.size() >= 5) {
      const std::span<const uint8_t> rd(record.rdata);
      const uint8_t salt_length = rd[4];
      if (rd.size() < 6u + salt_length) continue;
      const uint8_t hash_length = rd[5u + salt_length];
      const size_t bitmap_at = 6u + salt_length + hash_length;
      if (rd.size() < bitmap_at) continue;
      const auto hash = dnssec::nsec3Hash(zone, rd[0], static_cast<uint16_t>((rd[2] << 8) | rd[3]),
                                          rd.subspan(5, salt_length));
      const auto label = dnssec::base32HexEncode(hash);
      const auto first = record.owner.label(0);
      if (hash.empty() || first.size() != label.size() ||
          !std::equal(first.begin(), first.end(), label.begin(),
                      [](uint8_t a, char b) { return std::tolower(a) == b; })) {
        continue;
      }
      return dnssec::bitmapHasType(rd.subspan(bitmap_at), dns::rrtype::kNs);
    }
  }
  // An opt-out proof (stored insecure) has no matching record: the caller
  // only asks for secure proofs.
  return false;
}

}  // namespace

Verdict cachedVerdict(const EntryStatus& status) {
  return fromStatus(status, "cached data");
}

Verdict worst(const Verdict& a, const Verdict& b) {
  return severity(b.security) > severity(a.security) ? b : a;
}

Validator::Validator(const ValidationConfig& config, RecordCache& records)
    : config_(config), records_(records) {}

const dns::Name* Validator::anchorFor(const dns::Name& name) const {
  const dns::Name* best = nullptr;
  for (const auto& anchor : config_.anchors) {
    if (name.isSubdomainOf(anchor.owner) &&
        (best == nullptr || anchor.owner.labelCount() > best->labelCount())) {
      best = &anchor.owner;
    }
  }
  return best;
}

bool Validator::underNegativeAnchor(const dns::Name& name, int64_t now_s) const {
  return std::any_of(config_.negative_anchors.begin(), config_.negative_anchors.end(),
                     [&](const dns::Name& nta) { return name.isSubdomainOf(nta); }) ||
         coveredByNegativeAnchor(records_.cache(), name, now_s);
}

RrsetVerdict Validator::bogus(uint16_t ede, std::string why) const {
  return {Verdict::bogus(ede, std::move(why)), config_.bogus_ttl};
}

Validator::KeyTrust Validator::keyTrust(const dns::Name& zone, int64_t now_s,
                                        dnssec::Budget& budget) {
  KeyTrust out;
  if (!enabled()) {
    out.verdict = Verdict::insecure(0, "validation is off");
    return out;
  }
  if (underNegativeAnchor(zone, now_s)) {
    out.verdict = Verdict::insecure(0, zone.toText() + " is under a negative trust anchor");
    return out;
  }
  const dns::Name* anchor = anchorFor(zone);
  if (anchor == nullptr) {
    out.verdict = Verdict::insecure(0, "no trust anchor above " + zone.toText());
    return out;
  }
  if (*anchor == zone) {
    for (const auto& a : config_.anchors) {
      if (!(a.owner == zone)) continue;
      (a.type == dns::rrtype::kDs ? out.ds : out.anchor_keys).push_back(a.rdata);
    }
    out.verdict = Verdict::secure();
    return out;
  }
  if (auto ds = records_.fetchCached(zone, dns::rrtype::kDs, now_s, kMinAnswerRank)) {
    if (ds->status.security == shmcache::Security::kIndeterminate && !ds->rrset.sigs.empty()) {
      // A referral's DS, kept before the parent's keys were at hand:
      // validate it now (or fetch those keys first) instead of asking for
      // it again.
      Judgement j = judgeRrset(ds->rrset, zone.parent(), now_s, budget);
      if (j.need) {
        out.need = std::move(j.need);
        return out;
      }
      ds->status = {static_cast<shmcache::Security>(j.result.verdict.security), j.result.verdict.ede};
      Rrset stored = ds->rrset;
      stored.ttl = std::min(stored.ttl, j.result.ttl);
      records_.storeRrset(stored, Rank::kAuthority, now_s, ds->status);
    }
    if (ds->status.security != shmcache::Security::kIndeterminate) {
      out.verdict = fromStatus(ds->status, "DS of " + zone.toText());
      if (out.verdict.isSecure()) out.ds = std::move(ds->rrset.rdatas);
      return out;
    }
  }
  if (auto none = records_.fetchNodata(zone, dns::rrtype::kDs, now_s)) {
    switch (none->status.security) {
      case shmcache::Security::kInsecure:
        out.verdict = Verdict::insecure(0, zone.toText() + " is below an insecure zone");
        return out;
      case shmcache::Security::kSecure:
        if (showsDelegation(*none, zone)) {
          out.verdict = Verdict::insecure(0, "no DS for " + zone.toText() + ": insecure delegation");
        } else {
          out.verdict = Verdict::bogus(dnssec::ede::kDnssecBogus,
                                       "signer " + zone.toText() + " is not a zone cut");
        }
        return out;
      case shmcache::Security::kBogus:
        out.verdict = fromStatus(none->status, "the proof of no DS for " + zone.toText());
        return out;
      case shmcache::Security::kIndeterminate: break;
    }
  }
  out.need = KeyQuestion{zone, dns::rrtype::kDs};
  return out;
}

bool Validator::wantsKeys(const dns::Name& zone, int64_t now_s) {
  if (!enabled() || anchorFor(zone) == nullptr || underNegativeAnchor(zone, now_s)) return false;
  if (records_.fetchCached(zone, dns::rrtype::kDnskey, now_s, kMinAnswerRank)) return false;
  if (records_.fetchNodata(zone, dns::rrtype::kDnskey, now_s)) return false;
  if (auto ds = records_.fetchCached(zone, dns::rrtype::kDs, now_s, kMinAnswerRank)) {
    return ds->status.security == shmcache::Security::kSecure ||
           ds->status.security == shmcache::Security::kIndeterminate;
  }
  // No DS, or a proof of no DS even if not validated yet (an insecure
  // delegation needs no keys; a forged proof only delays the fetch).
  return !records_.fetchNodata(zone, dns::rrtype::kDs, now_s);
}

ZoneTrust Validator::trustOf(const dns::Name& zone, int64_t now_s, dnssec::Budget& budget) {
  ZoneTrust out;
  if (enabled() && !underNegativeAnchor(zone, now_s) && anchorFor(zone) != nullptr) {
    if (auto keys = records_.fetchCached(zone, dns::rrtype::kDnskey, now_s, kMinAnswerRank)) {
      if (keys->status.security != shmcache::Security::kIndeterminate) {
        out.verdict = fromStatus(keys->status, "DNSKEY of " + zone.toText());
        if (out.verdict.isSecure()) out.keys = std::move(keys->rrset.rdatas);
        return out;
      }
    }
  }
  KeyTrust points = keyTrust(zone, now_s, budget);
  if (points.need || !points.verdict.isSecure()) {
    out.verdict = std::move(points.verdict);
    out.need = std::move(points.need);
    return out;
  }
  out.need = KeyQuestion{zone, dns::rrtype::kDnskey};
  return out;
}

Validator::CutTrust Validator::trustDown(const dns::Name& top, const dns::Name& name,
                                         int64_t now_s, dnssec::Budget& budget) {
  CutTrust out;
  out.zone = top;
  ZoneTrust trust = trustOf(top, now_s, budget);
  if (trust.need || !trust.verdict.isSecure()) {
    out.verdict = std::move(trust.verdict);
    out.need = std::move(trust.need);
    return out;
  }
  std::vector<dns::Name> below;  // name up to (not including) top
  for (dns::Name n = name; n.labelCount() > top.labelCount(); n = n.parent()) below.push_back(n);
  for (auto it = below.rbegin(); it != below.rend(); ++it) {
    const dns::Name& cut = *it;
    // A secure proof of no DS without NS: no zone cut here, look deeper.
    if (auto none = records_.fetchNodata(cut, dns::rrtype::kDs, now_s);
        none && none->status.security == shmcache::Security::kSecure &&
        !showsDelegation(*none, cut)) {
      continue;
    }
    KeyTrust points = keyTrust(cut, now_s, budget);
    if (points.need) {
      out.need = std::move(points.need);
      return out;
    }
    if (!points.verdict.isSecure()) {
      out.verdict = std::move(points.verdict);  // an insecure delegation (or bogus)
      out.zone = cut;
      return out;
    }
    out.zone = cut;  // a signed cut: data below must be signed, unless deeper is insecure
  }
  out.verdict = dnssec::Verdict::secure();
  return out;
}

Validator::Judgement Validator::judgeRrset(const Rrset& rrset, const dns::Name& zone_asked,
                                           int64_t now_s, dnssec::Budget& budget,
                                           bool forwarded) {
  Judgement out;
  auto signer = signerOf(rrset);
  // A DNSKEY RRset at its zone's apex is judged against the zone's DS or
  // anchor, signed or not (unsigned under a DS: RRSIGs missing).
  if (!signer && rrset.type == dns::rrtype::kDnskey) signer = rrset.owner;
  if (!signer) {
    // Unsigned: acceptable only from an insecure zone: the zone asked, or,
    // from a forwarder, the zone the owner turns out to be in.
    CutTrust trust;
    if (forwarded && rrset.owner.isSubdomainOf(zone_asked)) {
      trust = trustDown(zone_asked, rrset.owner, now_s, budget);
    } else {
      ZoneTrust zone = trustOf(zone_asked, now_s, budget);
      trust = {std::move(zone.verdict), zone_asked, std::move(zone.need)};
    }
    out.signer = trust.zone;
    if (trust.need) {
      out.need = std::move(trust.need);
    } else if (trust.verdict.isSecure()) {
      out.result = bogus(dnssec::ede::kRrsigsMissing, "no RRSIG for " + rrset.owner.toText() + " " +
                                                         dns::typeToText(rrset.type) + " from " +
                                                         trust.zone.toText());
    } else {
      out.result = {trust.verdict, rrset.ttl};
      if (trust.verdict.isBogus()) out.result.ttl = config_.bogus_ttl;
    }
    return out;
  }
  out.signer = *signer;
  if (rrset.type == dns::rrtype::kDnskey && rrset.owner == *signer) {
    KeyTrust points = keyTrust(*signer, now_s, budget);
    if (points.need) {
      out.need = std::move(points.need);
      return out;
    }
    if (!points.verdict.isSecure()) {
      out.result = {points.verdict, points.verdict.isBogus() ? config_.bogus_ttl : rrset.ttl};
      return out;
    }
    auto keys = dnssec::validateDnskeys(rrset, points.ds, points.anchor_keys, now_s,
                                        config_.policy, budget, &key_cache_);
    out.result = {keys.verdict, keys.verdict.isSecure()  ? keys.ttl
                                : keys.verdict.isBogus() ? config_.bogus_ttl
                                                         : rrset.ttl};
    return out;
  }
  if (rrset.type == dns::rrtype::kDs && rrset.owner == *signer) {
    out.result = bogus(dnssec::ede::kDnssecBogus, "DS of " + rrset.owner.toText() +
                                                      " signed by the child zone");
    return out;
  }
  ZoneTrust trust = trustOf(*signer, now_s, budget);
  if (trust.need) {
    out.need = std::move(trust.need);
    return out;
  }
  if (!trust.verdict.isSecure()) {
    out.result = {trust.verdict, trust.verdict.isBogus() ? config_.bogus_ttl : rrset.ttl};
    return out;
  }
  auto verified =
      dnssec::verifyRrset(rrset, *signer, trust.keys, now_s, config_.policy, budget, &key_cache_);
  out.result = {verified.verdict, verified.verdict.isSecure()  ? verified.ttl
                                  : verified.verdict.isBogus() ? config_.bogus_ttl
                                                               : rrset.ttl};
  if (verified.verdict.isSecure() && verified.wildcard) {
    out.wildcard_ce = verified.wildcard_closest_encloser;
  }
  return out;
}

Validator::Judgement Validator::judgeProofs(const std::vector<Rrset>& proofs,
                                            const dns::Name& zone_asked, int64_t now_s,
                                            dnssec::Budget& budget,
                                            std::vector<Rrset>& secure_proofs, bool forwarded) {
  Judgement out;
  out.result = {Verdict::secure(), 0xFFFFFFFFu};
  for (const auto& proof : proofs) {
    Judgement one = judgeRrset(proof, zone_asked, now_s, budget, forwarded);
    if (one.need) return one;
    if (one.result.verdict.isSecure()) {
      secure_proofs.push_back(proof);
      out.signer = one.signer;
    }
    out.result.ttl = std::min(out.result.ttl, one.result.ttl);
    out.result.verdict = worst(out.result.verdict, one.result.verdict);
  }
  return out;
}

Validator::Judgement Validator::judgeNegative(const Classified& reply, const SentQuestion& sent,
                                              int64_t now_s, dnssec::Budget& budget) {
  Judgement out;
  const dns::Name zone = reply.soa ? reply.soa->owner : sent.zone;
  uint32_t ttl = reply.negative_ttl;
  Verdict overall = Verdict::secure();
  std::optional<RrsetVerdict> soa_verdict;
  // From a forwarder, the zone an unsigned SOA or proof claims is checked
  // from the forward zone down (the SOA owner alone proves nothing).
  const dns::Name& top = sent.forwarded ? sent.zone : zone;
  if (reply.soa) {
    Judgement soa = judgeRrset(*reply.soa, top, now_s, budget, sent.forwarded);
    if (soa.need) return soa;
    overall = worst(overall, soa.result.verdict);
    soa_verdict = soa.result;
  }
  std::vector<Rrset> secure_proofs;
  Judgement proofs = judgeProofs(reply.proofs, top, now_s, budget, secure_proofs, sent.forwarded);
  if (proofs.need) return proofs;
  overall = worst(overall, proofs.result.verdict);
  if (overall.isSecure()) {
    if (reply.proofs.empty() && !reply.soa) {
      // No SOA and no proof: judged by the zone's trust alone.
      CutTrust trust;
      if (sent.forwarded && sent.qname.isSubdomainOf(sent.zone)) {
        trust = trustDown(sent.zone, sent.qname, now_s, budget);
      } else {
        ZoneTrust asked = trustOf(zone, now_s, budget);
        trust = {std::move(asked.verdict), zone, std::move(asked.need)};
      }
      if (trust.need) {
        out.need = std::move(trust.need);
        return out;
      }
      overall = trust.verdict;
    }
    if (overall.isSecure()) {
      // The proofs belong to the zone that signed them (the SOA's zone).
      const dns::Name& proof_zone = secure_proofs.empty() ? zone : proofs.signer;
      const auto denial =
          reply.kind == ReplyKind::kNxdomain
              ? dnssec::proveNxdomain(reply.next_name, proof_zone, secure_proofs, config_.policy,
                                      budget)
              : dnssec::proveNodata(reply.next_name, sent.qtype, proof_zone, secure_proofs,
                                    config_.policy, budget);
      overall = denial.verdict();
      if (overall.isSecure() && !secure_proofs.empty()) {
        ValidatedDenial kept{proof_zone, secure_proofs, std::nullopt,
                             std::min(ttl, proofs.result.ttl)};
        if (soa_verdict) {
          kept.soa = *reply.soa;
          kept.soa->ttl = std::min(kept.soa->ttl, soa_verdict->ttl);
        }
        out.denial = std::move(kept);
      }
    }
  }
  out.result = {overall, overall.isBogus() ? config_.bogus_ttl : ttl};
  return out;
}

ReplyVerdict Validator::judge(const Classified& reply, const SentQuestion& sent, int64_t now_s,
                              dnssec::Budget& budget) {
  ReplyVerdict out;
  out.overall = Verdict::secure();
  std::vector<Rrset> secure_proofs;
  uint32_t proofs_ttl = 0;
  bool proofs_judged = false;
  // A wildcard expansion needs the proof that no closer name exists
  // (RFC 4035 section 5.3.4, RFC 5155 section 8.8).
  auto wildcardProof = [&](const Rrset& rrset, const Judgement& j) -> std::optional<Verdict> {
    if (!j.wildcard_ce) return Verdict::secure();
    if (!proofs_judged) {
      Judgement proofs =
          judgeProofs(reply.proofs, sent.zone, now_s, budget, secure_proofs, sent.forwarded);
      if (proofs.need) {
        out.need = proofs.need;
        return std::nullopt;
      }
      proofs_judged = true;
      proofs_ttl = proofs.result.ttl;
    }
    Verdict verdict = dnssec::proveWildcardAnswer(rrset.owner, *j.wildcard_ce, j.signer,
                                                  secure_proofs, config_.policy, budget)
                          .verdict();
    if (verdict.isSecure() && !secure_proofs.empty()) {
      out.denial = ValidatedDenial{j.signer, secure_proofs, std::nullopt, proofs_ttl};
    }
    return verdict;
  };
  const Rrset* dname = nullptr;
  Verdict dname_verdict;
  for (const auto& link : reply.links) {
    RrsetVerdict v;
    if ((link.flags & kFromDname) != 0 && link.sigs.empty() && dname != nullptr) {
      // A CNAME synthesised from a DNAME carries no signature of its own:
      // it is as good as the DNAME, if it is what the DNAME makes.
      auto target = dnameTarget(*dname, link.owner);
      auto actual = link.rdatas.size() == 1 ? dns::Name::fromUncompressed(link.rdatas.front())
                                            : dns::WireResult<dns::Name>(
                                                  base::fail(dns::WireError::kBadRdata));
      v = target && actual && *target == *actual
              ? RrsetVerdict{dname_verdict, link.ttl}
              : bogus(dnssec::ede::kDnssecBogus, "CNAME " + link.owner.toText() +
                                                     " does not follow from its DNAME");
    } else {
      Judgement j = judgeRrset(link, sent.zone, now_s, budget, sent.forwarded);
      if (j.need) {
        out.need = j.need;
        return out;
      }
      v = j.result;
      if (v.verdict.isSecure()) {
        auto proof = wildcardProof(link, j);
        if (!proof) return out;
        v.verdict = *proof;
      }
    }
    if (link.type == dns::rrtype::kDname) {
      dname = &link;
      dname_verdict = v.verdict;
    }
    out.overall = worst(out.overall, v.verdict);
    out.links.push_back(std::move(v));
  }
  if (reply.data) {
    Judgement j = judgeRrset(*reply.data, sent.zone, now_s, budget, sent.forwarded);
    if (j.need) {
      out.need = j.need;
      return out;
    }
    if (j.result.verdict.isSecure()) {
      auto proof = wildcardProof(*reply.data, j);
      if (!proof) return out;
      j.result.verdict = *proof;
    }
    out.overall = worst(out.overall, j.result.verdict);
    out.data = j.result;
  }
  if (reply.kind == ReplyKind::kNxdomain || reply.kind == ReplyKind::kNodata) {
    Judgement j = judgeNegative(reply, sent, now_s, budget);
    if (j.need) {
      out.need = j.need;
      return out;
    }
    out.overall = worst(out.overall, j.result.verdict);
    out.negative = j.result;
    out.denial = std::move(j.denial);
  }
  return out;
}

std::optional<RrsetVerdict> Validator::judgeReferralDs(const Classified& referral,
                                                       const SentQuestion& sent, int64_t now_s,
                                                       dnssec::Budget& budget) {
  if (!enabled() || !referral.ns) return std::nullopt;
  if (referral.ds) {
    Judgement j = judgeRrset(*referral.ds, sent.zone, now_s, budget);
    if (j.need) return std::nullopt;
    return j.result;
  }
  if (referral.proofs.empty()) return std::nullopt;
  std::vector<Rrset> secure_proofs;
  Judgement proofs = judgeProofs(referral.proofs, sent.zone, now_s, budget, secure_proofs);
  if (proofs.need) return std::nullopt;
  if (!proofs.result.verdict.isSecure()) return proofs.result;
  const auto denial = dnssec::proveNodata(referral.ns->owner, dns::rrtype::kDs, sent.zone,
                                          secure_proofs, config_.policy, budget);
  const Verdict v = denial.verdict();
  return RrsetVerdict{v, v.isBogus() ? config_.bogus_ttl : proofs.result.ttl};
}

}  // namespace shoal::resolver
