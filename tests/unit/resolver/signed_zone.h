#pragma once
// Signed zones for the fake DNS Internet (fake_net.h): DNSSEC scenarios of
// the engine against real keys and signatures.
//
// SignedZone::sign takes a zone's text, generates its key(s) with ldns
// (through tests/unit/dnssec/signer.h: ECDSA P-256 or Ed25519), adds the
// DNSKEY RRset, builds the NSEC or NSEC3 chain (optionally opt-out) over
// the authoritative names, and signs every authoritative RRset (not the NS
// of a delegation, not glue) with an explicit validity window around the
// fake clock's wall time. It gives back the records to serve (FakeNet::
// addZone) and the DS the parent publishes. After signing, a test may
// break the zone on purpose: corrupt a signature, re-sign an RRset outside
// its validity window, strip every RRSIG, add keys that share a tag.
//
// The free functions below are what FakeNet's authoritative server uses to
// answer from a signed zone when the query has DO: the RRSIGs of an RRset
// and the NSEC/NSEC3 records of a denial (NXDOMAIN, NODATA, wildcard
// expansion, no DS at a delegation), each with its RRSIGs.
//
// Test code: failures go through GoogleTest (ADD_FAILURE).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"
#include "dns/zone_text.h"
#include "resolver/roots.h"
#include "tests/unit/dnssec/signer.h"

namespace shoal::resolver::testing_util {

/// The wall-clock second the scenarios start at (scenario.h kStartMs).
inline constexpr int64_t kStartS = 1'700'000'000;

enum class DenialKind : uint8_t { kNsec, kNsec3, kNsec3OptOut };

/// An RRSIG validity window (seconds since the epoch).
struct Window {
  uint32_t inception = static_cast<uint32_t>(kStartS - 3600);
  uint32_t expiration = static_cast<uint32_t>(kStartS + 30 * 86400);
};

struct SignOptions {
  uint8_t algorithm = 13;  // ECDSA P-256/SHA-256; 15 for Ed25519
  DenialKind denial = DenialKind::kNsec;
  uint16_t nsec3_iterations = 0;
  std::vector<uint8_t> nsec3_salt;
  /// A KSK (flags 257) signs the DNSKEY RRset and a ZSK (256) the rest;
  /// otherwise one key (257) signs everything.
  bool separate_zsk = false;
  Window window;
};

class SignedZone {
 public:
  /// Signs the zone `origin` given as zone text (relative names are relative
  /// to `origin`, default TTL 3600, like FakeNet::addZone).
  static SignedZone sign(std::string_view origin, std::string_view text,
                         const SignOptions& options = {});

  SignedZone(SignedZone&&) = default;
  SignedZone& operator=(SignedZone&&) = default;

  const dns::Name& apex() const { return apex_; }
  /// The records to serve: the zone's, the DNSKEYs, the NSEC/NSEC3 chain
  /// and the RRSIGs (as records of type RRSIG at the owner they cover).
  const std::vector<dns::Record>& records() const { return records_; }
  std::vector<dns::Record>& records() { return records_; }

  /// The key whose DS the parent publishes (the KSK).
  const dnssec::testing_util::TestKey& ksk() const { return *ksk_; }
  /// The key that signs everything but the DNSKEY RRset.
  const dnssec::testing_util::TestKey& zsk() const { return zsk_ ? *zsk_ : *ksk_; }

  /// The DS rdata of the KSK (SHA-256), and as zone text for the parent
  /// ("<apex> 3600 IN DS ...").
  std::vector<uint8_t> dsRdata() const;
  std::string dsText() const;
  /// Trust anchors for this zone: its DS, or its KSK's DNSKEY.
  TrustAnchor dsAnchor() const;
  TrustAnchor dnskeyAnchor() const;

  /// Flips the last octet of every RRSIG covering (owner, type).
  void corruptSignatures(std::string_view owner, uint16_t type);
  /// Replaces the RRSIGs of (owner, type) by fresh ones made with `window`.
  void resign(std::string_view owner, uint16_t type, const Window& window);
  /// The RRSIG rdata the zone's signing key makes over (owner, type) now.
  std::vector<uint8_t> signatureOver(std::string_view owner, uint16_t type,
                                     const Window& window) const;
  /// Removes every RRSIG (the zone then looks unsigned, keys and chain
  /// kept).
  void stripSignatures();
  /// Removes every DNSKEY, RRSIG, NSEC, NSEC3 and NSEC3PARAM: an unsigned
  /// zone again.
  void unsign();
  /// Adds DNSKEY rdatas to the apex (e.g. keys that collide on a tag) and
  /// re-signs the DNSKEY RRset.
  void addDnskeys(const std::vector<std::vector<uint8_t>>& rdatas);

 private:
  SignedZone() = default;
  dns::Name name(std::string_view text) const;
  dns::Rrset rrsetOf(const dns::Name& owner, uint16_t type) const;
  void eraseSignatures(const dns::Name& owner, uint16_t type);
  const dnssec::testing_util::TestKey& keyFor(uint16_t type) const;

  dns::Name apex_;
  std::vector<dns::Record> records_;
  std::unique_ptr<dnssec::testing_util::TestKey> ksk_;
  std::unique_ptr<dnssec::testing_util::TestKey> zsk_;
  SignOptions options_;
};

/// What a signed zone's server must prove in the authority section.
enum class Proof : uint8_t {
  kNxdomain,        // qname does not exist (nor a wildcard at the closest encloser)
  kNodata,          // qname exists without the type (or is an empty non-terminal)
  kWildcardAnswer,  // qname was synthesised from *.<closest encloser>
  kWildcardNodata,  // *.<closest encloser> matched, without the type
  kNoDs,            // the delegation at qname has no DS (insecure)
};

/// The RRSIGs of `zone_records` covering (owner, type), as records owned by
/// `as` (a wildcard expansion's qname), with the RRset's TTL.
std::vector<dns::Record> signaturesFor(const std::vector<dns::Record>& zone_records,
                                       const dns::Name& owner, uint16_t type, const dns::Name& as);

/// The NSEC or NSEC3 records (and their RRSIGs) that prove `proof` for
/// `qname` in the zone `apex` (`closest_encloser`: the closest existing
/// ancestor of qname, for kNxdomain and the wildcard proofs). Empty when the
/// zone has no chain.
std::vector<dns::Record> denialFor(const std::vector<dns::Record>& zone_records,
                                   const dns::Name& apex, Proof proof, const dns::Name& qname,
                                   const dns::Name& closest_encloser);

/// `packet` (a response) rebuilt without the records `drop` selects (in any
/// section but the question; the OPT record is kept). Used in tamper hooks
/// to strip proofs or signatures on the way.
std::vector<uint8_t> rewriteResponse(
    std::span<const uint8_t> packet,
    const std::function<bool(dns::Section, const dns::Record&)>& drop);

/// The type covered by an RRSIG rdata (0 if too short).
uint16_t typeCovered(std::span<const uint8_t> rrsig_rdata);

}  // namespace shoal::resolver::testing_util
