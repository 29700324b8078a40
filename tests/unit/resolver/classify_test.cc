// classifyReply alone (resolver/classify.h): every ReplyKind, from real wire
// packets. Each reply is written with dns::MessageWriter from zone-file text
// (dns/zone_text.h), digested by digestReply with the zone of the server
// asked, then classified against the question sent.

#include "resolver/classify.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "dns/zone_text.h"
#include "resolver/reply.h"

namespace shoal::resolver {
namespace {

namespace rrtype = dns::rrtype;
namespace rcode = dns::rcode;
namespace flag = dns::flag;

dns::Name name(std::string_view text) {
  auto n = dns::Name::fromText(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : dns::Name();
}

/// One upstream reply: header, question and the records of each section as
/// zone-file text (absolute names, one record a line).
struct ReplySpec {
  std::string qname = {};
  uint16_t qtype = rrtype::kA;
  uint16_t flags = flag::kQr;
  uint16_t rcode = rcode::kNoError;
  bool edns = false;
  std::string answer = {};
  std::string authority = {};
  std::string additional = {};
};

/// `spec` as a wire packet, with names compressed by the writer.
std::vector<uint8_t> wire(const ReplySpec& spec) {
  std::array<uint8_t, 4096> buffer{};
  dns::MessageWriter writer(buffer, buffer.size());
  writer.setId(0x5151);
  writer.setFlags(spec.flags);
  writer.setRcode(spec.rcode);
  EXPECT_TRUE(writer.addQuestion(name(spec.qname), spec.qtype, dns::rrclass::kIn).ok());
  const dns::EdnsOut edns{};
  if (spec.edns) {
    EXPECT_TRUE(writer.setEdns(edns).ok());
  }
  const std::pair<dns::Section, const std::string*> sections[] = {
      {dns::Section::kAnswer, &spec.answer},
      {dns::Section::kAuthority, &spec.authority},
      {dns::Section::kAdditional, &spec.additional}};
  for (const auto& [section, text] : sections) {
    const auto parsed = dns::parseRecords(*text);
    EXPECT_TRUE(parsed.ok()) << parsed.error << "\n" << *text;
    for (const auto& rr : parsed.records) {
      EXPECT_TRUE(writer.addRr(section, rr.owner, rr.type, rr.rrclass, rr.ttl, rr.rdata).ok())
          << dns::recordToText(rr);
    }
  }
  const size_t length = writer.finish();
  return {buffer.begin(), buffer.begin() + static_cast<long>(length)};
}

/// `spec` on the wire, digested as from a server of `zone`.
Reply digest(const ReplySpec& spec, std::string_view zone) {
  const std::vector<uint8_t> packet = wire(spec);
  auto reply = digestReply(packet, name(zone));
  EXPECT_TRUE(reply.ok()) << dns::toString(reply.error());
  return reply.ok() ? *reply : Reply{};
}

SentQuestion sent(std::string_view qname, uint16_t qtype, std::string_view zone) {
  SentQuestion q;
  q.qname = name(qname);
  q.qtype = qtype;
  q.zone = name(zone);
  return q;
}

Classified classify(const ReplySpec& spec, std::string_view zone, bool tcp = false,
                    bool edns = true) {
  SentQuestion q = sent(spec.qname, spec.qtype, zone);
  q.tcp = tcp;
  q.edns = edns;
  return classifyReply(digest(spec, zone), q);
}

/// The uncompressed wire form of a name, as it appears in NS/CNAME rdata.
std::vector<uint8_t> nameRdata(std::string_view text) {
  const dns::Name n = name(text);
  return {n.wire().begin(), n.wire().end()};
}

/// Names of the RRsets, "owner/type" each, in order (failure messages).
std::vector<std::string> names(const std::vector<Rrset>& rrsets) {
  std::vector<std::string> out;
  for (const auto& r : rrsets) out.push_back(r.owner.toText() + "/" + std::to_string(r.type));
  return out;
}

// A signature octet string; the classifier never verifies it.
constexpr std::string_view kSig = "c2lnbmF0dXJl";

std::string rrsig(std::string_view owner, std::string_view covered, int labels,
                  std::string_view signer) {
  return std::string(owner) + " 3600 IN RRSIG " + std::string(covered) + " 13 " +
         std::to_string(labels) + " 3600 20300101000000 20200101000000 4711 " +
         std::string(signer) + " " + std::string(kSig) + "\n";
}

const std::string kExampleSoa =
    "example. 3600 IN SOA ns1.example. hostmaster.example. 1 7200 900 1209600 300\n";

// ---------------------------------------------------------------------------
// Transport and rcode verdicts.

TEST(ClassifyTest, TruncatedOverUdpRetriesOverTcp) {
  ReplySpec spec{.qname = "www.example.", .flags = flag::kQr | flag::kAa | flag::kTc};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kRetryTcp) << toString(c.kind);
}

TEST(ClassifyTest, TruncatedOverTcpIsNotARetry) {
  ReplySpec spec{.qname = "www.example.",
                 .flags = flag::kQr | flag::kAa | flag::kTc,
                 .answer = "www.example. 300 IN A 192.0.2.1\n"};
  const Classified c = classify(spec, "example.", /*tcp=*/true);
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  ASSERT_TRUE(c.data.has_value());
  EXPECT_EQ(c.data->rdatas.size(), 1u);
}

TEST(ClassifyTest, FormerrAndNotimpToAnEdnsQueryRetryWithoutEdns) {
  for (uint16_t rc : {rcode::kFormErr, rcode::kNotImp}) {
    ReplySpec spec{.qname = "www.example.", .rcode = rc};
    const Classified c = classify(spec, "example.", /*tcp=*/false, /*edns=*/true);
    EXPECT_EQ(c.kind, ReplyKind::kRetryNoEdns) << "rcode " << rc << ": " << toString(c.kind);
  }
}

TEST(ClassifyTest, FormerrAndNotimpWithoutEdnsAreLame) {
  for (uint16_t rc : {rcode::kFormErr, rcode::kNotImp}) {
    ReplySpec spec{.qname = "www.example.", .rcode = rc};
    const Classified c = classify(spec, "example.", /*tcp=*/false, /*edns=*/false);
    EXPECT_EQ(c.kind, ReplyKind::kLame) << "rcode " << rc << ": " << toString(c.kind);
    EXPECT_STRNE(c.why, "");
  }
}

TEST(ClassifyTest, ServfailIsAServerFailureNotLame) {
  ReplySpec spec{.qname = "www.example.", .rcode = rcode::kServFail, .edns = true};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kServerFailure) << toString(c.kind);
  EXPECT_STRNE(c.why, "");
}

TEST(ClassifyTest, RefusedAndNotauthAreLame) {
  constexpr uint16_t kNotAuth = 9;  // RFC 2136 section 2.2
  for (uint16_t rc : {rcode::kRefused, kNotAuth}) {
    ReplySpec spec{.qname = "www.example.", .rcode = rc};
    const Classified c = classify(spec, "example.");
    EXPECT_EQ(c.kind, ReplyKind::kLame) << "rcode " << rc << ": " << toString(c.kind);
    EXPECT_STRNE(c.why, "");
  }
}

// ---------------------------------------------------------------------------
// Answers and chains.

TEST(ClassifyTest, AuthoritativeAnswer) {
  ReplySpec spec{.qname = "www.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "www.example. 300 IN A 192.0.2.1\n"
                           "www.example. 200 IN A 192.0.2.2\n" +
                           rrsig("www.example.", "A", 2, "example.")};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  EXPECT_TRUE(c.authoritative);
  EXPECT_TRUE(c.links.empty());
  EXPECT_EQ(c.next_name, name("www.example."));
  ASSERT_TRUE(c.data.has_value());
  EXPECT_EQ(c.data->owner, name("www.example."));
  EXPECT_EQ(c.data->type, rrtype::kA);
  EXPECT_EQ(c.data->ttl, 200u);  // the RRset's minimum
  EXPECT_EQ(c.data->rdatas.size(), 2u);
  EXPECT_EQ(c.data->sigs.size(), 1u);
  EXPECT_TRUE(c.glue.empty());
}

TEST(ClassifyTest, NonAuthoritativeAnswerIsStillAnAnswer) {
  ReplySpec spec{.qname = "www.example.", .answer = "www.example. 300 IN A 192.0.2.1\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  EXPECT_FALSE(c.authoritative);
}

TEST(ClassifyTest, NsAnswerGetsItsInBailiwickGlue) {
  ReplySpec spec{.qname = "example.",
                 .qtype = rrtype::kNs,
                 .flags = flag::kQr | flag::kAa,
                 .answer = "example. 3600 IN NS ns1.example.\n"
                           "example. 3600 IN NS ns.other.\n",
                 .additional = "ns1.example. 3600 IN A 192.0.2.53\n"
                               "ns1.example. 3600 IN AAAA 2001:db8::53\n"
                               "ns.other. 3600 IN A 198.51.100.53\n"
                               "unrelated.example. 3600 IN A 192.0.2.99\n"};
  const Reply reply = digest(spec, "example.");
  EXPECT_EQ(reply.out_of_zone, 1u);  // ns.other.'s address
  const Classified c = classifyReply(reply, sent("example.", rrtype::kNs, "example."));
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  ASSERT_TRUE(c.data.has_value());
  EXPECT_EQ(c.data->rdatas.size(), 2u);
  ASSERT_EQ(c.glue.size(), 2u) << testing::PrintToString(names(c.glue));
  EXPECT_EQ(c.glue[0].owner, name("ns1.example."));
  EXPECT_EQ(c.glue[0].type, rrtype::kA);
  EXPECT_EQ(c.glue[1].owner, name("ns1.example."));
  EXPECT_EQ(c.glue[1].type, rrtype::kAaaa);
}

TEST(ClassifyTest, CnameChainInsideTheReplyEndsInData) {
  ReplySpec spec{.qname = "a.example.",
                 .flags = flag::kQr | flag::kAa,
                 // Out of order on purpose: the chain is followed by name.
                 .answer = "c.example. 300 IN A 192.0.2.3\n"
                           "b.example. 300 IN CNAME c.example.\n"
                           "a.example. 300 IN CNAME b.example.\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  ASSERT_EQ(c.links.size(), 2u) << testing::PrintToString(names(c.links));
  EXPECT_EQ(c.links[0].owner, name("a.example."));
  EXPECT_EQ(c.links[1].owner, name("b.example."));
  for (const auto& link : c.links) {
    EXPECT_EQ(link.type, rrtype::kCname);
    EXPECT_EQ(link.flags & kFromDname, 0);
  }
  ASSERT_TRUE(c.data.has_value());
  EXPECT_EQ(c.data->owner, name("c.example."));
  EXPECT_EQ(c.next_name, name("c.example."));
}

TEST(ClassifyTest, CnameQuestionGetsTheCnameAsData) {
  ReplySpec spec{.qname = "a.example.",
                 .qtype = rrtype::kCname,
                 .flags = flag::kQr | flag::kAa,
                 .answer = "a.example. 300 IN CNAME b.example.\n"
                           "b.example. 300 IN CNAME c.example.\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  EXPECT_TRUE(c.links.empty());
  ASSERT_TRUE(c.data.has_value());
  EXPECT_EQ(c.data->type, rrtype::kCname);
}

TEST(ClassifyTest, ChainLeavingTheReplyIsAChain) {
  ReplySpec spec{.qname = "a.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "a.example. 300 IN CNAME b.example.\n"
                           "b.example. 300 IN CNAME www.other.\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kChain) << toString(c.kind);
  ASSERT_EQ(c.links.size(), 2u) << testing::PrintToString(names(c.links));
  EXPECT_EQ(c.links[0].owner, name("a.example."));
  EXPECT_EQ(c.links[1].owner, name("b.example."));
  EXPECT_EQ(c.next_name, name("www.other."));
  EXPECT_FALSE(c.data.has_value());
}

TEST(ClassifyTest, ChainTargetDataOutOfBailiwickIsDroppedAndResolvedOnItsOwn) {
  // The server of example. also sends the target's data from other.: the
  // bailiwick rule drops it, the chain leaves the reply.
  ReplySpec spec{.qname = "a.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "a.example. 300 IN CNAME www.other.\n"
                           "www.other. 300 IN A 203.0.113.66\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kChain) << toString(c.kind);
  EXPECT_EQ(c.next_name, name("www.other."));
  EXPECT_FALSE(c.data.has_value());
}

TEST(ClassifyTest, DnameWithSynthesisedCname) {
  ReplySpec spec{.qname = "www.old.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "old.example. 3600 IN DNAME new.example.\n" +
                           rrsig("old.example.", "DNAME", 2, "example.") +
                           "www.old.example. 3600 IN CNAME www.new.example.\n"
                           "www.new.example. 300 IN A 192.0.2.7\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  ASSERT_EQ(c.links.size(), 2u) << testing::PrintToString(names(c.links));
  EXPECT_EQ(c.links[0].type, rrtype::kDname);
  EXPECT_EQ(c.links[0].owner, name("old.example."));
  EXPECT_EQ(c.links[0].flags & kFromDname, 0);
  EXPECT_EQ(c.links[0].sigs.size(), 1u);
  EXPECT_EQ(c.links[1].type, rrtype::kCname);
  EXPECT_EQ(c.links[1].owner, name("www.old.example."));
  EXPECT_EQ(c.links[1].flags & kFromDname, kFromDname);
  ASSERT_TRUE(c.data.has_value());
  EXPECT_EQ(c.data->owner, name("www.new.example."));
}

TEST(ClassifyTest, DnameWithoutItsCnameGetsOneSynthesised) {
  // RFC 6672 section 3.1: the server should send the CNAME; some do not.
  ReplySpec spec{.qname = "www.old.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "old.example. 3600 IN DNAME new.example.\n"
                           "www.new.example. 300 IN A 192.0.2.7\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  ASSERT_EQ(c.links.size(), 2u) << testing::PrintToString(names(c.links));
  EXPECT_EQ(c.links[0].type, rrtype::kDname);
  EXPECT_EQ(c.links[1].type, rrtype::kCname);
  EXPECT_EQ(c.links[1].owner, name("www.old.example."));
  EXPECT_EQ(c.links[1].flags & kFromDname, kFromDname);
  EXPECT_EQ(c.links[1].ttl, 3600u);
  ASSERT_EQ(c.links[1].rdatas.size(), 1u);
  EXPECT_EQ(*dns::Name::fromUncompressed(c.links[1].rdatas[0]), name("www.new.example."));
  ASSERT_TRUE(c.data.has_value());
  EXPECT_EQ(c.data->owner, name("www.new.example."));
}

TEST(ClassifyTest, DnameThenPlainCnameFlagsOnlyTheSynthesisedOne) {
  ReplySpec spec{.qname = "www.old.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "old.example. 3600 IN DNAME new.example.\n"
                           "www.old.example. 3600 IN CNAME www.new.example.\n"
                           "www.new.example. 300 IN CNAME host.example.\n"
                           "host.example. 300 IN A 192.0.2.8\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  ASSERT_EQ(c.links.size(), 3u) << testing::PrintToString(names(c.links));
  EXPECT_EQ(c.links[0].type, rrtype::kDname);
  EXPECT_EQ(c.links[1].flags & kFromDname, kFromDname);
  EXPECT_EQ(c.links[2].owner, name("www.new.example."));
  EXPECT_EQ(c.links[2].flags & kFromDname, 0);
}

// A chain that passes the same DNAME twice: each synthesised CNAME follows
// its DNAME and is flagged, so that the validator checks it against the
// DNAME (RFC 6672 section 5.3.3) instead of calling it unsigned data.
TEST(ClassifyTest, SecondCnameFromTheSameDnameIsFlagged) {
  ReplySpec spec{.qname = "x.old.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "old.example. 3600 IN DNAME new.example.\n"
                           "x.old.example. 3600 IN CNAME x.new.example.\n"
                           "x.new.example. 300 IN CNAME y.old.example.\n"
                           "y.old.example. 3600 IN CNAME y.new.example.\n"
                           "y.new.example. 300 IN A 192.0.2.9\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kAnswer) << toString(c.kind);
  bool flagged = false;
  for (const auto& link : c.links) {
    if (link.type == rrtype::kCname && link.owner == name("y.old.example.")) {
      flagged = (link.flags & kFromDname) != 0;
    }
  }
  EXPECT_TRUE(flagged) << testing::PrintToString(names(c.links));
}

TEST(ClassifyTest, ChainEndingInNxdomainIsAChain) {
  // Documented choice (classify.cc): the reply's NXDOMAIN is about the
  // chain's target, which may lie in another zone whose SOA and proofs the
  // bailiwick rule dropped; the target is resolved on its own.
  ReplySpec spec{.qname = "a.example.",
                 .flags = flag::kQr | flag::kAa,
                 .rcode = rcode::kNxDomain,
                 .answer = "a.example. 300 IN CNAME gone.example.\n",
                 .authority = kExampleSoa};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kChain) << toString(c.kind);
  ASSERT_EQ(c.links.size(), 1u);
  EXPECT_EQ(c.next_name, name("gone.example."));
  EXPECT_TRUE(c.soa.has_value());  // the authority section is still collected
}

TEST(ClassifyTest, ChainEndingInNodataIsAChain) {
  ReplySpec spec{.qname = "a.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "a.example. 300 IN CNAME b.example.\n",
                 .authority = kExampleSoa};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kChain) << toString(c.kind);
  EXPECT_EQ(c.next_name, name("b.example."));
}

TEST(ClassifyTest, CnameLoopEndsAsAChain) {
  ReplySpec spec{.qname = "a.example.",
                 .flags = flag::kQr | flag::kAa,
                 .answer = "a.example. 300 IN CNAME b.example.\n"
                           "b.example. 300 IN CNAME a.example.\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kChain) << toString(c.kind);
  EXPECT_FALSE(c.data.has_value());
  EXPECT_FALSE(c.links.empty());
  EXPECT_LE(c.links.size(), 12u);  // bounded hops per reply
}

// ---------------------------------------------------------------------------
// Negative answers.

TEST(ClassifyTest, NxdomainWithSoaAndNsecProofs) {
  ReplySpec spec{.qname = "nope.example.",
                 .flags = flag::kQr | flag::kAa,
                 .rcode = rcode::kNxDomain,
                 .edns = true,
                 .authority = kExampleSoa + rrsig("example.", "SOA", 1, "example.") +
                              "mail.example. 300 IN NSEC www.example. A RRSIG NSEC\n" +
                              rrsig("mail.example.", "NSEC", 2, "example.") +
                              "example. 300 IN NSEC a.example. SOA NS RRSIG NSEC DNSKEY\n" +
                              rrsig("example.", "NSEC", 1, "example.")};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kNxdomain) << toString(c.kind);
  EXPECT_TRUE(c.authoritative);
  EXPECT_EQ(c.next_name, name("nope.example."));
  ASSERT_TRUE(c.soa.has_value());
  EXPECT_EQ(c.soa->owner, name("example."));
  EXPECT_EQ(c.soa->sigs.size(), 1u);
  ASSERT_EQ(c.proofs.size(), 2u) << testing::PrintToString(names(c.proofs));
  EXPECT_EQ(c.proofs[0].owner, name("mail.example."));
  EXPECT_EQ(c.proofs[1].owner, name("example."));
  for (const auto& proof : c.proofs) {
    EXPECT_EQ(proof.type, rrtype::kNsec);
    EXPECT_EQ(proof.sigs.size(), 1u) << proof.owner.toText();
  }
  // SOA TTL 3600, MINIMUM 300.
  EXPECT_EQ(c.negative_ttl, 300u);
}

TEST(ClassifyTest, NegativeTtlIsTheSoaTtlWhenBelowMinimum) {
  ReplySpec spec{.qname = "nope.example.",
                 .flags = flag::kQr | flag::kAa,
                 .rcode = rcode::kNxDomain,
                 .authority = "example. 60 IN SOA ns1.example. h.example. 1 7200 900 1209600 900\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kNxdomain) << toString(c.kind);
  EXPECT_EQ(c.negative_ttl, 60u);
}

TEST(ClassifyTest, NxdomainWithNsec3Proofs) {
  ReplySpec spec{
      .qname = "nope.example.",
      .flags = flag::kQr | flag::kAa,
      .rcode = rcode::kNxDomain,
      .authority = kExampleSoa +
                   "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 300 IN NSEC3 1 0 0 - "
                   "2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG\n" +
                   rrsig("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.", "NSEC3", 2, "example.")};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kNxdomain) << toString(c.kind);
  ASSERT_EQ(c.proofs.size(), 1u);
  EXPECT_EQ(c.proofs[0].type, rrtype::kNsec3);
  EXPECT_EQ(c.proofs[0].sigs.size(), 1u);
}

TEST(ClassifyTest, NodataWithSoa) {
  ReplySpec spec{.qname = "www.example.",
                 .qtype = rrtype::kAaaa,
                 .flags = flag::kQr | flag::kAa,
                 .authority = kExampleSoa +
                              "www.example. 300 IN NSEC zz.example. A RRSIG NSEC\n" +
                              rrsig("www.example.", "NSEC", 2, "example.")};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kNodata) << toString(c.kind);
  ASSERT_TRUE(c.soa.has_value());
  EXPECT_EQ(c.negative_ttl, 300u);
  ASSERT_EQ(c.proofs.size(), 1u);
  EXPECT_FALSE(c.ns.has_value());
}

TEST(ClassifyTest, NonAuthoritativeNodataWithSoaIsNodata) {
  ReplySpec spec{.qname = "www.example.", .qtype = rrtype::kAaaa, .authority = kExampleSoa};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kNodata) << toString(c.kind);
  EXPECT_FALSE(c.authoritative);
}

TEST(ClassifyTest, AuthoritativeNodataWithoutSoaIsNodata) {
  ReplySpec spec{.qname = "www.example.", .qtype = rrtype::kAaaa, .flags = flag::kQr | flag::kAa};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kNodata) << toString(c.kind);
  EXPECT_FALSE(c.soa.has_value());
  EXPECT_EQ(c.negative_ttl, 0u);
}

TEST(ClassifyTest, AnUpstreamResolversNodataWithoutSoaIsNodataForItsProofsTtl) {
  // RFC 2308 section 2.2, type 3: no SOA, no NS. From an authoritative
  // server that is not AA it is lame; from a forwarder (not AA by nature)
  // it is NODATA, kept for as long as its proofs.
  ReplySpec spec{.qname = "child.example.",
                 .qtype = rrtype::kDs,
                 .flags = flag::kQr | flag::kRa,
                 .authority = "child.example. 900 IN NSEC zz.example. NS RRSIG NSEC\n" +
                              rrsig("child.example.", "NSEC", 2, "example.")};
  EXPECT_EQ(classify(spec, ".").kind, ReplyKind::kLame);
  SentQuestion q = sent(spec.qname, spec.qtype, ".");
  q.forwarded = true;
  const Classified c = classifyReply(digest(spec, "."), q);
  EXPECT_EQ(c.kind, ReplyKind::kNodata) << toString(c.kind);
  EXPECT_FALSE(c.soa.has_value());
  EXPECT_EQ(c.negative_ttl, 900u);
  EXPECT_EQ(c.proofs.size(), 1u);
  // A forwarder's NS in the authority section is still no NODATA.
  spec.authority = "child.example. 900 IN NS ns.child.example.\n";
  EXPECT_NE(classifyReply(digest(spec, "."), q).kind, ReplyKind::kNodata);
}

TEST(ClassifyTest, NegativeRecordsPutTheSoaFirstAndRrsigsAfterTheirRecords) {
  // The NSEC records come before the SOA in the packet.
  ReplySpec spec{.qname = "nope.example.",
                 .flags = flag::kQr | flag::kAa,
                 .rcode = rcode::kNxDomain,
                 .authority = "mail.example. 300 IN NSEC www.example. A RRSIG NSEC\n" +
                              rrsig("mail.example.", "NSEC", 2, "example.") +
                              "example. 300 IN NSEC a.example. SOA NS RRSIG NSEC DNSKEY\n" +
                              rrsig("example.", "NSEC", 1, "example.") + kExampleSoa +
                              rrsig("example.", "SOA", 1, "example.")};
  const Classified c = classify(spec, "example.");
  ASSERT_EQ(c.kind, ReplyKind::kNxdomain) << toString(c.kind);
  const std::vector<NegativeRecord> records = negativeRecords(c);
  struct Expected {
    const char* owner;
    uint16_t type;
  };
  const Expected expected[] = {{"example.", rrtype::kSoa},       {"example.", rrtype::kRrsig},
                               {"mail.example.", rrtype::kNsec}, {"mail.example.", rrtype::kRrsig},
                               {"example.", rrtype::kNsec},      {"example.", rrtype::kRrsig}};
  ASSERT_EQ(records.size(), std::size(expected));
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].owner, name(expected[i].owner)) << i;
    EXPECT_EQ(records[i].type, expected[i].type) << i;
  }
  // Each RRSIG is the one that covers the record before it.
  for (size_t i = 1; i < records.size(); i += 2) {
    ASSERT_GE(records[i].rdata.size(), 2u);
    const auto covered = static_cast<uint16_t>((records[i].rdata[0] << 8) | records[i].rdata[1]);
    EXPECT_EQ(covered, records[i - 1].type) << i;
  }
  EXPECT_EQ(records[0].rdata, c.soa->rdatas.front());
}

TEST(ClassifyTest, NegativeRecordsOfAnAnswerAreEmpty) {
  ReplySpec spec{.qname = "www.example.", .answer = "www.example. 300 IN A 192.0.2.1\n"};
  EXPECT_TRUE(negativeRecords(classify(spec, "example.")).empty());
}

// ---------------------------------------------------------------------------
// Referrals and lame replies.

TEST(ClassifyTest, ReferralWithDsAndInBailiwickGlue) {
  ReplySpec spec{.qname = "www.sub.example.",
                 .authority = "sub.example. 3600 IN NS ns1.sub.example.\n"
                              "sub.example. 3600 IN NS ns2.example.\n"
                              "sub.example. 3600 IN NS ns.other.\n"
                              "sub.example. 3600 IN DS 4711 13 2 "
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" +
                              rrsig("sub.example.", "DS", 2, "example."),
                 .additional = "ns1.sub.example. 3600 IN A 192.0.2.11\n"
                               "ns2.example. 3600 IN AAAA 2001:db8::12\n"
                               "ns.other. 3600 IN A 198.51.100.13\n"
                               "ns.other. 3600 IN AAAA 2001:db8:ffff::13\n"};
  const Reply reply = digest(spec, "example.");
  EXPECT_EQ(reply.out_of_zone, 2u);  // ns.other.'s A and AAAA
  const Classified c = classifyReply(reply, sent("www.sub.example.", rrtype::kA, "example."));
  EXPECT_EQ(c.kind, ReplyKind::kReferral) << toString(c.kind);
  EXPECT_FALSE(c.authoritative);
  ASSERT_TRUE(c.ns.has_value());
  EXPECT_EQ(c.ns->owner, name("sub.example."));
  EXPECT_EQ(c.ns->rdatas.size(), 3u);
  EXPECT_EQ(c.ns->rdatas[0], nameRdata("ns1.sub.example."));
  ASSERT_TRUE(c.ds.has_value());
  EXPECT_EQ(c.ds->owner, name("sub.example."));
  EXPECT_EQ(c.ds->sigs.size(), 1u);
  ASSERT_EQ(c.glue.size(), 2u) << testing::PrintToString(names(c.glue));
  EXPECT_EQ(c.glue[0].owner, name("ns1.sub.example."));
  EXPECT_EQ(c.glue[0].type, rrtype::kA);
  EXPECT_EQ(c.glue[1].owner, name("ns2.example."));
  EXPECT_EQ(c.glue[1].type, rrtype::kAaaa);
  EXPECT_TRUE(c.proofs.empty());
  EXPECT_FALSE(c.soa.has_value());
}

TEST(ClassifyTest, ReferralFromTheRoot) {
  ReplySpec spec{.qname = "www.example.",
                 .authority = "example. 172800 IN NS a.nic.example.\n",
                 .additional = "a.nic.example. 172800 IN A 192.0.2.1\n"};
  const Classified c = classify(spec, ".");
  EXPECT_EQ(c.kind, ReplyKind::kReferral) << toString(c.kind);
  ASSERT_TRUE(c.ns.has_value());
  EXPECT_EQ(c.ns->owner, name("example."));
  EXPECT_FALSE(c.ds.has_value());
  ASSERT_EQ(c.glue.size(), 1u);
}

TEST(ClassifyTest, ReferralWithNsecProofOfNoDs) {
  ReplySpec spec{.qname = "www.sub.example.",
                 .authority = "sub.example. 3600 IN NS ns1.sub.example.\n"
                              "sub.example. 300 IN NSEC zz.example. NS RRSIG NSEC\n" +
                              rrsig("sub.example.", "NSEC", 2, "example."),
                 .additional = "ns1.sub.example. 3600 IN A 192.0.2.11\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kReferral) << toString(c.kind);
  EXPECT_FALSE(c.ds.has_value());
  ASSERT_EQ(c.proofs.size(), 1u);
  EXPECT_EQ(c.proofs[0].owner, name("sub.example."));
  EXPECT_EQ(c.proofs[0].type, rrtype::kNsec);
  EXPECT_EQ(c.proofs[0].sigs.size(), 1u);
  EXPECT_EQ(c.glue.size(), 1u);
}

TEST(ClassifyTest, ReferralToTheZoneItselfIsLame) {
  ReplySpec spec{.qname = "www.example.",
                 .authority = "example. 3600 IN NS ns1.example.\n",
                 .additional = "ns1.example. 3600 IN A 192.0.2.1\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kLame) << toString(c.kind);
  EXPECT_STRNE(c.why, "");
  EXPECT_FALSE(c.ns.has_value());
}

TEST(ClassifyTest, UpwardReferralAboveTheZoneIsLame) {
  // The root NS set from a server of sub.example.: outside its bailiwick,
  // dropped by digestReply; what is left is an empty non-authoritative reply.
  ReplySpec spec{.qname = "www.sub.example.",
                 .authority = ". 518400 IN NS a.root-servers.net.\n"
                              "example. 3600 IN NS ns1.example.\n",
                 .additional = "a.root-servers.net. 518400 IN A 198.41.0.4\n"};
  const Reply reply = digest(spec, "sub.example.");
  EXPECT_EQ(reply.out_of_zone, 3u);
  const Classified c = classifyReply(reply, sent("www.sub.example.", rrtype::kA, "sub.example."));
  EXPECT_EQ(c.kind, ReplyKind::kLame) << toString(c.kind);
  EXPECT_FALSE(c.ns.has_value());
}

TEST(ClassifyTest, UpwardReferralKeptByTheDigestIsStillLame) {
  // The classifier's own guard, without the bailiwick rule's help: the
  // reply digested for the root keeps the parent's NS set, but the server
  // was asked as a server of sub.example.
  ReplySpec spec{.qname = "www.sub.example.",
                 .authority = "example. 3600 IN NS ns1.example.\n",
                 .additional = "ns1.example. 3600 IN A 192.0.2.1\n"};
  const Reply reply = digest(spec, ".");
  ASSERT_EQ(reply.authority.size(), 1u);
  const Classified c = classifyReply(reply, sent("www.sub.example.", rrtype::kA, "sub.example."));
  EXPECT_EQ(c.kind, ReplyKind::kLame) << toString(c.kind);
  EXPECT_FALSE(c.ns.has_value());
  EXPECT_TRUE(c.glue.empty());
}

TEST(ClassifyTest, SidewaysReferralIsLame) {
  // NS for b.example. in answer to a name under a.example.
  ReplySpec spec{.qname = "www.a.example.",
                 .authority = "b.example. 3600 IN NS ns1.b.example.\n",
                 .additional = "ns1.b.example. 3600 IN A 192.0.2.2\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kLame) << toString(c.kind);
  EXPECT_FALSE(c.ns.has_value());
  EXPECT_TRUE(c.glue.empty());
}

TEST(ClassifyTest, EmptyNonAuthoritativeNoerrorIsLame) {
  ReplySpec spec{.qname = "www.example."};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kLame) << toString(c.kind);
  EXPECT_STRNE(c.why, "");
}

TEST(ClassifyTest, AuthoritativeReferralShapedReplyIsNotAReferral) {
  // AA with a delegation-shaped authority section: the server claims the
  // name, so this is its (SOA-less) NODATA, not a delegation.
  ReplySpec spec{.qname = "www.sub.example.",
                 .flags = flag::kQr | flag::kAa,
                 .authority = "sub.example. 3600 IN NS ns1.sub.example.\n",
                 .additional = "ns1.sub.example. 3600 IN A 192.0.2.11\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_NE(c.kind, ReplyKind::kReferral) << toString(c.kind);
  EXPECT_EQ(c.kind, ReplyKind::kNodata) << toString(c.kind);
  EXPECT_FALSE(c.ns.has_value());
  EXPECT_TRUE(c.glue.empty());
}

TEST(ClassifyTest, NxdomainWithDelegationShapedAuthorityIsNxdomain) {
  ReplySpec spec{.qname = "www.sub.example.",
                 .rcode = rcode::kNxDomain,
                 .authority = "sub.example. 3600 IN NS ns1.sub.example.\n"};
  const Classified c = classify(spec, "example.");
  EXPECT_EQ(c.kind, ReplyKind::kNxdomain) << toString(c.kind);
  EXPECT_FALSE(c.ns.has_value());
}

TEST(ClassifyTest, EveryKindHasAName) {
  for (ReplyKind kind : {ReplyKind::kRetryTcp, ReplyKind::kRetryNoEdns, ReplyKind::kServerFailure,
                         ReplyKind::kLame, ReplyKind::kAnswer, ReplyKind::kChain,
                         ReplyKind::kNxdomain, ReplyKind::kNodata, ReplyKind::kReferral}) {
    EXPECT_STRNE(toString(kind), "unknown");
  }
}

}  // namespace
}  // namespace shoal::resolver
