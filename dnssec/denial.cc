#include "dnssec/denial.h"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dns/constants.h"
#include "dnssec/denial_internal.h"

// The entry points check what every proof needs (qname inside the zone),
// pick the NSEC or the NSEC3 half by the records present (nsec.cc,
// nsec3.cc), and hold the pieces both halves share: the type bitmap, the
// NODATA rules for a matching record, base32hex and the NSEC3 hash.

namespace shoal::dnssec {

namespace {

namespace rrtype = dns::rrtype;
using internal::notProven;

constexpr uint8_t kNsec3Sha1 = 1;  // RFC 5155 section 11: the only hash algorithm
constexpr char kBase32HexDigits[] = "0123456789abcdefghijklmnopqrstuv";

// Which kinds of denial records `zone` sent.
struct Kinds {
  bool nsec = false;
  bool nsec3 = false;
};

Kinds kindsIn(std::span<const dns::Rrset> rrsets, const dns::Name& zone) {
  Kinds kinds;
  for (const dns::Rrset& rrset : rrsets) {
    if (!rrset.owner.isSubdomainOf(zone)) continue;
    if (rrset.type == rrtype::kNsec) kinds.nsec = true;
    if (rrset.type == rrtype::kNsec3) kinds.nsec3 = true;
  }
  return kinds;
}

// A zone sends one kind. If a response carries both (a zone changing from
// one to the other), an NSEC proof that holds wins; otherwise NSEC3 decides.
template <typename NsecProof, typename Nsec3Proof>
Denial dispatch(std::span<const dns::Rrset> rrsets, const dns::Name& zone, NsecProof nsec_proof,
                Nsec3Proof nsec3_proof) {
  const Kinds kinds = kindsIn(rrsets, zone);
  if (!kinds.nsec && !kinds.nsec3) {
    return notProven("no NSEC or NSEC3 records from zone " + zone.toText());
  }
  if (kinds.nsec) {
    Denial denial = nsec_proof();
    if (denial.result == DenialResult::kProven || !kinds.nsec3) return denial;
  }
  return nsec3_proof();
}

std::string notInZone(const dns::Name& qname, const dns::Name& zone) {
  return qname.toText() + " is not in zone " + zone.toText();
}

}  // namespace

Verdict Denial::verdict() const {
  switch (result) {
    case DenialResult::kProven: return Verdict::secure();
    case DenialResult::kOptOut: return Verdict::insecure(0, "NSEC3 opt-out");
    case DenialResult::kNotProven:
      return Verdict::bogus(ede::kNsecMissing,
                            reason.empty() ? "denial of existence not proven" : reason);
    case DenialResult::kIterations:
      return Verdict::insecure(ede::kUnsupportedNsec3Iterations,
                               reason.empty() ? "NSEC3 iterations above the limit" : reason);
    case DenialResult::kBudget:
      return Verdict::bogus(ede::kDnssecBogus,
                            reason.empty() ? "NSEC3 hash budget spent" : reason);
  }
  return Verdict::bogus(ede::kDnssecBogus, "unknown denial result");
}

Denial proveNxdomain(const dns::Name& qname, const dns::Name& zone,
                     std::span<const dns::Rrset> nsecs, const Policy& policy, Budget& budget) {
  if (!qname.isSubdomainOf(zone)) return notProven(notInZone(qname, zone));
  return dispatch(
      nsecs, zone, [&] { return internal::nsecProveNxdomain(qname, zone, nsecs); },
      [&] { return internal::nsec3ProveNxdomain(qname, zone, nsecs, policy, budget); });
}

Denial proveNodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                   std::span<const dns::Rrset> nsecs, const Policy& policy, Budget& budget) {
  if (!qname.isSubdomainOf(zone)) return notProven(notInZone(qname, zone));
  return dispatch(
      nsecs, zone, [&] { return internal::nsecProveNodata(qname, qtype, zone, nsecs); },
      [&] { return internal::nsec3ProveNodata(qname, qtype, zone, nsecs, policy, budget); });
}

