#pragma once
// The vocabulary of validation: a verdict (secure, insecure, bogus) with the
// Extended DNS Error (RFC 8914) that explains it, the policy knobs, and the
// work budget that bounds what one client query may cost (KeyTrap,
// CVE-2023-50387; NSEC3 closest-encloser floods, CVE-2023-50868).
//
// dnssec/ is sans-I/O like the resolver: it takes RRsets, keys and the
// time, and returns verdicts. It never fetches; the resolver drives the DS
// and DNSKEY lookups.

#include <cstdint>
#include <string>

namespace shoal::dnssec {

/// RFC 4035 section 4.3. The numbering matches shmcache::Security, so the
/// resolver stores a status with a cast.
enum class Security : uint8_t { kIndeterminate = 0, kInsecure = 1, kSecure = 2, kBogus = 3 };
const char* toString(Security security);

/// Extended DNS Error info codes for validation outcomes (RFC 8914 section 4).
namespace ede {
inline constexpr uint16_t kUnsupportedAlgorithm = 1;
inline constexpr uint16_t kUnsupportedDsDigest = 2;
inline constexpr uint16_t kDnssecIndeterminate = 5;
inline constexpr uint16_t kDnssecBogus = 6;
inline constexpr uint16_t kSignatureExpired = 7;
inline constexpr uint16_t kSignatureNotYetValid = 8;
inline constexpr uint16_t kDnskeyMissing = 9;
inline constexpr uint16_t kRrsigsMissing = 10;
inline constexpr uint16_t kNoZoneKeyBitSet = 11;
inline constexpr uint16_t kNsecMissing = 12;
inline constexpr uint16_t kUnsupportedNsec3Iterations = 27;  // RFC 9276 section 3.2
}  // namespace ede

struct Verdict {
  Security security = Security::kIndeterminate;
  uint16_t ede = 0;    // meaningful when not secure
  std::string reason;  // for logs, EDE text and shoalctl; empty when secure

  static Verdict secure() { return {Security::kSecure, 0, {}}; }
  static Verdict insecure(uint16_t ede_code, std::string why) {
    return {Security::kInsecure, ede_code, std::move(why)};
  }
  static Verdict bogus(uint16_t ede_code, std::string why) {
    return {Security::kBogus, ede_code, std::move(why)};
  }
  bool isSecure() const { return security == Security::kSecure; }
  bool isBogus() const { return security == Security::kBogus; }
};

/// What the operator may change (config section [dnssec]).
struct Policy {
  /// Accept RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7). When off they are
  /// unsupported: zones signed only with them are insecure, not bogus
  /// (RFC 8624 section 3.1 allows either; RFC 6840 section 5.2).
  bool sha1_signatures = true;
  /// NSEC3 iteration count above which a denial is insecure with EDE 27
  /// (RFC 9276 section 3.2).
  uint16_t nsec3_max_iterations = 50;
};

/// Caps on the work of validation. One Budget lives for one client query
/// (across every RRset of its answer and every key of its chain); a spent
/// budget fails validation (bogus, EDE 6, reason says which cap) and the
/// resolver counts it.
struct Budget {
  /// Public-key operations for the whole client query.
  uint32_t verifications = 128;
  /// NSEC3 hash computations for the whole client query (each costs
  /// iterations + 1 SHA-1 runs).
  uint32_t nsec3_hashes = 256;
  bool exhausted = false;  // set when a cap was hit

  /// Per RRset: signatures (RRSIG x matching key) tried before giving up,
  /// and keys tried for one RRSIG (key-tag collisions).
  static constexpr uint32_t kMaxVerificationsPerRrset = 8;
  static constexpr uint32_t kMaxKeysPerTag = 4;

  bool takeVerification() {
    if (verifications == 0) return !(exhausted = true);
    --verifications;
    return true;
  }
  bool takeNsec3Hash() {
    if (nsec3_hashes == 0) return !(exhausted = true);
    --nsec3_hashes;
    return true;
  }
};

}  // namespace shoal::dnssec
