// NSEC3 denial proofs (RFC 5155 section 8, RFC 9276).
//
// An NSEC3 owner is base32hex(H(name)) as one label under the zone apex;
// its next hashed owner closes the range of hashes that do not exist. The
// hash chain wraps: the last NSEC3 points back to the first.
//
// Work is bounded twice over. Every hash takes one unit of the client
// query's Budget (kBudget when spent); and one proof hashes at most
// (qname labels - zone labels + 2) distinct names: every ancestor of qname
// down to the apex for the closest encloser, plus the wildcard at it
// (CVE-2023-50868). Hashes are memoised within a proof, so the next closer
// name, hashed during the walk, is not hashed again.

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "dns/constants.h"
#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/denial.h"
#include "dnssec/denial_internal.h"

namespace shoal::dnssec::internal {

namespace {

namespace rrtype = dns::rrtype;

constexpr uint8_t kSha1 = 1;          // RFC 5155 section 11
constexpr size_t kHashLength = 20;    // SHA-1
constexpr uint8_t kOptOutFlag = 0x01; // RFC 5155 section 3.1.2.1
using Hash = std::array<uint8_t, kHashLength>;

struct Nsec3Record {
  dns::Name owner;
  Hash owner_hash{};
  Hash next_hash{};
  uint8_t flags = 0;
  uint16_t iterations = 0;
  std::span<const uint8_t> salt;    // into the caller's RRset
  std::span<const uint8_t> bitmap;  // into the caller's RRset, well formed

  bool optOut() const { return (flags & kOptOutFlag) != 0; }
  bool has(uint16_t type) const { return bitmapHasType(bitmap, type); }
  bool sameParameters(const Nsec3Record& other) const {
    return iterations == other.iterations && std::ranges::equal(salt, other.salt);
  }
  std::string describe() const { return "the NSEC3 at " + owner.toText(); }
};

// RFC 5155 section 3.2: hash algorithm, flags, iterations (u16), salt
// length + salt, hash length + next hashed owner, type bitmap. Records that
// RFC 5155 section 8.1/8.2 say to ignore (unknown algorithm, flags other
// than 0 or 1) and malformed ones give nullopt.
std::optional<Nsec3Record> parseNsec3(const dns::Name& owner, std::span<const uint8_t> rdata) {
  constexpr size_t kFixedLength = 5;
  if (rdata.size() < kFixedLength || rdata[0] != kSha1 || rdata[1] > kOptOutFlag) {
    return std::nullopt;
  }
  Nsec3Record record;
  record.owner = owner;
  record.flags = rdata[1];
  record.iterations = static_cast<uint16_t>((rdata[2] << 8) | rdata[3]);
  size_t pos = kFixedLength;
  const size_t salt_length = rdata[4];
  if (rdata.size() - pos < salt_length + 1) return std::nullopt;
  record.salt = rdata.subspan(pos, salt_length);
  pos += salt_length;
  const size_t hash_length = rdata[pos++];
  if (hash_length != kHashLength || rdata.size() - pos < hash_length) return std::nullopt;
  std::copy_n(rdata.begin() + static_cast<std::ptrdiff_t>(pos), kHashLength,
              record.next_hash.begin());
  pos += hash_length;
  record.bitmap = rdata.subspan(pos);
  if (!bitmapWellFormed(record.bitmap)) return std::nullopt;
  const auto owner_hash = base32HexDecode(owner.label(0));
  if (!owner_hash || owner_hash->size() != kHashLength) return std::nullopt;
  std::copy(owner_hash->begin(), owner_hash->end(), record.owner_hash.begin());
  return record;
}

// The NSEC3 records of one proof and the hashes computed for it.
class Nsec3Proof {
 public:
  Nsec3Proof(const dns::Name& qname, const dns::Name& zone, std::span<const dns::Rrset> rrsets,
             Budget& budget)
      : budget_(budget), cap_(qname.labelCount() - zone.labelCount() + 2) {
    SHOAL_DCHECK(qname.isSubdomainOf(zone));  // checked by the entry points
    collect(zone, rrsets);
  }

