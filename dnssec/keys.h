#pragma once
// DNSKEY and DS records (RFC 4034 sections 2 and 5): parsing, key tags,
// DS digests, which algorithms and digests this build supports, and the
// validation of a zone's DNSKEY RRset against its DS RRset or a trust
// anchor (RFC 4035 section 5.2, RFC 6840 sections 5.2 and 5.11).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/rrsig.h"
#include "dnssec/verdict.h"

namespace shoal::dnssec {

/// DNSSEC algorithm numbers (IANA registry).
namespace alg {
inline constexpr uint8_t kRsaSha1 = 5;
inline constexpr uint8_t kRsaSha1Nsec3Sha1 = 7;
inline constexpr uint8_t kRsaSha256 = 8;
inline constexpr uint8_t kRsaSha512 = 10;
inline constexpr uint8_t kEcdsaP256Sha256 = 13;
inline constexpr uint8_t kEcdsaP384Sha384 = 14;
inline constexpr uint8_t kEd25519 = 15;
inline constexpr uint8_t kEd448 = 16;
}  // namespace alg

/// DS digest types.
namespace digest {
inline constexpr uint8_t kSha1 = 1;
inline constexpr uint8_t kSha256 = 2;
inline constexpr uint8_t kSha384 = 4;
}  // namespace digest

inline constexpr uint16_t kDnskeyFlagZone = 0x0100;  // RFC 4034 section 2.1.1
inline constexpr uint16_t kDnskeyFlagSep = 0x0001;
inline constexpr uint16_t kDnskeyFlagRevoke = 0x0080;  // RFC 5011
inline constexpr uint8_t kDnskeyProtocol = 3;          // RFC 4034 section 2.1.2

/// A DNSKEY rdata, viewed in place.
struct Dnskey {
  uint16_t flags = 0;
  uint8_t protocol = 0;
  uint8_t algorithm = 0;
  uint16_t tag = 0;
  std::span<const uint8_t> public_key;
};
/// Nullopt when shorter than the fixed fields.
std::optional<Dnskey> parseDnskey(std::span<const uint8_t> rdata);

/// A DS rdata, viewed in place.
struct Ds {
  uint16_t key_tag = 0;
  uint8_t algorithm = 0;
  uint8_t digest_type = 0;
  std::span<const uint8_t> digest;
};
std::optional<Ds> parseDs(std::span<const uint8_t> rdata);

/// RFC 4034 appendix B (all algorithms in use; algorithm 1 is not).
uint16_t keyTag(std::span<const uint8_t> dnskey_rdata);

bool algorithmSupported(uint8_t algorithm, const Policy& policy);
bool digestSupported(uint8_t digest_type);

/// True if the DNSKEY (owned by `owner`) hashes to the DS's digest
/// (RFC 4034 section 5.1.4). False for unsupported digests.
bool dsMatches(const dns::Name& owner, std::span<const uint8_t> dnskey_rdata, const Ds& ds);

/// The digest of a DNSKEY for a DS record of `digest_type` (tests and the
/// trust-anchor tooling); empty for unsupported types.
std::vector<uint8_t> dsDigest(const dns::Name& owner, std::span<const uint8_t> dnskey_rdata,
                              uint8_t digest_type);

/// The outcome of validating a zone's keys.
struct KeyResult {
  Verdict verdict;
  /// Secure: the TTL the DNSKEY RRset may be cached for (min of its TTL,
  /// the covering RRSIG's original TTL and its time to expiry).
  uint32_t ttl = 0;
};

/// Validates `dnskeys` (the zone's DNSKEY RRset with its RRSIGs) from its
/// trust: `ds` (DS rdatas from the parent, already validated) and/or
/// `anchor_keys` (DNSKEY rdatas configured as trust anchors).
/// - Secure: a key that matches a DS of a supported digest and algorithm
///   (only the strongest digest type among the DS records of supported
///   algorithms is used, RFC 4509 section 3)
///   or equals an anchor key, with the zone flag set, signs the RRset.
/// - Insecure: no DS (or anchor) has a supported algorithm and digest
///   (RFC 4035 section 5.2, RFC 6840 section 5.2): EDE 1 or 2.
/// - Bogus otherwise: EDE 9 (no key matches; also when neither `ds` nor
///   `anchor_keys` holds anything parsable: an unsigned delegation must be
///   proven, not assumed), 11 (the only matching keys lack the zone flag),
///   10, 7, 8 or 6 (from verifyRrset).
/// Each DS is hashed against at most Budget::kMaxKeysPerTag keys of its tag.
/// `now` is wall-clock seconds since the epoch.
KeyResult validateDnskeys(const dns::Rrset& dnskeys, std::span<const std::vector<uint8_t>> ds,
                          std::span<const std::vector<uint8_t>> anchor_keys, int64_t now,
                          const Policy& policy, Budget& budget, KeyCache* key_cache = nullptr);

}  // namespace shoal::dnssec
