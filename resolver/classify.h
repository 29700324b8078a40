#pragma once
// The reply classifier: what one upstream reply means for the question it
// answers, with the RRsets to validate and cache. Pure: no cache, no
// server state, no task; unit-testable alone (tests/unit/resolver/
// classify_test.cc). The iterator acts on the result; validation sits
// between classifying and caching.

#include <cstdint>
#include <optional>
#include <vector>

#include "dns/name.h"
#include "resolver/cache_format.h"
#include "resolver/reply.h"

namespace shoal::resolver {

enum class ReplyKind : uint8_t {
  kRetryTcp,      // TC over UDP: ask the same server over TCP
  kRetryNoEdns,   // FORMERR/NOTIMP to an EDNS query (RFC 6891 section 7)
  kServerFailure, // SERVFAIL: next server, no lame mark (often passing)
  kLame,          // REFUSED and the like, upward/sideways referral, empty non-authoritative
  kAnswer,        // the data asked for (after the chain in `links`)
  kChain,         // a CNAME/DNAME chain that leaves the reply at `next_name`
  kNxdomain,      // the name (at the end of `links`) does not exist
  kNodata,        // the name exists without data of the type
  kReferral,      // a delegation to `ns`, strictly below the zone asked
};
const char* toString(ReplyKind kind);

/// What the question was: the name and type sent, the zone (cut) of the
/// server asked, and how it was asked.
struct SentQuestion {
  dns::Name qname;
  uint16_t qtype = 0;
  dns::Name zone;
  bool tcp = false;
  bool edns = true;
  /// Sent to a forward zone's upstream resolver: the answer may come from
  /// any zone at or below `zone` (the validator finds which).
  bool forwarded = false;
};

struct Classified {
  ReplyKind kind = ReplyKind::kLame;
  bool authoritative = false;  // AA: answer data ranks kAuthoritativeAnswer
  /// The CNAME/DNAME links followed from qname, in order; a CNAME that
  /// follows a DNAME is flagged kFromDname (RFC 6672 section 3.4).
  std::vector<Rrset> links;
  std::optional<Rrset> data;  // kAnswer
  dns::Name next_name;        // where the chain ends (qname when no links)
  /// kNxdomain, kNodata: the SOA; every kind: NSEC/NSEC3 RRsets of the
  /// authority section (negative proofs, wildcard proofs, no-DS proofs).
  std::optional<Rrset> soa;
  std::vector<Rrset> proofs;
  uint32_t negative_ttl = 0;  // min(SOA TTL, SOA MINIMUM), RFC 2308 section 5
  /// kReferral: the NS set, its DS (if any) and the glue of its names;
  /// kAnswer for NS: the glue of the answer's names.
  std::optional<Rrset> ns;
  std::optional<Rrset> ds;
  std::vector<Rrset> glue;
  const char* why = "";  // kLame, kServerFailure: for logs
};

/// Classifies `reply` to `sent`. The caller has checked that the reply
/// answers exactly the question sent (ID, question).
Classified classifyReply(const Reply& reply, const SentQuestion& sent);

/// Negative-answer records as cached: the SOA and the proofs with their
/// RRSIGs (cache_format.h).
std::vector<NegativeRecord> negativeRecords(const Classified& classified);
/// The proofs alone (NSEC/NSEC3 with their RRSIGs), as records.
std::vector<NegativeRecord> proofRecords(const Classified& classified);

/// The target a DNAME makes of `owner`, a name below the DNAME's owner
/// (RFC 6672 section 2.2); nullopt when it does not apply or is too long.
std::optional<dns::Name> dnameTarget(const Rrset& dname, const dns::Name& owner);

/// True if an RRSIG of `rrset` says it was synthesised from a wildcard
/// (its labels field below the owner's label count, RFC 4035 5.3.4).
bool expandedFromWildcard(const Rrset& rrset);
/// The wildcard ("*.<closest encloser>") an expanded RRset came from.
std::optional<dns::Name> wildcardOwner(const Rrset& rrset);

}  // namespace shoal::resolver