  /// Why no proof can be attempted (no usable records, RFC 9276 section
  /// 3.2 iterations), or nullopt.
  std::optional<Denial> precheck(const dns::Name& zone, const Policy& policy) const {
    if (records_.empty()) {
      return notProven("no usable NSEC3 records from zone " + zone.toText() +
                       " (hash algorithm 1, owner one label below the apex)");
    }
    if (records_.front().iterations > policy.nsec3_max_iterations) {
      return Denial{DenialResult::kIterations,
                    "NSEC3 iterations " + std::to_string(records_.front().iterations) +
                        " above the limit " + std::to_string(policy.nsec3_max_iterations) +
                        " (RFC 9276 section 3.2)"};
    }
    return std::nullopt;
  }

  /// The hash of `name`, memoised. Nullopt when the budget or the per-proof
  /// cap is spent, or the hash failed: failure() says which.
  std::optional<Hash> hash(const dns::Name& name) {
    for (const auto& [hashed_name, known] : hashed_) {
      if (hashed_name == name) return known;
    }
    if (hashed_.size() >= cap_) {
      failure_ = {DenialResult::kBudget, "NSEC3 hash cap of " + std::to_string(cap_) +
                                             " names for one proof reached at " + name.toText()};
      return std::nullopt;
    }
    if (!budget_.takeNsec3Hash()) {
      failure_ = {DenialResult::kBudget, "NSEC3 hash budget spent at " + name.toText()};
      return std::nullopt;
    }
    const Nsec3Record& params = records_.front();
    const std::vector<uint8_t> digest = nsec3Hash(name, kSha1, params.iterations, params.salt);
    if (digest.size() != kHashLength) {
      failure_ = notProven("NSEC3 hash of " + name.toText() + " failed");
      return std::nullopt;
    }
    Hash result{};
    std::copy(digest.begin(), digest.end(), result.begin());
    hashed_.emplace_back(name, result);
    return result;
  }
  const Denial& failure() const { return failure_; }

  /// The NSEC3 whose owner hash is `hash`.
  const Nsec3Record* match(const Hash& hash) const {
    for (const Nsec3Record& record : records_) {
      if (record.owner_hash == hash) return &record;
    }
    return nullptr;
  }

  /// The NSEC3 whose range covers `hash`: owner < hash < next, or, for the
  /// last of the chain (next <= owner), hash > owner or hash < next.
  const Nsec3Record* cover(const Hash& hash) const {
    for (const Nsec3Record& record : records_) {
      const bool after_owner = record.owner_hash < hash;
      const bool before_next = hash < record.next_hash;
      const bool wraps = !(record.owner_hash < record.next_hash);
      if (wraps ? (after_owner || before_next) : (after_owner && before_next)) return &record;
    }
    return nullptr;
  }

 private:
  // NSEC3 RRsets exactly one label below the apex, sharing the first
  // usable record's parameters (RFC 5155 section 8.2; others are ignored).
  void collect(const dns::Name& zone, std::span<const dns::Rrset> rrsets) {
    for (const dns::Rrset& rrset : rrsets) {
      if (rrset.type != rrtype::kNsec3) continue;
      if (rrset.owner.labelCount() != zone.labelCount() + 1 || !(rrset.owner.parent() == zone)) {
        continue;
      }
      for (const std::vector<uint8_t>& rdata : rrset.rdatas) {
        std::optional<Nsec3Record> record = parseNsec3(rrset.owner, rdata);
        if (!record) continue;
        if (!records_.empty() && !record->sameParameters(records_.front())) continue;
        records_.push_back(*record);
      }
    }
  }