Denial proveWildcardAnswer(const dns::Name& qname, const dns::Name& closest_encloser,
                           const dns::Name& zone, std::span<const dns::Rrset> nsecs,
                           const Policy& policy, Budget& budget) {
  if (!qname.isSubdomainOf(zone)) return notProven(notInZone(qname, zone));
  if (!closest_encloser.isSubdomainOf(zone) ||
      !internal::isProperSubdomain(qname, closest_encloser)) {
    return notProven("the wildcard's closest encloser " + closest_encloser.toText() +
                     " is not an ancestor of " + qname.toText() + " in zone " + zone.toText());
  }
  return dispatch(
      nsecs, zone,
      [&] { return internal::nsecProveWildcardAnswer(qname, closest_encloser, zone, nsecs); },
      [&] {
        return internal::nsec3ProveWildcardAnswer(qname, closest_encloser, zone, nsecs, policy,
                                                  budget);
      });
}

// RFC 5155 section 5: IH(salt, x, 0) = H(x || salt), IH(salt, x, k) =
// H(IH(salt, x, k-1) || salt); the owner hash is IH(salt, owner, iterations)
// over the canonical (lowercase, uncompressed) wire form of the name.
std::vector<uint8_t> nsec3Hash(const dns::Name& name, uint8_t algorithm, uint16_t iterations,
                               std::span<const uint8_t> salt) {
  Nsec3Digest digest{};
  if (!nsec3HashInto(name, algorithm, iterations, salt, digest)) return {};
  return {digest.begin(), digest.end()};
}

// OpenSSL's one-shot SHA1_* functions, deprecated in OpenSSL 3 in favour of
// EVP: EVP allocates a context per digest (and re-creates its provider
// context at every DigestInit), which the allocation-free hot path must
// not do and which costs more than the 64-octet compression itself. These
// work on a stack SHA_CTX; only this function uses them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
bool nsec3HashInto(const dns::Name& name, uint8_t algorithm, uint16_t iterations,
                   std::span<const uint8_t> salt, Nsec3Digest& out) {
  static_assert(sizeof(Nsec3Digest) == SHA_DIGEST_LENGTH);
  if (algorithm != kNsec3Sha1) return false;
  dns::Name canonical = name;
  canonical.toLowerCase();
  auto round = [&](std::span<const uint8_t> input) {
    SHA_CTX ctx;
    return SHA1_Init(&ctx) == 1 && SHA1_Update(&ctx, input.data(), input.size()) == 1 &&
           SHA1_Update(&ctx, salt.data(), salt.size()) == 1 && SHA1_Final(out.data(), &ctx) == 1;
  };
  if (!round(canonical.wire())) return false;
  for (uint16_t i = 0; i < iterations; ++i) {
    const Nsec3Digest previous = out;
    if (!round(previous)) return false;
  }
  return true;
}
#pragma GCC diagnostic pop

