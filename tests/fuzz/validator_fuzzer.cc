// Fuzzes the validator's inputs (dnssec/): RRsets, RRSIGs, DNSKEYs and DS
// records as an upstream reply carries them, and the key material the
// resolver hands in. Everything here comes from the network: it must never
// be read out of bounds, crash, leak or run unbounded.
//
// Input layout (all integers big-endian; a length that runs past the end is
// cut to what is left, so every input is usable):
//
//   u16 K | K octets: key blob | u16 D | D octets: DS blob | packet
//
//   key blob  records (u16 length, DNSKEY rdata), at most kMaxCarved used
//   DS blob   records (u16 length, DS rdata), at most kMaxCarved used
//   packet    a DNS response, digested with resolver::digestReply (zone =
//             root, so no record is dropped by the bailiwick rule)
//
// Bit 0 of the packet's ID turns dnssec.sha1_signatures off (Policy).
//
// For each input:
// - parseDnskey, keyTag, parseDs, parseRrsig on every carved rdata, and
//   dsMatches for each (key, DS) pair;
// - for every RRset of every section: parseRrsig, signatureTimeValid and
//   signedData for each of its RRSIGs; verifyRrset with the carved keys,
//   zone = the signer of its first parsable RRSIG (else its owner);
//   validateDnskeys for DNSKEY RRsets, once against the carved DS set and
//   once against the carved keys as trust anchors; bitmapHasType on the
//   type bitmap of NSEC/NSEC3 rdata; base32HexDecode on NSEC3 owner labels;
// - proveNxdomain, proveNodata (for the qtype and for DS) and
//   proveWildcardAnswer for the question, and proveNodata for the DS of the
//   owner of an authority NS RRset (a referral's no-DS proof), with the
//   NSEC/NSEC3 RRsets of the authority section, zone = the signer
//   of their first RRSIG (else the authority SOA's owner, else the root);
//   the wildcard's closest encloser comes from the answer's RRSIG labels
//   field (else the qname's parent);
// - parseRrsig, parseDnskey, parseDs, keyTag, bitmapHasType and
//   base32HexDecode on the raw packet octets.
// One small dnssec::Budget is shared by the whole input, as by one client
// query, which keeps every input cheap (public-key operations and NSEC3
// hashes are the costly parts).
//
// Time is fixed at kNow (2026-12-15T00:00:00Z), inside the validity window
// of the seed corpus's signatures, so that the seeds reach the public-key
// operations. Seeds (corpus/validator/), each prefixed with the DNSKEY
// rdatas of the zone that signed it and that zone's DS rdatas, in the
// layout above:
// - replies captured from the lab (tests/lab, ECDSA P-256) with a python3
//   socket client, DO set: signed answers, NSEC and NSEC3 NXDOMAIN and
//   NODATA, wildcard answer and wildcard NODATA, empty non-terminal, DNAME,
//   CNAME chain, DNSKEY sets, referrals with DS, with an NSEC no-DS proof
//   and with NSEC3 opt-out;
// - ldns-*: small zones signed with ldns-signzone (RSASHA256 with NSEC3
//   opt-out and a salt, Ed25519 with NSEC, RSASHA1-NSEC3-SHA1 with 100
//   NSEC3 iterations, ECDSA P-384 with NSEC3), replies written with
//   dns::MessageWriter, every NSEC/NSEC3 of the zone in the authority
//   section of the negative answers, wildcard answers and referrals.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dns/constants.h"
#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/denial.h"
#include "dnssec/keys.h"
#include "dnssec/rrsig.h"
#include "dnssec/verdict.h"
#include "resolver/reply.h"

namespace {

using namespace shoal;
namespace rrtype = dns::rrtype;

constexpr int64_t kNow = 1797292800;  // 2026-12-15T00:00:00Z
constexpr size_t kMaxCarved = 16;     // keys and DS records taken from the input

/// Reads the input front to back; short reads give what is left.
struct Cursor {
  std::span<const uint8_t> rest;

