#include "localroot/verify.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "dns/constants.h"
#include "dns/ldns_ptr.h"
#include "dns/wire_io.h"
#include "dnssec/keys.h"
#include "dnssec/rrsig.h"

namespace shoal::localroot {

namespace {

struct LdnsDnssecZoneDeleter {
  void operator()(ldns_dnssec_zone* zone) const { ldns_dnssec_zone_deep_free(zone); }
};
using LdnsDnssecZone = std::unique_ptr<ldns_dnssec_zone, LdnsDnssecZoneDeleter>;

/// A shallow list: ldns_rr_list_free leaves the records alone.
struct LdnsShallowListDeleter {
  void operator()(ldns_rr_list* list) const { ldns_rr_list_free(list); }
};

std::string describe(const dns::Name& owner, uint16_t type) {
  return owner.toText() + " " + dns::typeToText(type);
}

/// The record in uncompressed wire form, for ldns_wire2rr.
std::vector<uint8_t> wireOf(const dns::Record& record) {
  std::vector<uint8_t> wire(record.owner.wire().begin(), record.owner.wire().end());
  uint8_t fixed[10];
  dns::store16(fixed, record.type);
  dns::store16(fixed + 2, record.rrclass);
  dns::store32(fixed + 4, record.ttl);
  dns::store16(fixed + 8, static_cast<uint16_t>(record.rdata.size()));
  wire.insert(wire.end(), fixed, fixed + 10);
  wire.insert(wire.end(), record.rdata.begin(), record.rdata.end());
  return wire;
}

/// ldns keeps NSEC3 records under the name they hash, so it needs that
/// name first: NSEC3 records and their RRSIGs go in a second pass.
bool secondPass(const ldns_rr* rr) {
  const ldns_rr_type type = ldns_rr_get_type(rr);
  if (type == LDNS_RR_TYPE_NSEC3) return true;
  return type == LDNS_RR_TYPE_RRSIG &&
         ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_NSEC3;
}

/// RFC 4034 section 4, RFC 5155 section 7.1 and RFC 1035: one NSEC, NSEC3
/// or SOA record per owner. ldns keeps only the last of several NSEC (and
/// leaks the others): checked before anything goes to it.
std::string checkOnePerOwner(const std::vector<dns::Rrset>& rrsets) {
  for (const auto& rrset : rrsets) {
    if ((rrset.type == dns::rrtype::kNsec || rrset.type == dns::rrtype::kNsec3 ||
         rrset.type == dns::rrtype::kSoa) && rrset.rdatas.size() != 1) {
      return std::to_string(rrset.rdatas.size()) + " records in " +
             describe(rrset.owner, rrset.type) + " (one allowed)";
    }
  }
  return {};
}

/// Shape checks that need no crypto; empty when fine.
std::string checkShape(const ZoneData& data, const std::vector<dns::Rrset>& rrsets) {
  if (data.records.empty()) return "the zone is empty";
  for (const auto& record : data.records) {
    if (record.rrclass != dns::rrclass::kIn) {
      return "record of class " + std::to_string(record.rrclass) + " at " + record.owner.toText();
    }
    if (!record.owner.isSubdomainOf(data.apex)) {
      return "record outside the zone: " + record.owner.toText();
    }
  }
  for (const auto& rrset : rrsets) {
    if (rrset.type == dns::rrtype::kSoa && !(rrset.owner == data.apex)) {
      return "SOA record below the apex, at " + rrset.owner.toText();
    }
  }
  return checkOnePerOwner(rrsets);
}

const dns::Rrset* findRrset(const std::vector<dns::Rrset>& rrsets, const dns::Name& owner,
                            uint16_t type) {
  for (const auto& rrset : rrsets) {
    if (rrset.type == type && rrset.owner == owner) return &rrset;
  }
  return nullptr;
}

/// The wall time of an RRSIG's expiration, read in serial arithmetic
/// around `now_s` (RFC 4034 section 3.1.5).
int64_t expirationOf(const dnssec::Rrsig& sig, int64_t now_s) {
  return now_s + static_cast<int32_t>(sig.expiration - static_cast<uint32_t>(now_s));
}

}  // namespace

ApexAnchors anchorsFor(const resolver::TrustAnchors& anchors, const dns::Name& apex) {
  ApexAnchors out;
  for (const auto& anchor : anchors.anchors) {
    if (!(anchor.owner == apex)) continue;
    if (anchor.type == dns::rrtype::kDs) out.ds.push_back(anchor.rdata);
    if (anchor.type == dns::rrtype::kDnskey) out.dnskeys.push_back(anchor.rdata);
  }
  return out;
}

std::string checkZonemdDigest(const std::vector<dns::Record>& records) {
  std::vector<dns::LdnsRr> owned;
  owned.reserve(records.size());
  std::unique_ptr<ldns_rr_list, LdnsShallowListDeleter> list(ldns_rr_list_new());
  if (!list) return "out of memory";
  bool has_zonemd = false;
  bool has_soa = false;
  for (const auto& record : records) {
    const auto wire = wireOf(record);
    ldns_rr* rr = nullptr;
    size_t pos = 0;
    const ldns_status status =
        ldns_wire2rr(&rr, wire.data(), wire.size(), &pos, LDNS_SECTION_ANSWER);
    owned.emplace_back(rr);
    if (status != LDNS_STATUS_OK) {
      return describe(record.owner, record.type) + ": " + ldns_get_errorstr_by_id(status);
    }
    if (!ldns_rr_list_push_rr(list.get(), rr)) return "out of memory";
    has_zonemd = has_zonemd || record.type == kZonemd;
    has_soa = has_soa || record.type == dns::rrtype::kSoa;
  }
  // ldns takes the apex from the SOA and does not check that there is one.
  if (!has_soa) return "no SOA record";
  if (!has_zonemd) return "no ZONEMD record";
  if (auto error = checkOnePerOwner(groupRrsets(records)); !error.empty()) return error;
  // Canonical order, then exact duplicates out: ldns drops an equal record
  // without freeing it, and a transfer may repeat one.
  ldns_rr_list_sort(list.get());
  std::map<const ldns_rr*, dns::LdnsRr*> owner_of;
  for (auto& rr : owned) owner_of[rr.get()] = &rr;
  LdnsDnssecZone zone(ldns_dnssec_zone_new());
  if (!zone) return "out of memory";
  const size_t count = ldns_rr_list_rr_count(list.get());
  for (const bool second : {false, true}) {
    const ldns_rr* previous = nullptr;
    for (size_t i = 0; i < count; ++i) {
      ldns_rr* rr = ldns_rr_list_rr(list.get(), i);
      const bool duplicate = previous != nullptr && ldns_rr_compare(previous, rr) == 0;
      previous = rr;
      if (duplicate || secondPass(rr) != second) continue;
      const ldns_status status = ldns_dnssec_zone_add_rr(zone.get(), rr);
      if (status != LDNS_STATUS_OK) return ldns_get_errorstr_by_id(status);
      (void)owner_of[rr]->release();  // the zone owns it now
    }
  }
  const ldns_status status = ldns_dnssec_zone_verify_zonemd(zone.get());
  if (status == LDNS_STATUS_OK) return {};
  if (status == LDNS_STATUS_NO_VALID_ZONEMD) {
    return "the zone's digest does not match its ZONEMD record (the zone differs from what "
           "its publisher signed)";
  }
  return ldns_get_errorstr_by_id(status);
}

VerifyResult verifyZone(const ZoneData& data, const ApexAnchors& anchors,
                        const dnssec::Policy& policy, int64_t now_s) {
  const auto failed = [](std::string why) { return VerifyResult{std::nullopt, std::move(why)}; };
  const dns::Name& apex = data.apex;
  if (anchors.empty()) {
    return failed("no trust anchor for " + apex.toText() + " is configured");
  }
  std::vector<dns::Rrset> rrsets = groupRrsets(data.records);
  if (auto error = checkShape(data, rrsets); !error.empty()) return failed(error);
  const dns::Rrset* soa_rrset = findRrset(rrsets, apex, dns::rrtype::kSoa);
  if (soa_rrset == nullptr) return failed("no SOA record at the apex");
  const auto soa = parseSoa(soa_rrset->rdatas.front());
  if (!soa) return failed("malformed SOA record");
  const dns::Rrset* zonemd = findRrset(rrsets, apex, kZonemd);
  if (zonemd == nullptr) {
    return failed("no ZONEMD record at the apex: the zone cannot be verified (RFC 8976)");
  }
  // RFC 8976 section 2.2.1: the first field of the rdata is the serial.
  bool serial_matches = false;
  for (const auto& rdata : zonemd->rdatas) {
    if (rdata.size() < 6) return failed("malformed ZONEMD record");
    serial_matches = serial_matches || dns::load32(rdata.data()) == soa->serial;
  }
  if (!serial_matches) {
    return failed("the ZONEMD serial " + std::to_string(dns::load32(zonemd->rdatas[0].data())) +
                  " is not the SOA serial " + std::to_string(soa->serial));
  }
  const dns::Rrset* dnskeys = findRrset(rrsets, apex, dns::rrtype::kDnskey);
  if (dnskeys == nullptr) return failed("no DNSKEY RRset at the apex");
  dnssec::Budget budget;
  const auto keys = dnssec::validateDnskeys(*dnskeys, anchors.ds, anchors.dnskeys, now_s, policy,
                                            budget);
  if (!keys.verdict.isSecure()) {
    return failed("the DNSKEY RRset is not validated by the trust anchors: " +
                  keys.verdict.reason);
  }
  // Each ZONEMD signature alone, to know the window of the one that holds.
  int64_t valid_until = 0;
  for (const auto& sig : zonemd->sigs) {
    dns::Rrset one = *zonemd;
    one.sigs = {sig};
    dnssec::Budget sig_budget;
    if (!dnssec::verifyRrset(one, apex, dnskeys->rdatas, now_s, policy, sig_budget)
             .verdict.isSecure()) {
      continue;
    }
    if (const auto parsed = dnssec::parseRrsig(sig)) {
      valid_until = std::max(valid_until, expirationOf(*parsed, now_s));
    }
  }
  if (valid_until == 0) {
    dnssec::Budget all_budget;
    const auto verdict =
        dnssec::verifyRrset(*zonemd, apex, dnskeys->rdatas, now_s, policy, all_budget).verdict;
    return failed("the ZONEMD RRset's signature does not verify: " + verdict.reason);
  }
  if (auto error = checkZonemdDigest(data.records); !error.empty()) {
    return failed("ZONEMD: " + error);
  }
  VerifiedZone zone;
  zone.apex = apex;
  zone.soa = *soa;
  zone.rrsets = std::move(rrsets);
  zone.valid_until = valid_until;
  zone.source = data.source;
  return {std::move(zone), {}};
}

}  // namespace shoal::localroot
