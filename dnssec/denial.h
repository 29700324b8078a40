#pragma once
// Authenticated denial of existence: NSEC (RFC 4035 section 5.4, RFC 6840
// section 4) and NSEC3 (RFC 5155 section 8, RFC 9276) proofs of NXDOMAIN,
// NODATA, wildcard answers, wildcard NODATA and insecure delegations (no
// DS, NSEC3 opt-out).
//
// The proofs work on NSEC/NSEC3 RRsets the caller has already verified
// (verifyRrset, signer = `zone`); they check logic, not signatures.
// `nsecs` may hold other RRsets: only NSEC records at or below `zone` (next
// name too) and NSEC3 records exactly one label below `zone` are read;
// malformed rdata is ignored. If both kinds are present, a holding NSEC
// proof wins, else the NSEC3 result stands.
//
// NSEC3 work: an iteration count above policy.nsec3_max_iterations gives
// kIterations before any hash; each hash takes budget.takeNsec3Hash()
// (kBudget when spent), and one proof hashes at most (qname labels - zone
// labels + 2) names. Implemented in denial.cc, nsec.cc and nsec3.cc.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/verdict.h"

namespace shoal::dnssec {

enum class DenialResult : uint8_t {
  kProven,          // the denial holds: secure
  kOptOut,          // only an opt-out NSEC3 covers the name: insecure (RFC 5155 section 9.2)
  kNotProven,       // missing or wrong records: bogus, EDE 12
  kIterations,      // NSEC3 iterations above the policy: insecure, EDE 27
  kBudget,          // NSEC3 hash budget spent: bogus, EDE 6
};

struct Denial {
  DenialResult result = DenialResult::kNotProven;
  std::string reason;  // why, when not kProven (for logs and the EDE text)
  /// The verdict the result stands for (secure, insecure, bogus + EDE).
  Verdict verdict() const;
};

/// The name does not exist: a record proves that `qname` does not exist
/// and one that no wildcard at the closest encloser could have matched.
/// kOptOut when the NSEC3 covering the next closer name has the opt-out
/// flag (RFC 5155 section 9.2: an unsigned delegation may hide there).
Denial proveNxdomain(const dns::Name& qname, const dns::Name& zone,
                     std::span<const dns::Rrset> nsecs, const Policy& policy, Budget& budget);

/// The name exists but has no `qtype` (and no CNAME): a matching NSEC or
/// NSEC3 without the type bit; or an empty non-terminal (RFC 5155 8.5 /
/// RFC 4035 5.4); or a wildcard NODATA (RFC 5155 section 8.7); for DS, an
/// opt-out NSEC3 covering the next closer name (RFC 5155 section 8.6) gives
/// kOptOut. A DS NODATA from a matching NSEC/NSEC3 whose bitmap has NS and
/// no SOA is an insecure delegation, kProven. A matching record with NS and
/// no SOA (the parent side) proves nothing for other types; one with SOA (a
/// child apex) cannot deny DS, except at the root (RFC 4035 section
/// 3.1.4.1).
Denial proveNodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                   std::span<const dns::Rrset> nsecs, const Policy& policy, Budget& budget);

/// A positive answer synthesised from a wildcard (RFC 4035 section 5.3.4):
/// `qname` itself does not exist below `closest_encloser` (the wildcard's
/// parent, from RrsetResult::wildcard_closest_encloser). For NSEC3, the
/// next closer name is covered (RFC 5155 section 8.8); kOptOut when that
/// NSEC3 has the opt-out flag.
Denial proveWildcardAnswer(const dns::Name& qname, const dns::Name& closest_encloser,
                           const dns::Name& zone, std::span<const dns::Rrset> nsecs,
                           const Policy& policy, Budget& budget);

/// NSEC3 owner hash (RFC 5155 section 5) of `name` with the given
/// parameters, as raw octets (20 for SHA-1). Empty for unknown algorithms.
std::vector<uint8_t> nsec3Hash(const dns::Name& name, uint8_t algorithm, uint16_t iterations,
                               std::span<const uint8_t> salt);

/// The same into `out`, without allocating (the hot path hashes names for
/// answers synthesised from NSEC3 ranges). False for unknown algorithms.
using Nsec3Digest = std::array<uint8_t, 20>;
bool nsec3HashInto(const dns::Name& name, uint8_t algorithm, uint16_t iterations,
                   std::span<const uint8_t> salt, Nsec3Digest& out);

/// Base32hex (RFC 4648 section 7), lowercase, no padding: an NSEC3 owner's
/// first label. Decoding ignores case and gives nullopt for a digit outside
/// the alphabet (including "="), an impossible length or non-zero pad bits.
std::string base32HexEncode(std::span<const uint8_t> data);
std::optional<std::vector<uint8_t>> base32HexDecode(std::span<const uint8_t> text);

/// True if the type bitmap (the NSEC/NSEC3 "Type Bit Maps" field, RFC 4034
/// section 4.1.2) lists `type`. False when malformed.
bool bitmapHasType(std::span<const uint8_t> bitmap, uint16_t type);

}  // namespace shoal::dnssec
