#include "dnssec/aggressive.h"

#include <algorithm>
#include <optional>

#include "dns/constants.h"
#include "dnssec/denial.h"
#include "dnssec/denial_internal.h"

// The same proofs as nsec.cc and nsec3.cc, walked the other way round:
// those search the records a reply brought for the ones a proof needs;
// here each needed record is looked up by the name it must hold. Records
// are read in place (spans into the source's slots), hashes go to stack
// arrays: nothing is allocated.

namespace shoal::dnssec {

namespace {

namespace rrtype = dns::rrtype;
using internal::commonLabels;
using internal::isProperSubdomain;

constexpr uint8_t kSha1 = 1;
constexpr uint8_t kOptOutFlag = 0x01;
constexpr size_t kHashLength = 20;
constexpr char kBase32HexDigits[] = "0123456789abcdefghijklmnopqrstuv";

bool has(std::span<const uint8_t> bitmap, uint16_t type) { return bitmapHasType(bitmap, type); }

/// What a matching record says of `qtype` at its owner: NODATA when it
/// lists neither qtype nor CNAME and is not the parent side of a
/// delegation (which only speaks for DS).
bool deniesType(std::span<const uint8_t> bitmap, uint16_t qtype) {
  if (has(bitmap, qtype) || has(bitmap, rrtype::kCname)) return false;
  return !(has(bitmap, rrtype::kNs) && !has(bitmap, rrtype::kSoa));
}

/// RFC 6840 section 4.1: a record at a delegation or a DNAME says nothing
/// about the names below its owner.
bool cutsOff(std::span<const uint8_t> bitmap) {
  return has(bitmap, rrtype::kDname) || (has(bitmap, rrtype::kNs) && !has(bitmap, rrtype::kSoa));
}

std::optional<dns::Name> wildcardAt(const dns::Name& closest_encloser) {
  constexpr uint8_t kAsterisk[] = {'*'};
  auto wildcard = closest_encloser.prepend(kAsterisk);
  if (!wildcard) return std::nullopt;
  return *wildcard;
}

class Proof {
 public:
  void add(unsigned slot, const RangeRecord* record) {
    for (unsigned i = 0; i < result_.slot_count; ++i) {
      if (records_[i]->owner == record->owner) return;  // the same record twice
    }
    records_[result_.slot_count] = record;
    result_.slots[result_.slot_count++] = static_cast<uint8_t>(slot);
  }
  RangeProof done(RangeAnswer answer) {
    result_.answer = answer;
    return result_;
  }
  RangeProof wildcard(const dns::Name& owner) {
    result_.wildcard = owner;
    return done(RangeAnswer::kWildcard);
  }

 private:
  RangeProof result_;
  std::array<const RangeRecord*, kRangeSlots> records_{};
};

// ------------------------------------------------------------------ NSEC

struct Nsec {
  const RangeRecord* record = nullptr;
  dns::Name next;
  std::span<const uint8_t> bitmap;