  uint16_t u16() {
    if (rest.size() < 2) {
      rest = {};
      return 0;
    }
    const auto value = static_cast<uint16_t>((rest[0] << 8) | rest[1]);
    rest = rest.subspan(2);
    return value;
  }
  std::span<const uint8_t> take(size_t length) {
    const size_t n = length < rest.size() ? length : rest.size();
    const auto out = rest.first(n);
    rest = rest.subspan(n);
    return out;
  }
};

/// (u16 length, rdata) records, at most kMaxCarved.
std::vector<std::vector<uint8_t>> carveRecords(std::span<const uint8_t> blob) {
  std::vector<std::vector<uint8_t>> out;
  Cursor cursor{blob};
  while (!cursor.rest.empty() && out.size() < kMaxCarved) {
    const auto rdata = cursor.take(cursor.u16());
    out.emplace_back(rdata.begin(), rdata.end());
  }
  return out;
}

void touchRawRecords(const std::vector<std::vector<uint8_t>>& keys,
                     const std::vector<std::vector<uint8_t>>& ds) {
  for (const auto& key : keys) {
    if (auto parsed = dnssec::parseDnskey(key)) {
      if (parsed->public_key.size() > key.size()) __builtin_trap();
    }
    (void)dnssec::keyTag(key);
    (void)dnssec::parseRrsig(key);
  }
  for (const auto& record : ds) {
    if (auto parsed = dnssec::parseDs(record)) {
      if (parsed->digest.size() > record.size()) __builtin_trap();
      // Hashing each key is cheap next to a signature; bounded by kMaxCarved^2.
      for (const auto& key : keys) (void)dnssec::dsMatches(dns::Name(), key, *parsed);
    }
  }
}

/// The signer of the first parsable RRSIG of `rrset`, else its owner.
dns::Name signerOf(const dns::Rrset& rrset) {
  for (const auto& sig : rrset.sigs) {
    if (auto parsed = dnssec::parseRrsig(sig)) return parsed->signer;
  }
  return rrset.owner;
}

/// The type bitmap of an NSEC (after the next name) or NSEC3 rdata.
std::span<const uint8_t> typeBitmap(const dns::Rrset& rrset, std::span<const uint8_t> rdata) {
  if (rrset.type == rrtype::kNsec) {
    auto next = dns::Name::fromUncompressed(rdata);
    if (!next) return {};
    return rdata.subspan(next->length());
  }
  // NSEC3: hash alg, flags, iterations (2), salt length + salt, hash
  // length + next hashed owner, then the bitmap.
  Cursor cursor{rdata};
  (void)cursor.take(4);
  const auto salt_length = cursor.take(1);
  (void)cursor.take(salt_length.empty() ? 0 : salt_length[0]);
  const auto hash_length = cursor.take(1);
  (void)cursor.take(hash_length.empty() ? 0 : hash_length[0]);
  return cursor.rest;
}

void touchRrset(const dns::Rrset& rrset, std::span<const std::vector<uint8_t>> keys,
                std::span<const std::vector<uint8_t>> ds, const dnssec::Policy& policy,
                dnssec::Budget& budget) {
  for (const auto& sig : rrset.sigs) {
    if (auto parsed = dnssec::parseRrsig(sig)) {
      (void)dnssec::signatureTimeValid(*parsed, kNow);
      (void)dnssec::signedData(rrset, *parsed);
    }
  }
  const dnssec::RrsetResult result =
      dnssec::verifyRrset(rrset, signerOf(rrset), keys, kNow, policy, budget);
  // rrsig.h: a secure TTL is at most the RRset's; a wildcard's source of
  // synthesis is an ancestor of the owner.
  if (result.verdict.isSecure() && result.ttl > rrset.ttl) __builtin_trap();
  if (result.wildcard && !rrset.owner.isSubdomainOf(result.wildcard_closest_encloser)) {
    __builtin_trap();
  }
  if (rrset.type == rrtype::kDnskey) {
    (void)dnssec::validateDnskeys(rrset, ds, {}, kNow, policy, budget);
    (void)dnssec::validateDnskeys(rrset, {}, keys, kNow, policy, budget);
  }
  if (rrset.type == rrtype::kNsec || rrset.type == rrtype::kNsec3) {
    for (const auto& rdata : rrset.rdatas) {
      const auto bitmap = typeBitmap(rrset, rdata);
      for (uint16_t type : {rrtype::kA, rrtype::kNs, rrtype::kSoa, rrtype::kDs, rrtype::kCaa}) {
        (void)dnssec::bitmapHasType(bitmap, type);
      }
    }
  }
  if (rrset.type == rrtype::kNsec3 && rrset.owner.labelCount() > 0) {
    (void)dnssec::base32HexDecode(rrset.owner.label(0));
  }
}

/// The zone whose denial records these are.
dns::Name denialZone(const resolver::Reply& reply, const std::vector<dns::Rrset>& nsecs) {
  for (const auto& rrset : nsecs) {
    for (const auto& sig : rrset.sigs) {
      if (auto parsed = dnssec::parseRrsig(sig)) return parsed->signer;
    }
  }
  if (const auto* soa = resolver::findType(reply.authority, rrtype::kSoa)) return soa->owner;
  return dns::Name();
}

/// Where a wildcard answer to `qname` was expanded from: the suffix its
/// RRSIG's labels field names, if below the owner's label count.
dns::Name closestEncloser(const resolver::Reply& reply, const dns::Name& qname) {
  for (const auto& rrset : reply.answer) {
    if (!(rrset.owner == qname)) continue;
    for (const auto& sig : rrset.sigs) {
      auto parsed = dnssec::parseRrsig(sig);
      if (parsed && parsed->labels < qname.labelCount()) return qname.suffix(parsed->labels);
    }
  }
  return qname.parent();
}

void touchDenials(const resolver::Reply& reply, const dnssec::Policy& policy,
                  dnssec::Budget& budget) {
  std::vector<dns::Rrset> nsecs;
  for (const auto& rrset : reply.authority) {
    if (rrset.type == rrtype::kNsec || rrset.type == rrtype::kNsec3) nsecs.push_back(rrset);
  }
  const dns::Name qname = reply.has_question ? reply.question.name : dns::Name();
  const uint16_t qtype = reply.has_question ? reply.question.type : rrtype::kA;
  const dns::Name zone = denialZone(reply, nsecs);
  (void)dnssec::proveNxdomain(qname, zone, nsecs, policy, budget).verdict();
  (void)dnssec::proveNodata(qname, qtype, zone, nsecs, policy, budget).verdict();
  (void)dnssec::proveNodata(qname, rrtype::kDs, zone, nsecs, policy, budget);
  // A referral's proof that the child has no DS (RFC 4035 section 5.2).
  if (const auto* ns = resolver::findType(reply.authority, rrtype::kNs)) {
    (void)dnssec::proveNodata(ns->owner, rrtype::kDs, zone, nsecs, policy, budget).verdict();
  }
  (void)dnssec::proveWildcardAnswer(qname, closestEncloser(reply, qname), zone, nsecs, policy,
                                    budget)
      .verdict();
}

void touchRawPacket(std::span<const uint8_t> packet) {
  (void)dnssec::parseRrsig(packet);
  (void)dnssec::parseDnskey(packet);
  (void)dnssec::parseDs(packet);
  (void)dnssec::keyTag(packet);
  (void)dnssec::bitmapHasType(packet, rrtype::kA);
  (void)dnssec::bitmapHasType(packet, 0xFFFF);
  // Base32hex text is at most a label (63 octets) in practice; the decoder
  // must take any length.
  (void)dnssec::base32HexDecode(packet.first(packet.size() < 256 ? packet.size() : 256));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Cursor cursor{{data, size}};
  const auto keys = carveRecords(cursor.take(cursor.u16()));
  const auto ds = carveRecords(cursor.take(cursor.u16()));
  const std::span<const uint8_t> packet = cursor.rest;

  touchRawRecords(keys, ds);
  touchRawPacket(packet);

  auto reply = resolver::digestReply(packet, dns::Name());
  if (!reply) return 0;

  dnssec::Policy policy;
  policy.sha1_signatures = (reply->header.id & 1) == 0;
  dnssec::Budget budget;
  budget.verifications = 12;
  budget.nsec3_hashes = 24;

  for (const auto* section : {&reply->answer, &reply->authority, &reply->additional}) {
    for (const auto& rrset : *section) touchRrset(rrset, keys, ds, policy, budget);
  }
  touchDenials(*reply, policy, budget);
  return 0;
}
