#pragma once
// RRSIG verification (RFC 4034 sections 3 and 6, RFC 4035 section 5.3):
// the canonical form of an RRset, the checks on the RRSIG fields (signer,
// labels, validity window in serial-number arithmetic, key tag and
// algorithm), and the public-key operation through OpenSSL 3's EVP
// interface (RSA/SHA-1/256/512, ECDSA P-256/P-384, Ed25519, Ed448).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/verdict.h"

namespace shoal::dnssec {

/// Public keys decoded for OpenSSL, by algorithm and key data. Decoding a
/// DNSKEY (and OpenSSL 3's fetch of the key type by name, and its check
/// that an EC point lies on the curve) cost more than the verification
/// itself; a worker keeps the keys it used. Bounded: when full it starts
/// afresh. Not thread-safe (one per worker).
class KeyCache {
 public:
  explicit KeyCache(size_t capacity = 4096);
  ~KeyCache();
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  struct Entry;
  /// The decoded key, or null when it does not decode (remembered too).
  const Entry* find(uint8_t algorithm, std::span<const uint8_t> public_key);
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// An RRSIG rdata, viewed in place (the signer name copied out).
struct Rrsig {
  uint16_t type_covered = 0;
  uint8_t algorithm = 0;
  uint8_t labels = 0;
  uint32_t original_ttl = 0;
  uint32_t expiration = 0;
  uint32_t inception = 0;
  uint16_t key_tag = 0;
  dns::Name signer;
  std::span<const uint8_t> signature;
  std::span<const uint8_t> fields;  // rdata up to and including the signer (signed data prefix)
};
std::optional<Rrsig> parseRrsig(std::span<const uint8_t> rdata);

/// True if `now` lies in [inception, expiration] in serial-number
/// arithmetic (RFC 4034 section 3.1.5, RFC 1982).
bool signatureTimeValid(const Rrsig& sig, int64_t now);

/// The octets an RRSIG signs over `rrset` (RFC 4034 section 3.1.8.1): the
/// RRSIG fields, then each record in canonical form (owner lowercased, or
/// "*." + the last `labels` labels for a wildcard expansion; names in the
/// rdata of the RFC 4034 section 6.2 types lowercased; TTL = original TTL)
/// in canonical rdata order, duplicates removed. The RRSIG fields are taken
/// from `sig`'s members, not from `sig.fields`. Empty if an rdata is longer
/// than 65535 octets.
std::vector<uint8_t> signedData(const dns::Rrset& rrset, const Rrsig& sig);

/// The outcome of verifying one RRset.
struct RrsetResult {
  Verdict verdict;
  /// Secure: the TTL the RRset may be cached for: min(rrset.ttl, original
  /// TTL, expiration - now) of the signature that verified.
  uint32_t ttl = 0;
  /// Secure and the RRSIG's labels field is below the owner's label count:
  /// the RRset was synthesised from the wildcard `*.<source_of_synthesis>`
  /// (RFC 4035 section 5.3.4); the caller must prove that no closer name
  /// exists (RFC 4035 section 5.4, RFC 5155 section 8.8).
  bool wildcard = false;
  dns::Name wildcard_closest_encloser;  // the name the "*" label hangs under
};

/// Verifies `rrset` with the validated DNSKEY rdatas `keys` of `zone`.
/// Only RRSIGs whose signer is `zone` count. An RRSIG is tried with every
/// key of matching tag and algorithm that has the zone flag and protocol 3
/// and is not revoked (RFC 5011) (at most Budget::kMaxKeysPerTag), and at most
/// Budget::kMaxVerificationsPerRrset public-key operations are spent on the
/// RRset. Secure on the first signature that verifies. Bogus otherwise, with
/// the most telling EDE: 10 (no RRSIG by the zone), 9 (no key for any
/// RRSIG, or an unsupported algorithm), 7 / 8 (only expired / not yet valid
/// signatures), 6 (crypto failure, bad labels field, budget spent); the
/// RRSIG that got furthest (fields, window, key, signature) decides. Hitting
/// either the query's budget or the per-RRset cap sets `budget.exhausted`.
/// `key_cache`: decoded keys to reuse (null: decode every time).
RrsetResult verifyRrset(const dns::Rrset& rrset, const dns::Name& zone,
                        std::span<const std::vector<uint8_t>> keys, int64_t now,
                        const Policy& policy, Budget& budget, KeyCache* key_cache = nullptr);

/// The public-key operation alone: does `signature` by `dnskey_rdata`'s key
/// (algorithm `algorithm`) verify over `data`? False for unsupported
/// algorithms, malformed keys or signatures, and RSA keys outside 1024 to
/// 4096 bits or with an exponent over 64 bits (bounded CPU per operation).
/// Leaves OpenSSL's error queue empty.
bool verifySignature(uint8_t algorithm, std::span<const uint8_t> dnskey_rdata,
                     std::span<const uint8_t> data, std::span<const uint8_t> signature,
                     KeyCache* key_cache = nullptr);

}  // namespace shoal::dnssec
