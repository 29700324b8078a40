#pragma once
// Internal to dnssec/: the NSEC (nsec.cc) and NSEC3 (nsec3.cc) halves of the
// denial proofs that dnssec/denial.h dispatches to, and the helpers they
// share. Not part of the library's interface: include dnssec/denial.h.

#include <cstdint>
#include <span>
#include <string>

#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/denial.h"
#include "dnssec/verdict.h"

namespace shoal::dnssec::internal {

/// A failed proof with its reason (kNotProven, EDE 12).
Denial notProven(std::string reason);
/// A proof that held.
Denial proven();

/// Number of labels `a` and `b` share from the right, compared
/// case-insensitively ("a.b.example" and "c.b.example" share 2).
size_t commonLabels(const dns::Name& a, const dns::Name& b);
/// True if `name` lies strictly below `ancestor`.
bool isProperSubdomain(const dns::Name& name, const dns::Name& ancestor);

/// True if a bitmap is well formed (RFC 4034 section 4.1.2): window blocks
/// in strictly increasing order, each 1..32 octets, nothing left over. An
/// empty bitmap is well formed (NSEC3 of an empty non-terminal).
bool bitmapWellFormed(std::span<const uint8_t> bitmap);

/// The NODATA rules for the NSEC or NSEC3 (`bitmap`) that matches `name`,
/// described as `record` in reasons: neither `qtype` nor CNAME listed; a
/// parent-side delegation record (NS, no SOA) denies only DS; a child apex
/// (SOA) cannot deny DS.
Denial nodataFromMatch(std::span<const uint8_t> bitmap, const std::string& record,
                       const dns::Name& name, uint16_t qtype);

// NSEC (RFC 4035 section 5.4, RFC 6840 section 4): nsec.cc. `nsecs` may
// hold any RRsets; only NSEC RRsets at or below `zone` are read.
Denial nsecProveNxdomain(const dns::Name& qname, const dns::Name& zone,
                         std::span<const dns::Rrset> nsecs);
Denial nsecProveNodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                       std::span<const dns::Rrset> nsecs);
Denial nsecProveWildcardAnswer(const dns::Name& qname, const dns::Name& closest_encloser,
                               const dns::Name& zone, std::span<const dns::Rrset> nsecs);

// NSEC3 (RFC 5155 section 8, RFC 9276): nsec3.cc. Only NSEC3 RRsets exactly
// one label below `zone` are read.
Denial nsec3ProveNxdomain(const dns::Name& qname, const dns::Name& zone,
                          std::span<const dns::Rrset> nsecs, const Policy& policy,
                          Budget& budget);
Denial nsec3ProveNodata(const dns::Name& qname, uint16_t qtype, const dns::Name& zone,
                        std::span<const dns::Rrset> nsecs, const Policy& policy,
                        Budget& budget);
Denial nsec3ProveWildcardAnswer(const dns::Name& qname, const dns::Name& closest_encloser,
                                const dns::Name& zone, std::span<const dns::Rrset> nsecs,
                                const Policy& policy, Budget& budget);

}  // namespace shoal::dnssec::internal