  // owner < name < next; for the last NSEC (next is the apex), owner < name.
  bool covers(const dns::Name& name, const dns::Name& zone) const {
    if (record->owner.compareCanonical(name) >= 0) return false;
    if (record->owner.compareCanonical(next) < 0) return name.compareCanonical(next) < 0;
    return next == zone;
  }
  bool usableFor(const dns::Name& name) const {
    return !(isProperSubdomain(name, record->owner) && cutsOff(bitmap));
  }
};

std::optional<Nsec> loadNsec(RangeSource& source, const dns::Name& name, unsigned slot,
                             const dns::Name& zone) {
  const RangeRecord* record = source.load(name, slot);
  if (record == nullptr || record->type != rrtype::kNsec || !record->owner.isSubdomainOf(zone)) {
    return std::nullopt;
  }
  auto next = dns::Name::fromUncompressed(record->rdata);
  if (!next || !next->isSubdomainOf(zone)) return std::nullopt;
  const auto bitmap = record->rdata.subspan(next->length());
  if (!internal::bitmapWellFormed(bitmap)) return std::nullopt;
  return Nsec{record, *next, bitmap};
}

RangeProof proveNsec(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                     RangeSource& source) {
  Proof proof;
  const auto at = loadNsec(source, qname, 0, zone);
  if (!at) return {};
  if (at->record->owner == qname) {  // qname exists: NODATA or nothing
    if (!deniesType(at->bitmap, qtype)) return {};
    proof.add(0, at->record);
    return proof.done(RangeAnswer::kNodata);
  }
  if (!at->covers(qname, zone) || !at->usableFor(qname)) return {};
  proof.add(0, at->record);
  // The next name lies below qname: qname is an empty non-terminal
  // (RFC 4035 section 3.1.3.2), which has no data of any type.
  if (isProperSubdomain(at->next, qname)) return proof.done(RangeAnswer::kNodata);
  // RFC 4035 section 5.4: the closest encloser is the longest ancestor
  // qname shares with the covering record's owner or next name.
  const size_t shared =
      std::max(commonLabels(qname, at->record->owner), commonLabels(qname, at->next));
  const dns::Name closest_encloser = qname.suffix(shared);
  if (!closest_encloser.isSubdomainOf(zone)) return {};
  const auto wildcard = wildcardAt(closest_encloser);
  if (!wildcard) return {};
  const auto star = loadNsec(source, *wildcard, 1, zone);
  if (star && star->record->owner == *wildcard) {  // the wildcard exists: it answers
    if (has(star->bitmap, qtype)) return proof.wildcard(*wildcard);
    if (!deniesType(star->bitmap, qtype)) return {};
    proof.add(1, star->record);
    return proof.done(RangeAnswer::kNodata);
  }
  if (star && star->covers(*wildcard, zone) && star->usableFor(*wildcard)) {
    proof.add(1, star->record);
    return proof.done(RangeAnswer::kNxdomain);
  }
  // No record of the wildcard's own name: a wildcard RRset at hand shows it
  // exists (the covering record proved qname does not).
  if (source.hasWildcard(*wildcard, qtype, zone)) return proof.wildcard(*wildcard);
  return {};
}

// ----------------------------------------------------------------- NSEC3

using Hash = Nsec3Digest;

struct Nsec3 {
  const RangeRecord* record = nullptr;
  Hash owner_hash{};
  Hash next_hash{};
  uint8_t flags = 0;
  std::span<const uint8_t> bitmap;

  bool matches(const Hash& hash) const { return owner_hash == hash; }
  bool covers(const Hash& hash) const {
    const bool after_owner = owner_hash < hash;
    const bool before_next = hash < next_hash;
    const bool wraps = !(owner_hash < next_hash);
    return wraps ? (after_owner || before_next) : (after_owner && before_next);
  }
  bool optOut() const { return (flags & kOptOutFlag) != 0; }
};

/// Decodes 32 base32hex digits (an NSEC3 owner label) into 20 octets.
bool decodeOwnerHash(std::span<const uint8_t> label, Hash& out) {
  if (label.size() != 32) return false;
  uint64_t bits = 0;
  int held = 0;
  size_t n = 0;
  for (uint8_t c : label) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'v') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'V') {
      v = c - 'A' + 10;
    } else {
      return false;
    }
    bits = (bits << 5) | static_cast<uint64_t>(v);
    held += 5;
    if (held >= 8) {
      held -= 8;
      out[n++] = static_cast<uint8_t>(bits >> held);
    }
  }
  return n == kHashLength;
}