  Budget& budget_;
  const size_t cap_;
  std::vector<Nsec3Record> records_;
  std::vector<std::pair<dns::Name, Hash>> hashed_;
  Denial failure_;
};

// A closest encloser proof (RFC 5155 section 8.3), or why there is none.
struct ClosestEncloser {
  std::optional<Denial> failure;
  dns::Name name;
  dns::Name next_closer;
  const Nsec3Record* next_closer_cover = nullptr;
};

ClosestEncloser failWith(Denial denial) {
  ClosestEncloser result;
  result.failure = std::move(denial);
  return result;
}

// RFC 5155 section 8.3: the longest ancestor of qname, at or below the
// apex, that an NSEC3 matches; the name one label longer must be covered.
// The matching NSEC3 must not be a DNAME or the parent side of a
// delegation: those cannot deny the names below them.
ClosestEncloser proveClosestEncloser(Nsec3Proof& proof, const dns::Name& qname,
                                     const dns::Name& zone) {
  // From qname up to the apex: labels = qname's count, ..., the zone's.
  for (size_t labels = qname.labelCount() + 1; labels-- > zone.labelCount();) {
    const dns::Name candidate = qname.suffix(labels);
    const std::optional<Hash> hash = proof.hash(candidate);
    if (!hash) return failWith(proof.failure());
    const Nsec3Record* match = proof.match(*hash);
    if (match == nullptr) continue;
    if (labels == qname.labelCount()) {
      return failWith(notProven(match->describe() + " proves that " + qname.toText() + " exists"));
    }
    if (match->has(rrtype::kDname)) {
      return failWith(notProven("the closest encloser " + candidate.toText() +
                                " has a DNAME: names below it are redirected, not denied "
                                "(RFC 5155 section 8.3)"));
    }
    if (match->has(rrtype::kNs) && !match->has(rrtype::kSoa)) {
      return failWith(notProven("the closest encloser " + candidate.toText() +
                                " is a delegation: names below it belong to the child zone "
                                "(RFC 5155 section 8.3)"));
    }
    ClosestEncloser result;
    result.name = candidate;
    result.next_closer = qname.suffix(labels + 1);
    const std::optional<Hash> next_hash = proof.hash(result.next_closer);
    if (!next_hash) return failWith(proof.failure());
    result.next_closer_cover = proof.cover(*next_hash);
    if (result.next_closer_cover == nullptr) {
      return failWith(
          notProven("no NSEC3 covers the next closer name " + result.next_closer.toText()));
    }
    return result;
  }
  return failWith(notProven("no NSEC3 matches an ancestor of " + qname.toText() + " in zone " +
                            zone.toText() + ": no closest encloser"));
}

// RFC 5155 section 9.2: an opt-out range may hide unsigned delegations, so
// a proof resting on one is insecure, never secure.
Denial optOut(const ClosestEncloser& closest) {
  return {DenialResult::kOptOut, "NSEC3 opt-out: " + closest.next_closer_cover->describe() +
                                     " covers the next closer name " +
                                     closest.next_closer.toText() + " with the opt-out flag"};
}

std::optional<dns::Name> wildcardAt(const dns::Name& closest_encloser) {
  constexpr uint8_t kAsterisk[] = {'*'};
  auto wildcard = closest_encloser.prepend(kAsterisk);
  if (!wildcard.ok()) return std::nullopt;
  return *wildcard;
}

std::string matchingDescription(const Nsec3Record& record, const dns::Name& name) {
  return record.describe() + " (matching " + name.toText() + ")";
}

// After a closest encloser proof without a match for qname: the wildcard
// at the closest encloser must match without the type (RFC 5155 section
// 8.7).
Denial wildcardNodata(Nsec3Proof& proof, const ClosestEncloser& closest, const dns::Name& qname,
                      uint16_t qtype) {
  const std::optional<dns::Name> wildcard = wildcardAt(closest.name);
  if (!wildcard) return notProven("no wildcard name at " + closest.name.toText());
  const std::optional<Hash> hash = proof.hash(*wildcard);
  if (!hash) return proof.failure();
  const Nsec3Record* match = proof.match(*hash);
  if (match == nullptr) {
    return notProven("no NSEC3 matches " + qname.toText() + " or the wildcard " +
                     wildcard->toText() + " at its closest encloser");
  }
  Denial denial = nodataFromMatch(match->bitmap, matchingDescription(*match, *wildcard),
                                  *wildcard, qtype);
  if (denial.result == DenialResult::kProven && closest.next_closer_cover->optOut()) {
    return optOut(closest);
  }
  return denial;
}

}  // namespace

// RFC 5155 section 8.4: a closest encloser proof and an NSEC3 covering the
// wildcard at the closest encloser.
Denial nsec3ProveNxdomain(const dns::Name& qname, const dns::Name& zone,
                          std::span<const dns::Rrset> nsecs, const Policy& policy,
                          Budget& budget) {
  Nsec3Proof proof(qname, zone, nsecs, budget);
  if (std::optional<Denial> early = proof.precheck(zone, policy)) return std::move(*early);
  const ClosestEncloser closest = proveClosestEncloser(proof, qname, zone);
  if (closest.failure) return *closest.failure;
  const std::optional<dns::Name> wildcard = wildcardAt(closest.name);
  if (!wildcard) return notProven("no wildcard name at " + closest.name.toText());
  const std::optional<Hash> hash = proof.hash(*wildcard);
  if (!hash) return proof.failure();
  if (const Nsec3Record* match = proof.match(*hash)) {
    return notProven(match->describe() + " proves that the wildcard " + wildcard->toText() +
                     " exists: " + qname.toText() + " should have been synthesised from it");
  }
  if (proof.cover(*hash) == nullptr) {
    return notProven("no NSEC3 covers the wildcard " + wildcard->toText() +
                     " at the closest encloser");
  }
  if (closest.next_closer_cover->optOut()) return optOut(closest);
  return proven();
}

// RFC 5155 sections 8.5 and 8.6: an NSEC3 matching qname without the type
// or CNAME; for DS without a match, a closest encloser proof whose next
// closer name lies in an opt-out range (kOptOut); else a wildcard NODATA
// (section 8.7).
Denial nsec3ProveNodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                        std::span<const dns::Rrset> nsecs, const Policy& policy,
                        Budget& budget) {
  Nsec3Proof proof(qname, zone, nsecs, budget);
  if (std::optional<Denial> early = proof.precheck(zone, policy)) return std::move(*early);
  const std::optional<Hash> hash = proof.hash(qname);
  if (!hash) return proof.failure();
  if (const Nsec3Record* match = proof.match(*hash)) {
    return nodataFromMatch(match->bitmap, matchingDescription(*match, qname), qname, qtype);
  }
  const ClosestEncloser closest = proveClosestEncloser(proof, qname, zone);
  if (closest.failure) {
    if (closest.failure->result != DenialResult::kNotProven) return *closest.failure;
    return notProven("no NSEC3 matches " + qname.toText() + ", and " + closest.failure->reason);
  }
  if (qtype == rrtype::kDs && closest.next_closer_cover->optOut()) return optOut(closest);
  return wildcardNodata(proof, closest, qname, qtype);
}

// RFC 5155 section 8.8: the next closer name (one label below the
// wildcard's parent, towards qname) is covered: qname itself does not exist.
Denial nsec3ProveWildcardAnswer(const dns::Name& qname, const dns::Name& closest_encloser,
                                const dns::Name& zone, std::span<const dns::Rrset> nsecs,
                                const Policy& policy, Budget& budget) {
  Nsec3Proof proof(qname, zone, nsecs, budget);
  if (std::optional<Denial> early = proof.precheck(zone, policy)) return std::move(*early);
  ClosestEncloser closest;
  closest.name = closest_encloser;
  closest.next_closer = qname.suffix(closest_encloser.labelCount() + 1);
  const std::optional<Hash> hash = proof.hash(closest.next_closer);
  if (!hash) return proof.failure();
  closest.next_closer_cover = proof.cover(*hash);
  if (closest.next_closer_cover == nullptr) {
    return notProven("no NSEC3 covers the next closer name " + closest.next_closer.toText() +
                     ": the wildcard answer for " + qname.toText() + " is not proven");
  }
  if (closest.next_closer_cover->optOut()) return optOut(closest);
  return proven();
}

}  // namespace shoal::dnssec::internal
