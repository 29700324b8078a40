// Denial-of-existence proofs (dnssec/denial.h) on NSEC and NSEC3 RRsets
// built unsigned (example_zones.h): the proofs check logic, the signatures
// are checked elsewhere. Scenarios follow the example zones of RFC 4035
// Appendix A/B (NSEC) and RFC 5155 Appendix A/B (NSEC3, salt aabbccdd, 12
// iterations).

#include "dnssec/denial.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dns/constants.h"
#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/verdict.h"
#include "tests/unit/dnssec/example_zones.h"

namespace shoal::dnssec {

void PrintTo(DenialResult result, std::ostream* os) {
  constexpr const char* kNames[] = {"kProven", "kOptOut", "kNotProven", "kIterations", "kBudget"};
  *os << kNames[static_cast<size_t>(result)];
}

namespace {

using namespace dns::rrtype;  // NOLINT: kA, kNs, kNsec3... read like the RFCs
using namespace testing_util;  // NOLINT: the example zones' records (example_zones.h)

::testing::AssertionResult is(const Denial& denial, DenialResult expected) {
  if (denial.result == expected) return ::testing::AssertionSuccess() << denial.reason;
  return ::testing::AssertionFailure() << "got " << ::testing::PrintToString(denial.result)
                                       << ", want " << ::testing::PrintToString(expected)
                                       << "; reason: " << denial.reason;
}

// Drops each record in turn: the proof must fail without any of them.
void expectEachNeeded(const Rrsets& records, const std::function<Denial(const Rrsets&)>& prove) {
  for (size_t i = 0; i < records.size(); ++i) {
    Rrsets fewer = records;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_TRUE(is(prove(fewer), DenialResult::kNotProven))
        << "without " << records[i].owner.toText();
  }
}

class DenialFixture : public ::testing::Test {
 protected:
  Denial nxdomain(std::string_view qname, const Rrsets& records) {
    return proveNxdomain(N(qname), zone_, records, policy_, budget_);
  }
  Denial nodata(std::string_view qname, uint16_t qtype, const Rrsets& records) {
    return proveNodata(N(qname), qtype, zone_, records, policy_, budget_);
  }
  Denial wildcard(std::string_view qname, std::string_view closest, const Rrsets& records) {
    return proveWildcardAnswer(N(qname), N(closest), zone_, records, policy_, budget_);
  }

  dns::Name zone_ = N("example");
  Policy policy_;
  Budget budget_;
};

class NsecTest : public DenialFixture {};
class Nsec3Test : public DenialFixture {};

constexpr auto kProven = DenialResult::kProven;
constexpr auto kNotProven = DenialResult::kNotProven;
constexpr auto kOptOut = DenialResult::kOptOut;

// --- Building blocks ---------------------------------------------------------

TEST(DenialBitmapTest, Rfc4034Example) {
  // RFC 4034 section 4.3: "A MX RRSIG NSEC TYPE1234".
  std::vector<uint8_t> map = {0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b};
  map.resize(map.size() + 26, 0x00);
  map.push_back(0x20);
  EXPECT_EQ(map, bitmap({kA, kMx, kRrsig, kNsec, 1234}));
  for (uint16_t type : {kA, kMx, kRrsig, kNsec, uint16_t{1234}}) {
    EXPECT_TRUE(bitmapHasType(map, type)) << type;
  }
  for (int type : {0, 2, 14, 16, 45, 48, 255, 256, 1233, 1235, 1271, 65535}) {
    EXPECT_FALSE(bitmapHasType(map, static_cast<uint16_t>(type))) << type;
  }
  EXPECT_FALSE(bitmapHasType({}, kA));
}

TEST(DenialBitmapTest, MalformedIsFalse) {
  const std::vector<std::vector<uint8_t>> bad = {
      {0x00},                          // no length
      {0x00, 0x00},                    // empty window
      {0x00, 0x02, 0x40},              // shorter than its length
      {0x00, 0x01, 0x40, 0x00},        // trailing octet
      {0x01, 0x01, 0x80, 0x00, 0x01, 0x40},  // windows out of order
      {0x00, 0x01, 0x40, 0x00, 0x01, 0x40},  // window twice
  };
  for (const auto& map : bad) EXPECT_FALSE(bitmapHasType(map, kA));
  std::vector<uint8_t> too_long = {0x00, 33, 0x40};
  too_long.resize(35, 0);
  EXPECT_FALSE(bitmapHasType(too_long, kA));
}

TEST(DenialBase32Test, Rfc4648Vectors) {
  // RFC 4648 section 10, base32hex, lowercase and without padding.
  const std::vector<std::pair<std::string_view, std::string_view>> vectors = {
      {"", ""},         {"f", "co"},         {"fo", "cpng"},         {"foo", "cpnmu"},
      {"foob", "cpnmuog"}, {"fooba", "cpnmuoj1"}, {"foobar", "cpnmuoj1e8"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base32HexEncode(asBytes(plain)), encoded);
    std::string upper(encoded);
    std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
      return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    });
    for (std::string_view text : {encoded, std::string_view(upper)}) {
      const auto decoded = base32HexDecode(asBytes(text));
      ASSERT_TRUE(decoded.has_value()) << text;
      EXPECT_EQ(std::string(decoded->begin(), decoded->end()), plain);
    }
  }
  for (std::string_view bad : {"c", "cpn", "cpnmuo", "co======", "cw", "cz", "c-", "cp"}) {
    EXPECT_FALSE(base32HexDecode(asBytes(bad)).has_value()) << bad;  // "cp": non-zero pad bits
  }
}