/// The lookup name of a hash: "<base32hex>.zone".
std::optional<dns::Name> hashedOwner(const Hash& hash, const dns::Name& zone) {
  std::array<uint8_t, 32> text{};
  uint64_t bits = 0;
  int held = 0;
  size_t n = 0;
  for (uint8_t octet : hash) {
    bits = (bits << 8) | octet;
    held += 8;
    while (held >= 5) {
      held -= 5;
      text[n++] = static_cast<uint8_t>(kBase32HexDigits[(bits >> held) & 31]);
    }
  }
  auto owner = zone.prepend(text);
  if (!owner) return std::nullopt;
  return *owner;
}

class Nsec3Prover {
 public:
  Nsec3Prover(const dns::Name& zone, const ZoneDenialParams& params, RangeSource& source)
      : zone_(zone), params_(params), source_(source) {}

  std::optional<Hash> hash(const dns::Name& name) const {
    Hash out{};
    if (!nsec3HashInto(name, params_.algorithm, params_.iterations, params_.salt, out)) {
      return std::nullopt;
    }
    return out;
  }

  /// The record whose range holds `hash`, with the zone's parameters.
  std::optional<Nsec3> load(const Hash& hash, unsigned slot) {
    const auto owner = hashedOwner(hash, zone_);
    if (!owner) return std::nullopt;
    const RangeRecord* record = source_.load(*owner, slot);
    if (record == nullptr || record->type != rrtype::kNsec3 ||
        record->owner.labelCount() != zone_.labelCount() + 1 || !(record->owner.parent() == zone_)) {
      return std::nullopt;
    }
    // RFC 5155 section 3.2: algorithm, flags, iterations, salt, next hash,
    // bitmap; records with other parameters than the zone's are ignored.
    const auto rdata = record->rdata;
    if (rdata.size() < 5 || rdata[0] != kSha1 || rdata[1] > kOptOutFlag) return std::nullopt;
    const uint16_t iterations = static_cast<uint16_t>((rdata[2] << 8) | rdata[3]);
    const size_t salt_length = rdata[4];
    if (rdata.size() < 6 + salt_length) return std::nullopt;
    const auto salt = rdata.subspan(5, salt_length);
    if (iterations != params_.iterations || !std::ranges::equal(salt, params_.salt)) {
      return std::nullopt;
    }
    size_t pos = 5 + salt_length;
    if (rdata[pos++] != kHashLength || rdata.size() < pos + kHashLength) return std::nullopt;
    Nsec3 out;
    out.record = record;
    out.flags = rdata[1];
    std::copy_n(rdata.begin() + static_cast<std::ptrdiff_t>(pos), kHashLength,
                out.next_hash.begin());
    out.bitmap = rdata.subspan(pos + kHashLength);
    if (!internal::bitmapWellFormed(out.bitmap)) return std::nullopt;
    if (!decodeOwnerHash(record->owner.label(0), out.owner_hash)) return std::nullopt;
    return out;
  }

 private:
  const dns::Name& zone_;
  const ZoneDenialParams& params_;
  RangeSource& source_;
};

/// RFC 5155 section 8.8 the other way round: the closest ancestor of
/// qname with a wildcard RRset at hand is the closest encloser if the name
/// one label below it, towards qname, is covered (not by an opt-out range):
/// nothing exists at or below that name.
RangeProof proveNsec3CachedWildcard(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                                    Nsec3Prover& prover, RangeSource& source) {
  dns::Name next_closer = qname;
  for (dns::Name encloser = qname.parent(); next_closer.labelCount() > zone.labelCount();
       next_closer = encloser, encloser = encloser.parent()) {
    const auto wildcard = wildcardAt(encloser);
    if (!wildcard || !source.hasWildcard(*wildcard, qtype, zone)) continue;
    const auto hash = prover.hash(next_closer);
    if (!hash) return {};
    const auto cover = prover.load(*hash, 2);
    if (!cover || !cover->covers(*hash) || cover->optOut()) return {};
    Proof proof;
    proof.add(2, cover->record);
    return proof.wildcard(*wildcard);
  }
  return {};
}

