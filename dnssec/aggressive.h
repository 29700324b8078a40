#pragma once
// Aggressive use of DNSSEC-validated cache (RFC 8198 section 5): proofs of
// NXDOMAIN, NODATA and wildcard answers from NSEC/NSEC3 records that were
// validated earlier and kept as ranges, without asking anyone.
//
// Where denial.h checks the records a reply brought, this looks the
// records up: a RangeSource (the resolver's shared cache) finds the record
// whose range holds a name, and the prover asks for exactly the records a
// proof needs (RFC 4035 section 5.4, RFC 5155 section 8), with the same
// rules as denial.h: a record at a delegation (NS without SOA) or a DNAME
// denies nothing below it (RFC 6840 section 4.1); an opt-out NSEC3 never
// proves NXDOMAIN (RFC 8198 section 5.1 / RFC 5155 section 9.2); NSEC3
// iterations above the policy are not used (RFC 9276). DS questions are
// left to the resolver (their proof lives in the parent zone), and so are
// meta types such as ANY, which no type bitmap can deny.
//
// A wildcard answer needs the wildcard to exist. The ranges rarely show
// it: the reply that brought a wildcard expansion proved only that qname
// (NSEC3: the next closer name) does not exist, with no record for
// "*.<closest encloser>" itself (RFC 4035 section 5.3.4, RFC 5155 section
// 8.8). So a validated wildcard RRset the source holds, signed by the zone,
// stands for it (RFC 8198 section 5.3): with the record that covers qname
// (NSEC) or the next closer name (NSEC3, not opt-out), it answers.
//
// It never allocates: the hot path answers with it straight from shared
// memory. NSEC3 proofs hash at most (qname labels - zone labels + 3)
// names.

#include <array>
#include <cstdint>
#include <span>

#include "dns/name.h"
#include "dnssec/verdict.h"

namespace shoal::dnssec {

/// A proof uses at most this many records (NSEC3: closest encloser, next
/// closer, wildcard; plus the qname's own lookup).
inline constexpr unsigned kRangeSlots = 4;

/// One NSEC or NSEC3 record, as the source found it.
struct RangeRecord {
  dns::Name owner;
  uint16_t type = 0;                // NSEC or NSEC3
  std::span<const uint8_t> rdata;  // valid until the source reloads the slot
};

class RangeSource {
 public:
  virtual ~RangeSource() = default;
  /// Loads into `slot` (0..kRangeSlots-1) the zone's record with the
  /// greatest owner at or before `name` in canonical order, or, if there is
  /// none, the greatest of all (the last NSEC3 of a chain wraps around).
  /// Null when the zone has none. The record stays valid until `slot` is
  /// loaded again.
  virtual const RangeRecord* load(const dns::Name& name, unsigned slot) = 0;
  /// True if the source holds a validated RRset of `qtype` owned by
  /// `wildcard` ("*.<closest encloser>") and signed by `zone`, to answer
  /// from (RFC 8198 section 5.3). A wildcard of another zone (a child's,
  /// below a delegation) says nothing about the names `zone`'s ranges cover.
  virtual bool hasWildcard(const dns::Name& wildcard, uint16_t qtype, const dns::Name& zone) {
    (void)wildcard;
    (void)qtype;
    (void)zone;
    return false;
  }
};

/// How the zone denies existence (from its zone entry).
struct ZoneDenialParams {
  bool nsec3 = false;
  uint8_t algorithm = 0;
  uint16_t iterations = 0;
  std::span<const uint8_t> salt;
};

enum class RangeAnswer : uint8_t {
  kNone,      // no proof from what the ranges hold: ask
  kNxdomain,  // qname does not exist (and no wildcard could match)
  kNodata,    // qname (or the wildcard that matches it) has no qtype
  kWildcard,  // the wildcard `wildcard` has qtype: answer with its data
};

struct RangeProof {
  RangeAnswer answer = RangeAnswer::kNone;
  /// The slots whose records prove it, each record once.
  std::array<uint8_t, kRangeSlots> slots{};
  uint8_t slot_count = 0;
  /// kWildcard: the wildcard owner ("*.<closest encloser>") whose RRset of
  /// qtype, expanded to qname, is the answer (RFC 8198 section 5.3).
  dns::Name wildcard;
};

/// What the ranges of `zone` prove about (qname, qtype). qname must be at
/// or below zone.
RangeProof proveFromRanges(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                           const ZoneDenialParams& params, const Policy& policy,
                           RangeSource& source);

}  // namespace shoal::dnssec