TEST(DenialHashTest, Rfc5155AppendixA) {
  const std::vector<std::pair<std::string_view, std::string_view>> hashes = {
      {"example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
      {"a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
      {"ai.example", "gjeqe526plbf1g8mklp59enfd789njgi"},
      {"ns1.example", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"},
      {"ns2.example", "q04jkcevqvmu85r014c7dkba38o0ji5r"},
      {"w.example", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
      {"*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
      {"x.w.example", "b4um86eghhds6nea196smvmlo4ors995"},
      {"y.w.example", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"},
      {"x.y.w.example", "2vptu5timamqttgl4luu9kg21e0aor3s"},
      {"xx.example", "t644ebqk9bibcna874givr6joj62mlhv"},
      // Appendix B.1 comments.
      {"c.x.w.example", "0va5bpr2ou0vk0lbqeeljri88laipsfh"},
      {"*.x.w.example", "92pqneegtaue7pjatc3l3qnk738c6v5m"},
  };
  for (const auto& [name, hash] : hashes) {
    EXPECT_EQ(base32HexEncode(hashOf(name)), hash) << name;
  }
  EXPECT_EQ(hashOf("X.W.Example"), hashOf("x.w.example"));  // canonical: lowercase
  EXPECT_EQ(hashOf("example").size(), 20u);
  EXPECT_NE(hashOf("example", 0), hashOf("example", 1));
  EXPECT_TRUE(nsec3Hash(N("example"), 2, 12, kSalt).empty());  // algorithm 1 only
}

TEST(DenialHashTest, TestRdataMatchesLdns) {
  // The test's own NSEC3 builder against ldns's parser of the RFC text.
  ldns_rr* rr = nullptr;
  const char* text =
      "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 3600 IN NSEC3 1 1 12 aabbccdd "
      "2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG";
  ASSERT_EQ(ldns_rr_new_frm_str(&rr, text, 0, nullptr, nullptr), LDNS_STATUS_OK);
  ldns_buffer* buffer = ldns_buffer_new(512);
  ASSERT_EQ(ldns_rr_rdata2buffer_wire(buffer, rr), LDNS_STATUS_OK);
  const std::vector<uint8_t> wire(ldns_buffer_begin(buffer),
                                  ldns_buffer_begin(buffer) + ldns_buffer_position(buffer));
  ldns_buffer_free(buffer);
  ldns_rr_free(rr);
  const dns::Rrset built = rfc5155({"0p9mh"}, 1)[0];
  EXPECT_EQ(built.rdatas[0], wire);
  EXPECT_EQ(built.owner, N("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example"));
}

TEST(DenialVerdictTest, Mapping) {
  EXPECT_TRUE((Denial{kProven, {}}.verdict().isSecure()));
  const Verdict opt_out = Denial{kOptOut, "x"}.verdict();
  EXPECT_EQ(opt_out.security, Security::kInsecure);
  EXPECT_EQ(opt_out.ede, 0);
  EXPECT_EQ(opt_out.reason, "NSEC3 opt-out");
  const Verdict missing = Denial{kNotProven, "no NSEC covers a.example."}.verdict();
  EXPECT_TRUE(missing.isBogus());
  EXPECT_EQ(missing.ede, ede::kNsecMissing);
  EXPECT_EQ(missing.reason, "no NSEC covers a.example.");
  const Verdict iterations = Denial{DenialResult::kIterations, "too many"}.verdict();
  EXPECT_EQ(iterations.security, Security::kInsecure);
  EXPECT_EQ(iterations.ede, ede::kUnsupportedNsec3Iterations);
  const Verdict budget = Denial{DenialResult::kBudget, "spent"}.verdict();
  EXPECT_TRUE(budget.isBogus());
  EXPECT_EQ(budget.ede, ede::kDnssecBogus);
}

TEST_F(NsecTest, NothingToProveWith) {
  EXPECT_TRUE(is(nxdomain("ml.example", {}), kNotProven));
  EXPECT_NE(nxdomain("ml.example", {}).reason.find("no NSEC or NSEC3"), std::string::npos);
  // qname outside the zone.
  EXPECT_TRUE(is(nxdomain("ml.other", rfc4035({"b.example", "example"})), kNotProven));
}

// --- NSEC: RFC 4035 Appendix B ----------------------------------------------

TEST_F(NsecTest, B2NameError) {
  // ml.example: b.example -> ns1.example covers it; example -> a.example
  // covers the wildcard *.example at the closest encloser.
  const Rrsets records = rfc4035({"b.example", "example"});
  EXPECT_TRUE(is(nxdomain("ml.example", records), kProven));
  expectEachNeeded(records, [&](const Rrsets& r) { return nxdomain("ml.example", r); });
  // The name exists.
  EXPECT_TRUE(is(nxdomain("ns1.example", rfc4035({"ns1.example", "example"})), kNotProven));
  // A wildcard exists at the closest encloser (w.example).
  EXPECT_TRUE(is(nxdomain("a.w.example", rfc4035({"ns2.example", "*.w.example"})), kNotProven));
  EXPECT_EQ(nxdomain("ml.example", rfc4035({"example"})).reason,
            "no NSEC covers qname ml.example.");
}

TEST_F(NsecTest, B3NoData) {
  const Rrsets records = rfc4035({"ns1.example"});
  EXPECT_TRUE(is(nodata("ns1.example", kMx, records), kProven));
  EXPECT_TRUE(is(nodata("ns1.example", kA, records), kNotProven));
  EXPECT_TRUE(is(nodata("ns1.example", kMx, {}), kNotProven));
  // Another name's NSEC proves nothing about ns1.example.
  EXPECT_TRUE(is(nodata("ns1.example", kMx, rfc4035({"ns2.example"})), kNotProven));
  // RFC 6840 section 4.3: a CNAME at qname is an alias, never a NODATA.
  const Rrsets cname = {nsec("www.example", "xx.example", {kCname, kRrsig, kNsec})};
  EXPECT_TRUE(is(nodata("www.example", kA, cname), kNotProven));
}

TEST_F(NsecTest, EmptyNonTerminal) {
  // w.example and y.w.example own no records; the NSEC before each points
  // below it (RFC 4035 section 3.1.3.2).
  EXPECT_TRUE(is(nodata("w.example", kA, rfc4035({"ns2.example"})), kProven));
  EXPECT_TRUE(is(nodata("y.w.example", kA, rfc4035({"x.w.example"})), kProven));
  // Next name not below qname: only a name error.
  EXPECT_TRUE(is(nodata("y.w.example", kA, rfc4035({"x.y.w.example"})), kNotProven));
  // And an NXDOMAIN for an empty non-terminal (a broken server, RFC 9156
  // section 2.3) is not proven by the NSEC that shows it exists, even with
  // the wildcard covered too.
  EXPECT_TRUE(is(nxdomain("w.example", rfc4035({"ns2.example", "example"})), kNotProven));
}

TEST_F(NsecTest, B5UnsignedDelegationHasNoDs) {
  // b.example is an unsigned delegation: the parent-side NSEC (NS, no SOA,
  // no DS) proves it has no DS.
  const Rrsets records = rfc4035({"b.example"});
  EXPECT_TRUE(is(nodata("b.example", kDs, records), kProven));
  // a.example has a DS.
  EXPECT_TRUE(is(nodata("a.example", kDs, rfc4035({"a.example"})), kNotProven));
  // The parent side says nothing about the child's own data...
  EXPECT_TRUE(is(nodata("b.example", kA, records), kNotProven));
  // ...nor about names below the delegation (RFC 6840 section 4.1).
  const Denial below = nxdomain("mc.b.example", rfc4035({"b.example", "example"}));
  EXPECT_TRUE(is(below, kNotProven));
  EXPECT_NE(below.reason.find("parent side of a delegation"), std::string::npos) << below.reason;
  EXPECT_TRUE(is(nodata("mc.b.example", kA, rfc4035({"b.example"})), kNotProven));
  EXPECT_TRUE(is(wildcard("mc.b.example", "b.example", records), kNotProven));
}

TEST_F(NsecTest, B6WildcardExpansion) {
  // a.z.w.example MX from *.w.example: x.y.w.example -> xx.example covers it.
  const Rrsets records = rfc4035({"x.y.w.example"});
  EXPECT_TRUE(is(wildcard("a.z.w.example", "w.example", records), kProven));
  EXPECT_TRUE(is(wildcard("a.z.w.example", "w.example", {}), kNotProven));
  // A wildcard at the apex would not apply: w.example is closer.
  EXPECT_TRUE(is(wildcard("a.z.w.example", "example", records), kNotProven));
  // The name exists: not a wildcard answer.
  EXPECT_TRUE(is(wildcard("x.w.example", "w.example", rfc4035({"x.w.example"})), kNotProven));
  // The closest encloser must be an ancestor of qname.
  EXPECT_TRUE(is(wildcard("a.z.w.example", "ai.example", records), kNotProven));
}

TEST_F(NsecTest, B7WildcardNoData) {
  const Rrsets records = rfc4035({"x.y.w.example", "*.w.example"});
  EXPECT_TRUE(is(nodata("a.z.w.example", kAaaa, records), kProven));
  EXPECT_TRUE(is(nodata("a.z.w.example", kMx, records), kNotProven));  // the wildcard has MX
  expectEachNeeded(records, [&](const Rrsets& r) { return nodata("a.z.w.example", kAaaa, r); });
}

TEST_F(NsecTest, B8DsFromChildApexIsRejected) {
  // RFC 4035 B.8: "example DS" answered from the example zone itself. The
  // apex NSEC (SOA set) is the child's; only the parent can deny a DS.
  const Denial denial = nodata("example", kDs, rfc4035({"example"}));
  EXPECT_TRUE(is(denial, kNotProven));
  EXPECT_NE(denial.reason.find("child zone"), std::string::npos) << denial.reason;
  // The root has no parent: its apex NSEC denies its DS.
  zone_ = dns::Name();
  EXPECT_TRUE(is(nodata(".", kDs, {nsec(".", "aaa", {kNs, kSoa, kRrsig, kNsec, kDnskey})}),
                 kProven));
}

TEST_F(NsecTest, WrapAroundAtTheApex) {
  // xx.example -> example is the last NSEC: it covers every name after xx.
  const Rrsets records = rfc4035({"xx.example", "example"});
  EXPECT_TRUE(is(nxdomain("zz.example", records), kProven));
  EXPECT_TRUE(is(nxdomain("a.zz.example", records), kProven));
  // A last NSEC whose next name is not the apex covers nothing after it.
  const Rrsets broken = {nsec("xx.example", "a.example", {kA, kNsec}), rfc4035({"example"})[0]};
  EXPECT_TRUE(is(nxdomain("zz.example", broken), kNotProven));
  // A one-name zone: the apex NSEC points to itself.
  const Rrsets lonely = {nsec("example", "example", {kSoa, kNs, kNsec})};
  EXPECT_TRUE(is(nxdomain("www.example", lonely), kProven));
}

TEST_F(NsecTest, OtherZonesIgnored) {
  // Records from another zone, or pointing out of this one, prove nothing.
  const Rrsets foreign = {nsec("b.other", "ns1.other", {kNs, kNsec}),
                          nsec("other", "a.other", {kSoa, kNs, kNsec})};
  EXPECT_TRUE(is(nxdomain("ml.example", foreign), kNotProven));
  const Rrsets leaking = {nsec("b.example", "zz.other", {kNs, kNsec}), rfc4035({"example"})[0]};
  EXPECT_TRUE(is(nxdomain("ml.example", leaking), kNotProven));
  // The same records under a zone that does contain them.
  zone_ = N("sub.example");
  EXPECT_TRUE(is(nxdomain("ml.example", rfc4035({"b.example", "example"})), kNotProven));
}

TEST_F(NsecTest, DnameCaveat) {
  // RFC 6840 section 4.1: names below a DNAME are redirected, not denied.
  const Rrsets records = {nsec("d.example", "e.example", {kDname, kRrsig, kNsec}),
                          rfc4035({"example"})[0]};
  const Denial denial = nxdomain("x.d.example", records);
  EXPECT_TRUE(is(denial, kNotProven));
  EXPECT_NE(denial.reason.find("DNAME"), std::string::npos) << denial.reason;
  EXPECT_TRUE(is(nodata("x.d.example", kA, records), kNotProven));
  // The DNAME owner itself is an ordinary name.
  EXPECT_TRUE(is(nodata("d.example", kA, records), kProven));
  EXPECT_TRUE(is(nxdomain("da.example", records), kProven));  // d < da < e, not below d
}

TEST_F(NsecTest, MalformedRdataIgnored) {
  const dns::Rrset good = rfc4035({"b.example"})[0];
  const dns::Rrset apex = rfc4035({"example"})[0];
  const size_t name_length = N("ns1.example").length();
  for (size_t length = 0; length < good.rdatas[0].size(); ++length) {
    dns::Rrset cut = good;
    cut.rdatas[0].resize(length);
    const Rrsets records = {cut, apex};
    const Denial denial = nxdomain("ml.example", records);
    // Cut right after the next name, the bitmap is empty and well formed.
    EXPECT_EQ(denial.result, length == name_length ? kProven : kNotProven) << length;
    (void)nodata("b.example", kDs, records);
    (void)wildcard("ml.example", "example", records);
  }
  std::mt19937 random(5155);
  for (int round = 0; round < 500; ++round) {
    std::vector<uint8_t> junk(random() % 40);
    for (uint8_t& octet : junk) octet = static_cast<uint8_t>(random());
    const Rrsets records = {rrset(N("b.example"), kNsec, junk), apex};
    (void)nxdomain("ml.example", records);
    (void)nodata("b.example", kA, records);
  }
}

// --- NSEC3: RFC 5155 Appendix B ----------------------------------------------

TEST_F(Nsec3Test, B1NameError) {
  // a.c.x.w.example: 0p9mh covers the next closer c.x.w.example, b4um8
  // matches the closest encloser x.w.example, 35mth covers *.x.w.example.
  const Rrsets records = rfc5155({"0p9mh", "b4um8", "35mth"});
  EXPECT_TRUE(is(nxdomain("a.c.x.w.example", records), kProven));
  expectEachNeeded(records, [&](const Rrsets& r) { return nxdomain("a.c.x.w.example", r); });
  EXPECT_EQ(nxdomain("a.c.x.w.example", rfc5155({"b4um8", "35mth"})).reason,
            "no NSEC3 covers the next closer name c.x.w.example.");
  // The name exists.
  EXPECT_TRUE(is(nxdomain("x.w.example", rfc5155({"b4um8"})), kNotProven));
}

TEST_F(Nsec3Test, B1AsPublishedIsOptOut) {
  // The RFC's zone is signed with opt-out: the range covering the next
  // closer may hide an unsigned delegation (RFC 5155 section 9.2).
  const Denial denial = nxdomain("a.c.x.w.example", rfc5155({"0p9mh", "b4um8", "35mth"}, 1));
  EXPECT_TRUE(is(denial, kOptOut));
  EXPECT_EQ(denial.verdict().security, Security::kInsecure);
}

TEST_F(Nsec3Test, NameErrorWildcardExists) {
  // a.w.example: w.example matches, *.w.example exists.
  const Rrsets records = {matchOf("w.example", {}), coverOf("a.w.example"),
                          matchOf("*.w.example", {kMx, kRrsig})};
  EXPECT_TRUE(is(nxdomain("a.w.example", records), kNotProven));
}

TEST_F(Nsec3Test, B2NoData) {
  const Rrsets records = rfc5155({"2t7b4"});
  EXPECT_TRUE(is(nodata("ns1.example", kMx, records), kProven));
  EXPECT_TRUE(is(nodata("ns1.example", kA, records), kNotProven));
  EXPECT_TRUE(is(nodata("ns1.example", kMx, {}), kNotProven));
  EXPECT_TRUE(is(nodata("ns1.example", kMx, rfc5155({"q04jk"})), kNotProven));
  const Rrsets cname = {matchOf("www.example", {kCname, kRrsig})};
  EXPECT_TRUE(is(nodata("www.example", kA, cname), kNotProven));
}

TEST_F(Nsec3Test, B21NoDataEmptyNonTerminal) {
  EXPECT_TRUE(is(nodata("y.w.example", kA, rfc5155({"ji6ne"})), kProven));
  EXPECT_TRUE(is(nodata("w.example", kA, rfc5155({"k8ude"})), kProven));
}

TEST_F(Nsec3Test, B3ReferralToOptOutZone) {
  // c.example is an unsigned delegation inside an opt-out range: no NSEC3
  // matches it, 0p9mh matches the closest encloser (example), 35mth (opt-
  // out) covers the next closer c.example. Its DS denial is insecure.
  const Rrsets records = rfc5155({"35mth", "0p9mh"}, 1);
  EXPECT_TRUE(is(nodata("c.example", kDs, records), kOptOut));
  expectEachNeeded(records, [&](const Rrsets& r) { return nodata("c.example", kDs, r); });
  // Without the opt-out flag the same records prove nothing.
  EXPECT_TRUE(is(nodata("c.example", kDs, rfc5155({"35mth", "0p9mh"})), kNotProven));
  // Opt-out does not turn other types into an insecure NODATA.
  EXPECT_TRUE(is(nodata("c.example", kA, records), kNotProven));
}

TEST_F(Nsec3Test, B4WildcardExpansion) {
  // a.z.w.example from *.w.example: q04jk covers the next closer z.w.example.
  EXPECT_TRUE(is(wildcard("a.z.w.example", "w.example", rfc5155({"q04jk"})), kProven));
  EXPECT_TRUE(is(wildcard("a.z.w.example", "w.example", rfc5155({"2t7b4"})), kNotProven));
  EXPECT_TRUE(is(wildcard("a.z.w.example", "w.example", rfc5155({"q04jk"}, 1)), kOptOut));
  EXPECT_TRUE(is(wildcard("a.z.w.example", "example", rfc5155({"q04jk"})), kNotProven));
}

TEST_F(Nsec3Test, B5WildcardNoData) {
  // k8ude matches w.example, q04jk covers z.w.example, r53bq matches
  // *.w.example (MX only).
  const Rrsets records = rfc5155({"k8ude", "q04jk", "r53bq"});
  EXPECT_TRUE(is(nodata("a.z.w.example", kAaaa, records), kProven));
  EXPECT_TRUE(is(nodata("a.z.w.example", kMx, records), kNotProven));
  expectEachNeeded(records, [&](const Rrsets& r) { return nodata("a.z.w.example", kAaaa, r); });
  EXPECT_TRUE(is(nodata("a.z.w.example", kAaaa, rfc5155({"k8ude", "q04jk", "r53bq"}, 1)),
                 kOptOut));
}

TEST_F(Nsec3Test, B6DsNoData) {
  // RFC 5155 B.6 answers "example DS" from the example zone itself: the
  // apex NSEC3 (SOA set) is the child's and cannot deny a DS.
  EXPECT_TRUE(is(nodata("example", kDs, rfc5155({"0p9mh"})), kNotProven));
  // A name that is no delegation has no DS.
  EXPECT_TRUE(is(nodata("ns1.example", kDs, rfc5155({"2t7b4"})), kProven));
  // a.example is a signed delegation: its NSEC3 lists DS.
  EXPECT_TRUE(is(nodata("a.example", kDs, rfc5155({"35mth"})), kNotProven));
  // An unsigned delegation outside opt-out: NS, no SOA, no DS.
  const Rrsets unsigned_delegation = {matchOf("c.example", {kNs})};
  EXPECT_TRUE(is(nodata("c.example", kDs, unsigned_delegation), kProven));
  EXPECT_TRUE(is(nodata("c.example", kA, unsigned_delegation), kNotProven));
}

TEST_F(Nsec3Test, ClosestEncloserCaveats) {
  // RFC 5155 section 8.3: a delegation (NS without SOA) or a DNAME cannot
  // be the closest encloser of the names below it.
  const Rrsets below_delegation = {rfc5155({"35mth"})[0], coverOf("x.a.example"),
                                   coverOf("*.a.example")};
  const Denial delegation = nxdomain("x.a.example", below_delegation);
  EXPECT_TRUE(is(delegation, kNotProven));
  EXPECT_NE(delegation.reason.find("delegation"), std::string::npos) << delegation.reason;
  const Rrsets below_dname = {matchOf("d.example", {kDname, kRrsig}), coverOf("x.d.example"),
                              coverOf("*.d.example")};
  const Denial dname = nxdomain("x.d.example", below_dname);
  EXPECT_TRUE(is(dname, kNotProven));
  EXPECT_NE(dname.reason.find("DNAME"), std::string::npos) << dname.reason;
  // The same shape with an ordinary closest encloser holds.
  const Rrsets ordinary = {matchOf("d.example", {kA, kRrsig}), coverOf("x.d.example"),
                           coverOf("*.d.example")};
  EXPECT_TRUE(is(nxdomain("x.d.example", ordinary), kProven));
}

TEST_F(Nsec3Test, WrapAroundTheHashChain) {
  // t644e (xx.example) is the last NSEC3: it covers hashes above it and
  // below the first (0p9mh). Find names on each side of the wrap.
  const auto first = decode("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
  const auto last = decode("t644ebqk9bibcna874givr6joj62mlhv");
  const Rrsets records = rfc5155({"t644e"});
  int above = 0;
  int below = 0;
  for (int i = 0; i < 200 && (above == 0 || below == 0); ++i) {
    std::string name = "n";  // appends only: GCC 12 -O3 has -Wrestrict false positives
    name += std::to_string(i);
    name += ".example";
    const auto hash = hashOf(name);
    const bool covered = hash > last || hash < first;
    EXPECT_EQ(wildcard(name, "example", records).result, covered ? kProven : kNotProven) << name;
    above += hash > last ? 1 : 0;
    below += hash < first ? 1 : 0;
  }
  EXPECT_GT(above, 0);
  EXPECT_GT(below, 0);
}

TEST_F(Nsec3Test, RecordsThatDoNotCount) {
  const Rrsets good = rfc5155({"0p9mh", "b4um8", "35mth"});
  auto with = [&](size_t index, const dns::Rrset& replacement) {
    Rrsets records = good;
    records[index] = replacement;
    return nxdomain("a.c.x.w.example", records);
  };
  // Another zone's NSEC3, or one two labels below the apex.
  dns::Rrset moved = good[1];
  moved.owner = N("b4um86eghhds6nea196smvmlo4ors995.other");
  EXPECT_TRUE(is(with(1, moved), kNotProven));
  moved.owner = N("b4um86eghhds6nea196smvmlo4ors995.w.example");
  EXPECT_TRUE(is(with(1, moved), kNotProven));
  // An owner label that is not base32hex of a SHA-1 hash.
  moved.owner = N("b4um86eghhds6nea196smvmlo4ors99.example");
  EXPECT_TRUE(is(with(1, moved), kNotProven));
  // Unknown hash algorithm (RFC 5155 section 8.1), flags other than 0/1 (8.2).
  Nsec3Fields fields;
  fields.algorithm = 2;
  EXPECT_TRUE(is(with(1, matchOf("x.w.example", {kMx}, fields)), kNotProven));
  fields = {};
  fields.flags = 2;
  EXPECT_TRUE(is(with(1, matchOf("x.w.example", {kMx}, fields)), kNotProven));
  // Other parameters than the first record's (RFC 5155 section 8.2).
  fields = {};
  fields.salt = {0x01};
  EXPECT_TRUE(is(with(1, nsec3(decode("b4um86eghhds6nea196smvmlo4ors995"),
                               decode("gjeqe526plbf1g8mklp59enfd789njgi"), {kMx}, fields)),
                 kNotProven));
  // The replacement itself is fine.
  EXPECT_TRUE(is(with(1, matchOf("x.w.example", {kMx})), kProven));
}

TEST_F(Nsec3Test, IterationsAboveThePolicy) {
  policy_.nsec3_max_iterations = 11;
  const uint32_t before = budget_.nsec3_hashes;
  const Denial denial = nxdomain("a.c.x.w.example", rfc5155({"0p9mh", "b4um8", "35mth"}));
  EXPECT_TRUE(is(denial, DenialResult::kIterations));
  EXPECT_EQ(budget_.nsec3_hashes, before);  // decided before any hash
  EXPECT_EQ(denial.verdict().security, Security::kInsecure);
  EXPECT_EQ(denial.verdict().ede, ede::kUnsupportedNsec3Iterations);
  policy_.nsec3_max_iterations = 12;
  EXPECT_TRUE(is(nxdomain("a.c.x.w.example", rfc5155({"0p9mh", "b4um8", "35mth"})), kProven));
}

TEST_F(Nsec3Test, HashBudget) {
  const Rrsets records = rfc5155({"0p9mh", "b4um8", "35mth"});
  budget_.nsec3_hashes = 0;
  const Denial none = nxdomain("a.c.x.w.example", records);
  EXPECT_TRUE(is(none, DenialResult::kBudget));
  EXPECT_TRUE(budget_.exhausted);
  EXPECT_EQ(none.verdict().ede, ede::kDnssecBogus);
  EXPECT_TRUE(is(nodata("ns1.example", kMx, rfc5155({"2t7b4"})), DenialResult::kBudget));
  EXPECT_TRUE(is(wildcard("a.z.w.example", "w.example", rfc5155({"q04jk"})),
                 DenialResult::kBudget));
  // B.1 hashes a.c.x.w, c.x.w, x.w and *.x.w: four hashes, each once.
  budget_ = Budget{};
  budget_.nsec3_hashes = 3;
  EXPECT_TRUE(is(nxdomain("a.c.x.w.example", records), DenialResult::kBudget));
  budget_ = Budget{};
  budget_.nsec3_hashes = 4;
  EXPECT_TRUE(is(nxdomain("a.c.x.w.example", records), kProven));
  EXPECT_EQ(budget_.nsec3_hashes, 0u);
}

TEST_F(Nsec3Test, HashCapWithManyRecordsAndDeepName) {
  // 100 NSEC3 records chained in hash order (the apex among them), and a
  // 30-label qname: at most 30 - 1 + 2 = 31 hashes per proof.
  std::mt19937 random(9276);
  using Hash = std::array<uint8_t, 20>;
  std::vector<Hash> hashes(100);
  const std::vector<uint8_t> apex = hashOf("example");
  std::copy(apex.begin(), apex.end(), hashes[0].begin());
  for (size_t i = 1; i < hashes.size(); ++i) {
    for (uint8_t& octet : hashes[i]) octet = static_cast<uint8_t>(random());
  }
  std::sort(hashes.begin(), hashes.end());
  auto bytes = [](const Hash& hash) { return std::vector<uint8_t>(hash.begin(), hash.end()); };
  Rrsets records;
  for (size_t i = 0; i < hashes.size(); ++i) {
    records.push_back(nsec3(bytes(hashes[i]), bytes(hashes[(i + 1) % hashes.size()]), {kA}));
  }
  std::string qname;
  for (int i = 28; i >= 0; --i) qname += 'l' + std::to_string(i) + '.';
  qname += "example";
  ASSERT_EQ(N(qname).labelCount(), 30u);
  budget_.nsec3_hashes = 1000;
  EXPECT_TRUE(is(nxdomain(qname, records), kProven));  // the apex is the closest encloser
  EXPECT_LE(1000u - budget_.nsec3_hashes, 31u);
  budget_.nsec3_hashes = 1000;
  EXPECT_TRUE(is(nodata(qname, kA, records), kNotProven));  // no wildcard at the apex
  EXPECT_LE(1000u - budget_.nsec3_hashes, 31u);
  // Without the apex record no closest encloser exists: still bounded.
  records.erase(std::find_if(records.begin(), records.end(), [](const dns::Rrset& r) {
    return r.owner == N("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example");
  }));
  budget_.nsec3_hashes = 1000;
  EXPECT_TRUE(is(nxdomain(qname, records), kNotProven));
  EXPECT_LE(1000u - budget_.nsec3_hashes, 31u);
}

TEST_F(Nsec3Test, MalformedRdataIgnored) {
  const Rrsets good = rfc5155({"2t7b4"});
  const size_t bitmap_start = 5 + kSalt.size() + 1 + 20;
  for (size_t length = 0; length < good[0].rdatas[0].size(); ++length) {
    Rrsets records = good;
    records[0].rdatas[0].resize(length);
    // Cut right before the bitmap: an empty bitmap, well formed.
    EXPECT_EQ(nodata("ns1.example", kMx, records).result,
              length == bitmap_start ? kProven : kNotProven)
        << length;
    (void)nxdomain("a.ns1.example", records);
    (void)wildcard("a.ns1.example", "ns1.example", records);
  }
  std::mt19937 random(5155);
  for (int round = 0; round < 500; ++round) {
    std::vector<uint8_t> junk(random() % 48);
    for (uint8_t& octet : junk) octet = static_cast<uint8_t>(random());
    if (junk.size() >= 2) {  // algorithm 1, flags 0: get past the first checks
      junk[0] = 1;
      junk[1] = 0;
    }
    const Rrsets records = {rrset(good[0].owner, kNsec3, junk)};
    (void)nxdomain("a.ns1.example", records);
    (void)nodata("ns1.example", kMx, records);
  }
}

TEST_F(Nsec3Test, MixedWithNsec) {
  // A zone changing its chain may send both kinds; a proof from either holds.
  Rrsets records = rfc5155({"2t7b4"});
  records.push_back(rfc4035({"ns2.example"})[0]);
  EXPECT_TRUE(is(nodata("ns1.example", kMx, records), kProven));
  records.push_back(rfc4035({"ns1.example"})[0]);
  EXPECT_TRUE(is(nodata("ns1.example", kMx, records), kProven));
}

}  // namespace
}  // namespace shoal::dnssec