/// NXDOMAIN, wildcard NODATA and wildcard answers from the records of the
/// closest encloser, the next closer name and the wildcard.
RangeProof proveNsec3Encloser(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                              const Hash& qname_hash, Nsec3Prover& prover) {
  Proof proof;
  // RFC 5155 section 8.3: the closest encloser matches, the next closer
  // name (one label longer, towards qname) is covered.
  dns::Name next_closer = qname;
  Hash next_closer_hash = qname_hash;
  std::optional<Nsec3> encloser;
  dns::Name closest_encloser;
  for (dns::Name candidate = qname; candidate.labelCount() > zone.labelCount();) {
    candidate = candidate.parent();
    const auto candidate_hash = prover.hash(candidate);
    if (!candidate_hash) return {};
    auto found = prover.load(*candidate_hash, 1);
    if (found && found->matches(*candidate_hash)) {
      encloser = found;
      closest_encloser = candidate;
      break;
    }
    next_closer = candidate;
    next_closer_hash = *candidate_hash;
  }
  if (!encloser || cutsOff(encloser->bitmap)) return {};
  const auto cover = prover.load(next_closer_hash, 2);
  if (!cover || !cover->covers(next_closer_hash)) return {};
  // An opt-out range may hide an unsigned delegation (RFC 5155 section
  // 9.2): it never proves that a name does not exist.
  if (cover->optOut()) return {};
  const auto wildcard = wildcardAt(closest_encloser);
  if (!wildcard) return {};
  const auto wildcard_hash = prover.hash(*wildcard);
  if (!wildcard_hash) return {};
  const auto star = prover.load(*wildcard_hash, 3);
  if (!star) return {};
  if (star->matches(*wildcard_hash)) {
    if (has(star->bitmap, qtype)) {
      // RFC 5155 section 8.8: the covered next closer name is the proof.
      proof.add(2, cover->record);
      return proof.wildcard(*wildcard);
    }
    if (!deniesType(star->bitmap, qtype)) return {};
    // RFC 5155 section 8.7: wildcard NODATA.
    proof.add(1, encloser->record);
    proof.add(2, cover->record);
    proof.add(3, star->record);
    return proof.done(RangeAnswer::kNodata);
  }
  if (!star->covers(*wildcard_hash)) return {};
  proof.add(1, encloser->record);
  proof.add(2, cover->record);
  proof.add(3, star->record);
  return proof.done(RangeAnswer::kNxdomain);
}

RangeProof proveNsec3(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                      const ZoneDenialParams& params, const Policy& policy, RangeSource& source) {
  if (params.algorithm != kSha1 || params.iterations > policy.nsec3_max_iterations) return {};
  Nsec3Prover prover(zone, params, source);
  // qname itself: a matching record answers NODATA (or says the data
  // exists, and only asking gets it).
  auto hash = prover.hash(qname);
  if (!hash) return {};
  if (auto at = prover.load(*hash, 0); at && at->matches(*hash)) {
    if (!deniesType(at->bitmap, qtype)) return {};
    Proof proof;
    proof.add(0, at->record);
    return proof.done(RangeAnswer::kNodata);
  }
  const RangeProof proof = proveNsec3Encloser(qname, qtype, zone, *hash, prover);
  if (proof.answer != RangeAnswer::kNone) return proof;
  return proveNsec3CachedWildcard(qname, qtype, zone, prover, source);
}

}  // namespace

RangeProof proveFromRanges(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                           const ZoneDenialParams& params, const Policy& policy,
                           RangeSource& source) {
  // Meta types (ANY, AXFR, ...: RFC 6895 section 3.1) are no data types: a
  // bitmap cannot deny them.
  const bool meta = qtype >= 128 && qtype <= 255;
  if (qtype == rrtype::kDs || meta || !qname.isSubdomainOf(zone)) return {};
  return params.nsec3 ? proveNsec3(qname, qtype, zone, params, policy, source)
                      : proveNsec(qname, qtype, zone, source);
}

}  // namespace shoal::dnssec
