#pragma once
// DNSSEC validation for the iterator (RFC 4033-4035, 5155, 6840): the
// chain of trust read from the cache, and the verdicts on the RRsets of one
// classified reply. Sans-I/O like the rest of resolver/: when a zone's keys
// or DS are not cached yet it says which question the iterator must
// resolve first (a DS or DNSKEY sub-task), and the iterator calls again
// when that is done.
//
// How trust flows (top down, pulled bottom up):
//   trust anchor (DS/DNSKEY of the root or any domain)
//     -> DNSKEY RRset of the anchored zone, validated against the anchor
//     -> DS of a child, signed by the parent's keys (or a proof of no DS:
//        the child is insecure)
//     -> the child's DNSKEY RRset, validated against that DS -> ...
// Every DS and DNSKEY RRset is cached with its security status like any
// other RRset, so the next query finds the chain in the shared cache.
// The signer name of each RRSIG names the zone whose keys are needed;
// unsigned data is judged by the trust of the zone it came from.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/name.h"
#include "dnssec/rrsig.h"
#include "dnssec/verdict.h"
#include "resolver/cache_format.h"
#include "resolver/classify.h"
#include "resolver/ranges.h"
#include "resolver/record_cache.h"
#include "resolver/roots.h"

namespace shoal::resolver {

struct ValidationConfig {
  /// Empty: validation is off (every answer is insecure, none is bogus).
  std::vector<TrustAnchor> anchors;
  /// Negative trust anchors (RFC 7646): these zones and everything below
  /// them are treated as insecure. (Anchors added at run time live in the
  /// shared cache: resolver/negative_anchors.h.)
  std::vector<dns::Name> negative_anchors;
  dnssec::Policy policy;
  /// Bogus data is remembered this long (RFC 4035 section 4.7).
  uint32_t bogus_ttl = 60;
};

/// A question the validator needs answered (and cached) before it can go on.
struct KeyQuestion {
  dns::Name name;
  uint16_t type = 0;  // DS or DNSKEY
};

/// The trust of a zone: its validated keys, or why there are none.
struct ZoneTrust {
  dnssec::Verdict verdict;  // secure: `keys` are valid; else insecure/bogus
  std::vector<std::vector<uint8_t>> keys;
  std::optional<KeyQuestion> need;  // set: resolve this first, verdict unset
};

/// The verdict on one RRset, with how long it may be cached.
struct RrsetVerdict {
  dnssec::Verdict verdict;
  uint32_t ttl = 0;  // secure: capped by the RRSIG; bogus: the bogus TTL
};

/// Verdicts on a classified reply: one per link, the data, the negative
/// answer; and the verdict on the whole (the worst of them).
struct ReplyVerdict {
  std::optional<KeyQuestion> need;  // set: nothing else is
  std::vector<RrsetVerdict> links;
  std::optional<RrsetVerdict> data;
  std::optional<RrsetVerdict> negative;
  dnssec::Verdict overall;
  /// The NSEC/NSEC3 records that proved a secure denial or wildcard
  /// expansion, for the ranges (RFC 8198, resolver/ranges.h).
  std::optional<ValidatedDenial> denial;
};

class Validator {
 public:
  Validator(const ValidationConfig& config, RecordCache& records);

  bool enabled() const { return !config_.anchors.empty(); }
  const dnssec::Policy& policy() const { return config_.policy; }
  uint32_t bogusTtl() const { return config_.bogus_ttl; }

  /// True when `zone`'s DNSKEY RRset will be needed and is not cached: the
  /// zone is under a trust anchor (not a negative one), and the cache holds
  /// neither its keys nor a DS status that makes it insecure or bogus.
  /// The iterator then fetches the keys while it asks the zone's servers.
  bool wantsKeys(const dns::Name& zone, int64_t now_s);

  /// The trust of `zone` as far as the cache knows it.
  ZoneTrust trustOf(const dns::Name& zone, int64_t now_s, dnssec::Budget& budget);

