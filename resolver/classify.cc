#include "resolver/classify.h"

#include <algorithm>

#include "dns/constants.h"
#include "dnssec/rrsig.h"

namespace shoal::resolver {

namespace {

constexpr int kMaxLinksPerReply = 12;

std::optional<dns::Name> cnameTarget(const Rrset& cname) {
  if (cname.rdatas.size() != 1) return std::nullopt;
  auto target = dns::Name::fromUncompressed(cname.rdatas.front());
  if (!target) return std::nullopt;
  return *target;
}

/// The DNAME of the answer section that covers `name` (owned by a proper
/// ancestor), or null.
const Rrset* coveringDname(const Reply& reply, const dns::Name& name) {
  for (const auto& rrset : reply.answer) {
    if (rrset.type == dns::rrtype::kDname && name.isSubdomainOf(rrset.owner) &&
        !(name == rrset.owner)) {
      return &rrset;
    }
  }
  return nullptr;
}

/// The CNAME a DNAME makes for `name`, for a server that sent the DNAME
/// without it (RFC 6672 section 3.1 says it must; some do not).
std::optional<Rrset> synthesisedCname(const Rrset& dname, const dns::Name& name) {
  auto target = dnameTarget(dname, name);
  if (!target) return std::nullopt;
  Rrset cname;
  cname.owner = name;
  cname.type = dns::rrtype::kCname;
  cname.ttl = dname.ttl;
  cname.rdatas.emplace_back(target->wire().begin(), target->wire().end());
  return cname;
}

/// Follows the answer section from `sent.qname`: CNAMEs (with the DNAME
/// that synthesised each, RFC 6672) until the data or the end of the reply.
void followChain(const Reply& reply, const SentQuestion& sent, Classified& out) {
  dns::Name name = sent.qname;
  for (int hop = 0; hop < kMaxLinksPerReply; ++hop) {
    if (const Rrset* data = findRrset(reply.answer, name, sent.qtype)) {
      out.data = *data;
      break;
    }
    if (sent.qtype == dns::rrtype::kCname) break;
    const Rrset* dname = coveringDname(reply, name);
    std::optional<Rrset> cname;
    if (const Rrset* sent_cname = findRrset(reply.answer, name, dns::rrtype::kCname)) {
      cname = *sent_cname;
    } else if (dname != nullptr) {
      cname = synthesisedCname(*dname, name);
    }
    if (!cname) break;
    auto target = cnameTarget(*cname);
    if (!target) break;
    if (dname != nullptr) {
      out.links.push_back(*dname);
      cname->flags |= kFromDname;  // a cache hit repeats the DNAME (RFC 6672 section 3.4)
    }
    out.links.push_back(std::move(*cname));
    name = *target;
  }
  out.next_name = name;
}

/// The NS RRset of a referral: not authoritative, strictly below the zone
/// asked, on the path to the name asked. Anything else with NS (upwards,
/// sideways) is lame.
const Rrset* referralNs(const Reply& reply, const SentQuestion& sent) {
  const Rrset* ns = findType(reply.authority, dns::rrtype::kNs);
  if (ns == nullptr || reply.aa() || !ns->owner.isSubdomainOf(sent.zone) || ns->owner == sent.zone ||
      !sent.qname.isSubdomainOf(ns->owner)) {
    return nullptr;
  }
  return ns;
}

/// The in-bailiwick A/AAAA RRsets of the additional section for the names
/// in `ns` (digestReply dropped everything outside the zone asked).
std::vector<Rrset> glueFor(const Reply& reply, const Rrset& ns) {
  std::vector<Rrset> out;
  for (const auto& rd : ns.rdatas) {
    auto name = dns::Name::fromUncompressed(rd);
    if (!name) continue;
    for (uint16_t type : {dns::rrtype::kA, dns::rrtype::kAaaa}) {
      if (const Rrset* glue = findRrset(reply.additional, *name, type)) out.push_back(*glue);
    }
  }
  return out;
}

void collectAuthority(const Reply& reply, Classified& out) {
  for (const auto& rrset : reply.authority) {
    if (rrset.type == dns::rrtype::kNsec || rrset.type == dns::rrtype::kNsec3) {
      out.proofs.push_back(rrset);
    } else if (rrset.type == dns::rrtype::kSoa && !out.soa && !rrset.rdatas.empty()) {
      out.soa = rrset;
      // RFC 2308 section 5: the lesser of the SOA's TTL and its MINIMUM.
      out.negative_ttl = std::min(rrset.ttl, soaMinimum(rrset.rdatas.front()).value_or(0));
    }
  }
}

Classified classifyNoData(const Reply& reply, const SentQuestion& sent, Classified out) {
  if (reply.rcode == dns::rcode::kNxDomain) {
    out.kind = ReplyKind::kNxdomain;
    return out;
  }
  if (const Rrset* ns = referralNs(reply, sent); ns != nullptr && out.links.empty()) {
    out.kind = ReplyKind::kReferral;
    out.ns = *ns;
    if (const Rrset* ds = findRrset(reply.authority, ns->owner, dns::rrtype::kDs)) out.ds = *ds;
    out.glue = glueFor(reply, *ns);
    return out;
  }
  if (out.soa || reply.aa()) {
    out.kind = ReplyKind::kNodata;
    return out;
  }
  if (sent.forwarded && !findType(reply.authority, dns::rrtype::kNs)) {
    // An upstream resolver's NODATA without SOA (RFC 2308 section 2.2,
    // type 3), e.g. a DS denial it kept from a referral: usable for as long
    // as its proofs, if any.
    out.kind = ReplyKind::kNodata;
    for (const auto& proof : out.proofs) {
      out.negative_ttl = out.negative_ttl == 0 ? proof.ttl : std::min(out.negative_ttl, proof.ttl);
    }
    return out;
  }
  // A referral upwards or sideways, or an empty non-authoritative answer.
  out.kind = ReplyKind::kLame;
  out.why = "upward or sideways referral, or empty non-authoritative answer";
  return out;
}

}  // namespace

const char* toString(ReplyKind kind) {
  switch (kind) {
    case ReplyKind::kRetryTcp: return "retry-tcp";
    case ReplyKind::kRetryNoEdns: return "retry-without-edns";
    case ReplyKind::kServerFailure: return "server-failure";
    case ReplyKind::kLame: return "lame";
    case ReplyKind::kAnswer: return "answer";
    case ReplyKind::kChain: return "chain";
    case ReplyKind::kNxdomain: return "nxdomain";
    case ReplyKind::kNodata: return "nodata";
    case ReplyKind::kReferral: return "referral";
  }
  return "unknown";
}

Classified classifyReply(const Reply& reply, const SentQuestion& sent) {
  Classified out;
  out.authoritative = reply.aa();
  out.next_name = sent.qname;
  if (reply.tc() && !sent.tcp) {
    out.kind = ReplyKind::kRetryTcp;
    return out;
  }
  const uint16_t rcode = reply.rcode;
  if ((rcode == dns::rcode::kFormErr || rcode == dns::rcode::kNotImp) && sent.edns) {
    out.kind = ReplyKind::kRetryNoEdns;
    return out;
  }
  if (rcode == dns::rcode::kServFail) {
    out.kind = ReplyKind::kServerFailure;
    out.why = "SERVFAIL";
    return out;
  }
  if (rcode != dns::rcode::kNoError && rcode != dns::rcode::kNxDomain) {
    // REFUSED, NOTAUTH and the like: the server does not serve the zone.
    out.kind = ReplyKind::kLame;
    out.why = "refused or not authoritative";
    return out;
  }
  followChain(reply, sent, out);
  collectAuthority(reply, out);
  if (out.data) {
    out.kind = ReplyKind::kAnswer;
    if (out.data->type == dns::rrtype::kNs) out.glue = glueFor(reply, *out.data);
    return out;
  }
  if (!out.links.empty()) {
    // Also when the reply ends the chain with NXDOMAIN or NODATA: the
    // target may lie outside the zone asked (its SOA and proofs dropped by
    // the bailiwick rule), so the target is resolved on its own.
    out.kind = ReplyKind::kChain;
    return out;
  }
  return classifyNoData(reply, sent, std::move(out));
}

namespace {

void addRecords(std::vector<NegativeRecord>& out, const Rrset& rrset) {
  for (const auto& rd : rrset.rdatas) out.push_back({rrset.owner, rrset.type, rd});
  for (const auto& sig : rrset.sigs) out.push_back({rrset.owner, dns::rrtype::kRrsig, sig});
}

}  // namespace

std::vector<NegativeRecord> negativeRecords(const Classified& classified) {
  std::vector<NegativeRecord> out;
  if (classified.soa) addRecords(out, *classified.soa);
  for (const auto& proof : classified.proofs) addRecords(out, proof);
  return out;
}

std::vector<NegativeRecord> proofRecords(const Classified& classified) {
  std::vector<NegativeRecord> out;
  for (const auto& proof : classified.proofs) addRecords(out, proof);
  return out;
}

std::optional<dns::Name> dnameTarget(const Rrset& dname, const dns::Name& owner) {
  if (dname.rdatas.size() != 1 || !owner.isSubdomainOf(dname.owner) || owner == dname.owner) {
    return std::nullopt;
  }
  auto target = dns::Name::fromUncompressed(dname.rdatas.front());
  if (!target) return std::nullopt;
  dns::Name out = *target;
  const size_t extra = owner.labelCount() - dname.owner.labelCount();
  for (size_t i = extra; i-- > 0;) {
    auto longer = out.prepend(owner.label(i));
    if (!longer) return std::nullopt;  // RFC 6672 section 2.2: YXDOMAIN, no chain
    out = *longer;
  }
  return out;
}

bool expandedFromWildcard(const Rrset& rrset) {
  size_t labels = rrset.owner.labelCount();
  if (labels > 0 && rrset.owner.label(0).size() == 1 && rrset.owner.label(0)[0] == '*') --labels;
  for (const auto& sig : rrset.sigs) {
    auto parsed = dnssec::parseRrsig(sig);
    if (parsed && parsed->labels < labels) return true;
  }
  return false;
}

std::optional<dns::Name> wildcardOwner(const Rrset& rrset) {
  if (!expandedFromWildcard(rrset)) return std::nullopt;
  for (const auto& sig : rrset.sigs) {
    auto parsed = dnssec::parseRrsig(sig);
    if (!parsed || parsed->labels >= rrset.owner.labelCount()) continue;
    constexpr uint8_t kAsterisk[] = {'*'};
    auto wildcard = rrset.owner.suffix(parsed->labels).prepend(kAsterisk);
    if (wildcard) return *wildcard;
  }
  return std::nullopt;
}

}  // namespace shoal::resolver