// RFC 4648 section 7: 5 bits a digit, most significant first; the last
// digit is padded with zero bits; no "=" padding (RFC 5155 section 3.3).
std::string base32HexEncode(std::span<const uint8_t> data) {
  std::string text;
  text.reserve((data.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  unsigned bits = 0;
  for (const uint8_t octet : data) {
    buffer = (buffer << 8) | octet;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text.push_back(kBase32HexDigits[(buffer >> bits) & 0x1f]);
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) text.push_back(kBase32HexDigits[(buffer << (5 - bits)) & 0x1f]);
  return text;
}

// Case-insensitive. Rejects "=" and other digits outside the alphabet, a
// length that leaves a whole digit unused (1, 3 or 6 digits mod 8), and
// non-zero padding bits (a non-canonical encoding).
std::optional<std::vector<uint8_t>> base32HexDecode(std::span<const uint8_t> text) {
  std::vector<uint8_t> data;
  data.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  unsigned bits = 0;
  for (const uint8_t c : text) {
    uint32_t value = 0;
    if (c >= '0' && c <= '9') {
      value = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'v') {
      value = static_cast<uint32_t>(c - 'a') + 10u;
    } else if (c >= 'A' && c <= 'V') {
      value = static_cast<uint32_t>(c - 'A') + 10u;
    } else {
      return std::nullopt;
    }
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      data.push_back(static_cast<uint8_t>(buffer >> bits));
      buffer &= (1u << bits) - 1;
    }
  }
  if (bits >= 5 || buffer != 0) return std::nullopt;
  return data;
}

bool bitmapHasType(std::span<const uint8_t> bitmap, uint16_t type) {
  if (!internal::bitmapWellFormed(bitmap)) return false;
  const unsigned window = type >> 8;
  const unsigned octet = (type & 0xffu) / 8;
  const auto mask = static_cast<uint8_t>(0x80u >> (type % 8));
  for (size_t pos = 0; pos < bitmap.size(); pos += 2u + bitmap[pos + 1]) {
    if (bitmap[pos] != window) continue;
    return octet < bitmap[pos + 1] && (bitmap[pos + 2 + octet] & mask) != 0;
  }
  return false;
}

namespace internal {

Denial notProven(std::string reason) { return {DenialResult::kNotProven, std::move(reason)}; }

Denial proven() { return {DenialResult::kProven, {}}; }

size_t commonLabels(const dns::Name& a, const dns::Name& b) {
  const size_t most = std::min(a.labelCount(), b.labelCount());
  size_t shared = 0;
  while (shared < most && a.suffix(shared + 1) == b.suffix(shared + 1)) ++shared;
  return shared;
}

bool isProperSubdomain(const dns::Name& name, const dns::Name& ancestor) {
  return name.labelCount() > ancestor.labelCount() && name.isSubdomainOf(ancestor);
}

bool bitmapWellFormed(std::span<const uint8_t> bitmap) {
  int previous_window = -1;
  size_t pos = 0;
  while (pos < bitmap.size()) {
    if (bitmap.size() - pos < 2) return false;
    const uint8_t window = bitmap[pos];
    const uint8_t length = bitmap[pos + 1];
    if (window <= previous_window || length == 0 || length > 32) return false;
    if (bitmap.size() - pos - 2 < length) return false;
    previous_window = window;
    pos += 2u + length;
  }
  return true;
}

// RFC 4035 section 5.4 / RFC 5155 sections 8.5 and 8.6 / RFC 6840 sections
// 4.1, 4.3 and 4.4, for the record whose owner (or hashed owner) is `name`.
Denial nodataFromMatch(std::span<const uint8_t> bitmap, const std::string& record,
                       const dns::Name& name, uint16_t qtype) {
  const std::string type = dns::typeToText(qtype);
  if (bitmapHasType(bitmap, qtype)) {
    return notProven(record + " lists type " + type + ": " + name.toText() + " has that data");
  }
  if (bitmapHasType(bitmap, rrtype::kCname)) {
    return notProven(record + " lists CNAME: " + name.toText() +
                     " is an alias, not a NODATA (RFC 6840 section 4.3)");
  }
  const bool soa = bitmapHasType(bitmap, rrtype::kSoa);
  if (qtype == rrtype::kDs) {
    if (soa && !name.isRoot()) {
      return notProven(record + " is the apex of the child zone " + name.toText() +
                       ": only the parent side of the delegation can deny DS "
                       "(RFC 4035 section 3.1.4.1)");
    }
    return proven();  // with NS and no SOA: an insecure delegation (RFC 6840 section 4.4)
  }
  if (bitmapHasType(bitmap, rrtype::kNs) && !soa) {
    return notProven(record + " is the parent side of the delegation " + name.toText() +
                     ": it cannot deny " + type + ", which lives in the child zone "
                     "(RFC 6840 section 4.1)");
  }
  return proven();
}

}  // namespace internal

}  // namespace shoal::dnssec