  /// Judges the RRsets of a reply to `sent` classified as kAnswer, kChain,
  /// kNxdomain or kNodata. `now_s` is wall-clock seconds.
  ReplyVerdict judge(const Classified& reply, const SentQuestion& sent, int64_t now_s,
                     dnssec::Budget& budget);

  /// The verdict on a referral's DS RRset (or, without one, on the proof
  /// that the child has no DS) when the parent's keys are cached; nullopt
  /// when they are not (the DS is then asked for when needed).
  std::optional<RrsetVerdict> judgeReferralDs(const Classified& referral, const SentQuestion& sent,
                                              int64_t now_s, dnssec::Budget& budget);

 private:
  /// Trust points for a zone's own DNSKEY RRset (RFC 4035 section 5.2).
  struct KeyTrust {
    dnssec::Verdict verdict;  // secure: use `ds` and `anchor_keys`
    std::vector<std::vector<uint8_t>> ds;
    std::vector<std::vector<uint8_t>> anchor_keys;
    std::optional<KeyQuestion> need;
  };
  /// One RRset judged: its verdict, or the question to resolve first.
  struct Judgement {
    RrsetVerdict result;
    std::optional<KeyQuestion> need;
    dns::Name signer;
    std::optional<dns::Name> wildcard_ce;  // secure, expanded from a wildcard
    std::optional<ValidatedDenial> denial;  // judgeNegative: a secure proof
  };

  /// The closest anchor at or above `name`, or null.
  const dns::Name* anchorFor(const dns::Name& name) const;
  /// Under a negative trust anchor of the configuration or, in the shared
  /// cache, one added at run time (resolver/negative_anchors.h).
  bool underNegativeAnchor(const dns::Name& name, int64_t now_s) const;
  /// A DS cached unvalidated (from a referral) is validated here.
  KeyTrust keyTrust(const dns::Name& zone, int64_t now_s, dnssec::Budget& budget);
  /// `forwarded`: the RRset came from a forwarder asked about `zone_asked`,
  /// so unsigned data is judged by the zone it is really in (trustDown).
  Judgement judgeRrset(const Rrset& rrset, const dns::Name& zone_asked, int64_t now_s,
                       dnssec::Budget& budget, bool forwarded = false);
  /// Judges every proof RRset; the secure ones land in `secure_proofs`.
  Judgement judgeProofs(const std::vector<Rrset>& proofs, const dns::Name& zone_asked,
                        int64_t now_s, dnssec::Budget& budget, std::vector<Rrset>& secure_proofs,
                        bool forwarded = false);
  /// The trust of the zone `name` is in, somewhere at or below `top`, when
  /// no referral said where the cuts are (an answer from a forwarder): the
  /// DS of each name from `top` down to `name` (RFC 4035 section 5.2),
  /// asked for one by one as `need`. Insecure at the first proven insecure
  /// delegation; secure (with `zone`, the deepest signed cut) when every
  /// name is a signed cut or no cut at all. Not zone keys: only whether
  /// data there must be signed.
  struct CutTrust {
    dnssec::Verdict verdict;
    dns::Name zone;
    std::optional<KeyQuestion> need;
  };
  CutTrust trustDown(const dns::Name& top, const dns::Name& name, int64_t now_s,
                     dnssec::Budget& budget);
  Judgement judgeNegative(const Classified& reply, const SentQuestion& sent, int64_t now_s,
                          dnssec::Budget& budget);
  RrsetVerdict bogus(uint16_t ede, std::string why) const;

  const ValidationConfig& config_;
  RecordCache& records_;
  dnssec::KeyCache key_cache_;  // this worker's decoded public keys
};

/// The verdict a cached entry's status stands for.
dnssec::Verdict cachedVerdict(const EntryStatus& status);

/// Worst of two verdicts: bogus over insecure over secure; the first
/// bogus (or insecure) keeps its reason.
dnssec::Verdict worst(const dnssec::Verdict& a, const dnssec::Verdict& b);

}  // namespace shoal::resolver
