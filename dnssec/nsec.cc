// NSEC denial proofs (RFC 4035 sections 3.1.3 and 5.4, RFC 6840 section 4),
// in canonical order (RFC 4034 section 6.1, Name::compareCanonical).
//
// An NSEC at owner O with next name N says: O exists with the types of its
// bitmap, and no name lies strictly between O and N. The last NSEC of a
// zone points back to the apex (RFC 4034 section 4.1.1), so it covers every
// name after its owner.

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dns/constants.h"
#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/denial.h"
#include "dnssec/denial_internal.h"

namespace shoal::dnssec::internal {

namespace {

namespace rrtype = dns::rrtype;

struct NsecRecord {
  dns::Name owner;
  dns::Name next;
  std::span<const uint8_t> bitmap;  // into the caller's RRset, well formed

  bool has(uint16_t type) const { return bitmapHasType(bitmap, type); }
  std::string describe() const { return "the NSEC at " + owner.toText(); }
};

// RFC 4034 section 4.1: next domain name (uncompressed), then the type
// bitmap. Malformed rdata gives nullopt and the record is ignored.
std::optional<NsecRecord> parseNsec(const dns::Name& owner, std::span<const uint8_t> rdata) {
  const auto next = dns::Name::fromUncompressed(rdata);
  if (!next.ok()) return std::nullopt;
  const std::span<const uint8_t> bitmap = rdata.subspan(next->length());
  if (!bitmapWellFormed(bitmap)) return std::nullopt;
  return NsecRecord{owner, *next, bitmap};
}

// The NSEC records of `zone`: owner and next name at or below the apex.
std::vector<NsecRecord> collectNsecs(std::span<const dns::Rrset> rrsets, const dns::Name& zone) {
  std::vector<NsecRecord> records;
  for (const dns::Rrset& rrset : rrsets) {
    if (rrset.type != rrtype::kNsec || !rrset.owner.isSubdomainOf(zone)) continue;
    for (const std::vector<uint8_t>& rdata : rrset.rdatas) {
      std::optional<NsecRecord> record = parseNsec(rrset.owner, rdata);
      if (record && record->next.isSubdomainOf(zone)) records.push_back(*record);
    }
  }
  return records;
}

// owner < name < next; for the last NSEC (next is the apex), owner < name.
bool covers(const NsecRecord& record, const dns::Name& name, const dns::Name& zone) {
  if (record.owner.compareCanonical(name) >= 0) return false;
  if (record.owner.compareCanonical(record.next) < 0) return name.compareCanonical(record.next) < 0;
  return record.next == zone;
}

// RFC 6840 section 4.1: an NSEC whose owner is an ancestor of `name` says
// nothing about names below a delegation (NS without SOA: the parent side
// of a zone cut) or below a DNAME (they are redirected). Empty if usable.
std::string whyCannotDeny(const NsecRecord& record, const dns::Name& name) {
  if (!isProperSubdomain(name, record.owner)) return {};
  if (record.has(rrtype::kDname)) {
    return record.describe() + " has a DNAME: it cannot deny " + name.toText() +
           ", which is redirected (RFC 6840 section 4.1)";
  }
  if (record.has(rrtype::kNs) && !record.has(rrtype::kSoa)) {
    return record.describe() + " is the parent side of a delegation: it cannot deny " +
           name.toText() + ", which belongs to the child zone (RFC 6840 section 4.1)";
  }
  return {};
}

const NsecRecord* findMatch(const std::vector<NsecRecord>& records, const dns::Name& name) {
  for (const NsecRecord& record : records) {
    if (record.owner == name) return &record;
  }
  return nullptr;
}

struct Cover {
  const NsecRecord* record = nullptr;
  std::string why_not;  // when record is null
};

// A usable NSEC that covers `name`; `what` names it in the reason
// ("the wildcard *.example.").
Cover findCover(const std::vector<NsecRecord>& records, const dns::Name& name,
                const dns::Name& zone, const std::string& what) {
  std::string why_not;
  for (const NsecRecord& record : records) {
    if (!covers(record, name, zone)) continue;
    std::string unusable = whyCannotDeny(record, name);
    if (unusable.empty()) return {&record, {}};
    why_not = std::move(unusable);
  }
  if (why_not.empty()) why_not = "no NSEC covers " + what + " " + name.toText();
  return {nullptr, std::move(why_not)};
}

// RFC 4035 section 5.4: the closest encloser of a covered name is the
// longest ancestor it shares with the covering NSEC's owner or next name
// (both exist, so their ancestors do; nothing exists in between).
dns::Name closestEncloser(const dns::Name& name, const NsecRecord& cover) {
  const size_t shared = std::max(commonLabels(name, cover.owner), commonLabels(name, cover.next));
  return name.suffix(shared);
}

std::optional<dns::Name> wildcardAt(const dns::Name& closest_encloser) {
  constexpr uint8_t kAsterisk[] = {'*'};
  auto wildcard = closest_encloser.prepend(kAsterisk);
  if (!wildcard.ok()) return std::nullopt;
  return *wildcard;
}

Denial noRecords(const dns::Name& zone) {
  return notProven("no well-formed NSEC records from zone " + zone.toText());
}

// RFC 4035 section 3.1.3.4: qname is covered and the wildcard at its
// closest encloser matches without the type.
Denial wildcardNodata(const std::vector<NsecRecord>& records, const dns::Name& qname,
                      uint16_t qtype, const dns::Name& zone) {
  const Cover cover = findCover(records, qname, zone, "qname");
  if (cover.record == nullptr) {
    return notProven("no NSEC matches " + qname.toText() +
                     " or proves it an empty non-terminal; " + cover.why_not);
  }
  const dns::Name closest = closestEncloser(qname, *cover.record);
  const std::optional<dns::Name> wildcard = wildcardAt(closest);
  const NsecRecord* match = wildcard ? findMatch(records, *wildcard) : nullptr;
  if (match == nullptr) {
    return notProven("no NSEC matches " + qname.toText() + " or the wildcard *." +
                     closest.toText() + " at its closest encloser");
  }
  return nodataFromMatch(match->bitmap, match->describe(), *wildcard, qtype);
}

}  // namespace

// RFC 4035 section 5.4: an NSEC covers qname, and an NSEC covers the
// wildcard at the closest encloser (the same NSEC may do both).
Denial nsecProveNxdomain(const dns::Name& qname, const dns::Name& zone,
                         std::span<const dns::Rrset> nsecs) {
  const std::vector<NsecRecord> records = collectNsecs(nsecs, zone);
  if (records.empty()) return noRecords(zone);
  if (const NsecRecord* match = findMatch(records, qname)) {
    return notProven(match->describe() + " proves that " + qname.toText() + " exists");
  }
  const Cover cover = findCover(records, qname, zone, "qname");
  if (cover.record == nullptr) return notProven(cover.why_not);
  // A next name below qname makes qname an empty non-terminal: it exists
  // (RFC 4035 section 3.1.3.2), which a server answering NXDOMAIN for it
  // gets wrong (RFC 9156 section 2.3).
  if (isProperSubdomain(cover.record->next, qname)) {
    return notProven(cover.record->describe() + " has the next name " +
                     cover.record->next.toText() + ", below " + qname.toText() +
                     ": it exists as an empty non-terminal");
  }
  const dns::Name closest = closestEncloser(qname, *cover.record);
  const std::optional<dns::Name> wildcard = wildcardAt(closest);
  if (!wildcard) return notProven("no wildcard name at " + closest.toText());
  if (const NsecRecord* match = findMatch(records, *wildcard)) {
    return notProven(match->describe() + " proves that the wildcard " + wildcard->toText() +
                     " exists: " + qname.toText() + " should have been synthesised from it");
  }
  const Cover wildcard_cover =
      findCover(records, *wildcard, zone, "the wildcard at the closest encloser,");
  if (wildcard_cover.record == nullptr) return notProven(wildcard_cover.why_not);
  return proven();
}

// RFC 4035 section 5.4 and RFC 6840 sections 4.1, 4.3, 4.4: an NSEC at
// qname without qtype or CNAME; else an empty non-terminal (an NSEC whose
// next name is below qname, RFC 4035 section 3.1.3.2); else a wildcard
// NODATA.
Denial nsecProveNodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                       std::span<const dns::Rrset> nsecs) {
  const std::vector<NsecRecord> records = collectNsecs(nsecs, zone);
  if (records.empty()) return noRecords(zone);
  if (const NsecRecord* match = findMatch(records, qname)) {
    return nodataFromMatch(match->bitmap, match->describe(), qname, qtype);
  }
  for (const NsecRecord& record : records) {
    if (covers(record, qname, zone) && isProperSubdomain(record.next, qname) &&
        whyCannotDeny(record, qname).empty()) {
      return proven();  // an empty non-terminal has no types at all
    }
  }
  return wildcardNodata(records, qname, qtype, zone);
}

// RFC 4035 section 5.3.4: qname does not exist (an NSEC covers it) and the
// covering NSEC shows no closer match than the wildcard's parent.
Denial nsecProveWildcardAnswer(const dns::Name& qname, const dns::Name& closest_encloser,
                               const dns::Name& zone, std::span<const dns::Rrset> nsecs) {
  const std::vector<NsecRecord> records = collectNsecs(nsecs, zone);
  if (records.empty()) return noRecords(zone);
  if (const NsecRecord* match = findMatch(records, qname)) {
    return notProven(match->describe() + " proves that " + qname.toText() +
                     " exists: the answer cannot come from a wildcard");
  }
  const Cover cover = findCover(records, qname, zone, "the wildcard-expanded name");
  if (cover.record == nullptr) return notProven(cover.why_not);
  const dns::Name closest = closestEncloser(qname, *cover.record);
  if (!(closest == closest_encloser)) {
    return notProven(cover.record->describe() + " places the closest encloser of " +
                     qname.toText() + " at " + closest.toText() +
                     ", not at the wildcard's parent " + closest_encloser.toText());
  }
  return proven();
}

}  // namespace shoal::dnssec::internal
