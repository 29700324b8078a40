// Proofs from NSEC/NSEC3 ranges (dnssec/aggressive.h, RFC 8198 section 5)
// through a fake RangeSource: a sorted in-memory set of the records of
// RFC 4035 Appendix A (NSEC) and RFC 5155 Appendix A (NSEC3, salt
// aabbccdd, 12 iterations), unsigned (example_zones.h). Every proof found
// is checked twice: the slots it reports hold exactly the records expected
// (each once), and those records alone satisfy denial.h's proof of the
// same answer, none of them superfluous.

#include "dnssec/aggressive.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dns/constants.h"
#include "dns/name.h"
#include "dns/rrset.h"
#include "dnssec/denial.h"
#include "dnssec/verdict.h"
#include "tests/unit/dnssec/example_zones.h"

namespace shoal::dnssec {

void PrintTo(RangeAnswer answer, std::ostream* os) {
  constexpr const char* kNames[] = {"kNone", "kNxdomain", "kNodata", "kWildcard"};
  *os << kNames[static_cast<size_t>(answer)];
}

namespace {

using namespace dns::rrtype;   // NOLINT: kA, kNs, kNsec3... read like the RFCs
using namespace testing_util;  // NOLINT: the example zones' records (example_zones.h)

std::vector<uint8_t> keyOf(const dns::Name& name) {
  const auto key = name.lookupKey();
  return {key.bytes().begin(), key.bytes().end()};
}

/// A zone's ranges in memory, in canonical order of the owners (the order
/// of shmcache's ordered sets: lookup keys compared bytewise). Remembers
/// which record each slot holds.
class FakeRanges final : public RangeSource {
 public:
  explicit FakeRanges(const Rrsets& records) {
    for (const auto& record : records) add(record);
  }
  void add(const dns::Rrset& record) { ranges_.insert_or_assign(keyOf(record.owner), record); }
  void remove(const dns::Name& owner) { EXPECT_EQ(ranges_.erase(keyOf(owner)), 1u); }

  const RangeRecord* load(const dns::Name& name, unsigned slot) override {
    EXPECT_LT(slot, kRangeSlots);
    if (slot >= kRangeSlots) return nullptr;
    ++loads_;
    in_slot_[slot] = nullptr;
    if (ranges_.empty()) return nullptr;
    // The greatest owner at or before name, or else the greatest of all.
    auto after = ranges_.upper_bound(keyOf(name));
    const dns::Rrset& record =
        after == ranges_.begin() ? std::prev(ranges_.end())->second : std::prev(after)->second;
    in_slot_[slot] = &record;
    slots_[slot] = {record.owner, record.type, record.rdatas.front()};
    return &slots_[slot];
  }

  /// A validated RRset of `type` at `wildcard`, signed by `signer`.
  void addWildcard(std::string_view wildcard, uint16_t type, std::string_view signer = "example") {
    wildcards_.push_back({N(wildcard), type, N(signer)});
  }
  bool hasWildcard(const dns::Name& wildcard, uint16_t qtype, const dns::Name& zone) override {
    return std::any_of(wildcards_.begin(), wildcards_.end(), [&](const Wildcard& w) {
      return w.owner == wildcard && w.type == qtype && w.signer == zone;
    });
  }

  /// The record `slot` was last loaded with (null if none).
  const dns::Rrset* inSlot(unsigned slot) const { return in_slot_[slot]; }
  unsigned loads() const { return loads_; }

 private:
  struct Wildcard {
    dns::Name owner;
    uint16_t type;
    dns::Name signer;
  };
  std::map<std::vector<uint8_t>, dns::Rrset> ranges_;
  std::vector<Wildcard> wildcards_;
  std::array<RangeRecord, kRangeSlots> slots_{};
  std::array<const dns::Rrset*, kRangeSlots> in_slot_{};
  unsigned loads_ = 0;
};

const ZoneDenialParams kNsecZone{};

/// `salt` must outlive the parameters (they refer to it).
ZoneDenialParams nsec3Zone(uint16_t iterations = 12, const std::vector<uint8_t>& salt = kSalt,
                           uint8_t algorithm = 1) {
  ZoneDenialParams params;
  params.nsec3 = true;
  params.algorithm = algorithm;
  params.iterations = iterations;
  params.salt = salt;
  return params;
}

std::string ownersText(const Rrsets& records) {
  std::string out;
  for (const auto& record : records) out += record.owner.toText() + " ";
  return out;
}

class AggressiveFixture : public ::testing::Test {
 protected:
  RangeProof prove(std::string_view qname, uint16_t qtype, FakeRanges& source) {
    return proveFromRanges(N(qname), qtype, zone_, params_, policy_, source);
  }

  /// The records the proof's slots hold, in slot order.
  static Rrsets recordsOf(const RangeProof& proof, const FakeRanges& source) {
    Rrsets out;
    for (unsigned i = 0; i < proof.slot_count; ++i) {
      const dns::Rrset* record = source.inSlot(proof.slots[i]);
      EXPECT_NE(record, nullptr) << "slot " << int{proof.slots[i]} << " holds nothing";
      if (record != nullptr) out.push_back(*record);
    }
    return out;
  }

  /// denial.h's verdict on the same answer from `records` alone.
  Denial classic(const RangeProof& proof, std::string_view qname, uint16_t qtype,
                 const Rrsets& records) {
    Budget budget;
    switch (proof.answer) {
      case RangeAnswer::kNxdomain:
        return proveNxdomain(N(qname), zone_, records, policy_, budget);
      case RangeAnswer::kNodata:
        return proveNodata(N(qname), qtype, zone_, records, policy_, budget);
      case RangeAnswer::kWildcard:
        return proveWildcardAnswer(N(qname), proof.wildcard.parent(), zone_, records, policy_,
                                   budget);
      case RangeAnswer::kNone:
        break;
    }
    return {DenialResult::kNotProven, "no answer"};
  }

  /// (qname, qtype) is proven as `want` by exactly `expected` (any order,
  /// each once), and denial.h agrees that those records, all of them,
  /// prove it.
  ::testing::AssertionResult proves(std::string_view qname, uint16_t qtype, RangeAnswer want,
                                    const Rrsets& expected, FakeRanges& source) {
    const RangeProof proof = prove(qname, qtype, source);
    if (proof.answer != want) {
      return ::testing::AssertionFailure() << qname << " " << dns::typeToText(qtype) << ": got "
                                           << ::testing::PrintToString(proof.answer) << ", want "
                                           << ::testing::PrintToString(want);
    }
    std::array<bool, kRangeSlots> seen{};
    for (unsigned i = 0; i < proof.slot_count; ++i) {
      if (proof.slots[i] >= kRangeSlots || seen[proof.slots[i]]) {
        return ::testing::AssertionFailure()
               << qname << ": slot " << int{proof.slots[i]} << " reported twice or out of range";
      }
      seen[proof.slots[i]] = true;
    }
    const Rrsets used = recordsOf(proof, source);
    auto sorted = [](Rrsets records) {
      std::sort(records.begin(), records.end(), [](const dns::Rrset& a, const dns::Rrset& b) {
        return a.owner.compareCanonical(b.owner) < 0;
      });
      return records;
    };
    const Rrsets got = sorted(used);
    const Rrsets want_records = sorted(expected);
    const bool same = got.size() == want_records.size() &&
                      std::equal(got.begin(), got.end(), want_records.begin(),
                                 [](const dns::Rrset& a, const dns::Rrset& b) {
                                   return a.owner == b.owner && a.rdatas == b.rdatas;
                                 });
    if (!same) {
      return ::testing::AssertionFailure()
             << qname << ": proven by " << ownersText(got) << "want " << ownersText(want_records);
    }
    const Denial alone = classic(proof, qname, qtype, used);
    if (alone.result != DenialResult::kProven) {
      return ::testing::AssertionFailure()
             << qname << ": denial.h does not accept the records reported: " << alone.reason;
    }
    for (size_t i = 0; i < used.size(); ++i) {
      Rrsets fewer = used;
      fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(i));
      if (classic(proof, qname, qtype, fewer).result == DenialResult::kProven) {
        return ::testing::AssertionFailure()
               << qname << ": " << used[i].owner.toText() << " is reported but not needed";
      }
    }
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult unproven(std::string_view qname, uint16_t qtype, FakeRanges& source) {
    const RangeProof proof = prove(qname, qtype, source);
    if (proof.answer == RangeAnswer::kNone && proof.slot_count == 0) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << qname << " " << dns::typeToText(qtype) << ": got "
                                         << ::testing::PrintToString(proof.answer) << " with "
                                         << int{proof.slot_count} << " records, want no proof";
  }

  dns::Name zone_ = N("example");
  ZoneDenialParams params_;
  Policy policy_;
};

class AggressiveNsecTest : public AggressiveFixture {
 protected:
  FakeRanges chain_{rfc4035Chain()};
};

class AggressiveNsec3Test : public AggressiveFixture {
 protected:
  void SetUp() override { params_ = nsec3Zone(); }
  FakeRanges chain_{rfc5155Chain()};
};

constexpr auto kNxdomain = RangeAnswer::kNxdomain;
constexpr auto kNodata = RangeAnswer::kNodata;
constexpr auto kWildcard = RangeAnswer::kWildcard;

// --- NSEC: RFC 4035 Appendix B --------------------------------------------------

TEST_F(AggressiveNsecTest, NxdomainCoveringAndWildcard) {
  // B.2: b.example -> ns1.example covers ml.example, the apex NSEC covers
  // *.example.
  EXPECT_TRUE(proves("ml.example", kA, kNxdomain, rfc4035({"b.example", "example"}), chain_));
  EXPECT_TRUE(proves("ML.Example", kMx, kNxdomain, rfc4035({"b.example", "example"}), chain_));
  // Deeper junk below a non-existent name: the same two records.
  EXPECT_TRUE(
      proves("a.b.ml.example", kAaaa, kNxdomain, rfc4035({"b.example", "example"}), chain_));
  // Before the first delegation: example -> a.example covers both.
  EXPECT_TRUE(proves("0.example", kA, kNxdomain, rfc4035({"example"}), chain_));
}

TEST_F(AggressiveNsecTest, NxdomainOneRecordForNameAndWildcard) {
  // x.w.example -> x.y.w.example covers a.x.w.example and its closest
  // encloser's wildcard *.x.w.example: one record, reported once.
  const RangeProof proof = prove("a.x.w.example", kA, chain_);
  EXPECT_EQ(proof.answer, kNxdomain);
  EXPECT_EQ(proof.slot_count, 1);
  EXPECT_TRUE(proves("a.x.w.example", kA, kNxdomain, rfc4035({"x.w.example"}), chain_));
}

TEST_F(AggressiveNsecTest, NxdomainWrapsToTheApex) {
  // xx.example -> example is the last NSEC: it covers every name after xx.
  EXPECT_TRUE(proves("zz.example", kA, kNxdomain, rfc4035({"xx.example", "example"}), chain_));
  EXPECT_TRUE(proves("a.zz.example", kA, kNxdomain, rfc4035({"xx.example", "example"}), chain_));
  // A one-name zone: the apex NSEC points to itself and covers all.
  FakeRanges lonely({nsec("example", "example", {kSoa, kNs, kNsec})});
  EXPECT_TRUE(proves("www.example", kA, kNxdomain, {nsec("example", "example", {kSoa, kNs, kNsec})},
                     lonely));
  // A last NSEC whose next name is not the apex covers nothing after it.
  FakeRanges broken({nsec("xx.example", "a.example", {kA, kNsec}), rfc4035({"example"})[0]});
  EXPECT_TRUE(unproven("zz.example", kA, broken));
}

TEST_F(AggressiveNsecTest, NodataAtAnExistingName) {
  // B.3: ns1.example has A, not MX.
  EXPECT_TRUE(proves("ns1.example", kMx, kNodata, rfc4035({"ns1.example"}), chain_));
  EXPECT_TRUE(unproven("ns1.example", kA, chain_));  // the data exists: ask
  EXPECT_TRUE(proves("example", kTxt, kNodata, rfc4035({"example"}), chain_));
  EXPECT_TRUE(unproven("example", kMx, chain_));
  // RFC 6840 section 4.3: a CNAME is an alias, never a NODATA.
  FakeRanges cname(
      {rfc4035({"example"})[0], nsec("www.example", "xx.example", {kCname, kRrsig, kNsec})});
  EXPECT_TRUE(unproven("www.example", kA, cname));
}

TEST_F(AggressiveNsecTest, NodataAtAnEmptyNonTerminal) {
  // w.example and y.w.example own nothing; the NSEC before each points
  // below it (RFC 4035 section 3.1.3.2).
  EXPECT_TRUE(proves("w.example", kA, kNodata, rfc4035({"ns2.example"}), chain_));
  EXPECT_TRUE(proves("y.w.example", kAaaa, kNodata, rfc4035({"x.w.example"}), chain_));
}

TEST_F(AggressiveNsecTest, WildcardAnswer) {
  // B.6: a.z.w.example MX from *.w.example; x.y.w.example -> xx.example
  // covers the name itself.
  RangeProof proof = prove("a.z.w.example", kMx, chain_);
  EXPECT_EQ(proof.answer, kWildcard);
  EXPECT_EQ(proof.wildcard, N("*.w.example"));
  EXPECT_TRUE(proves("a.z.w.example", kMx, kWildcard, rfc4035({"x.y.w.example"}), chain_));
  // b.w.example falls in the wildcard's own range: the *.w.example NSEC
  // covers the name and is the wildcard.
  proof = prove("b.w.example", kMx, chain_);
  EXPECT_EQ(proof.answer, kWildcard);
  EXPECT_EQ(proof.wildcard, N("*.w.example"));
  EXPECT_TRUE(proves("b.w.example", kMx, kWildcard, rfc4035({"*.w.example"}), chain_));
}

TEST_F(AggressiveNsecTest, WildcardNodata) {
  // B.7: the wildcard has MX only.
  EXPECT_TRUE(
      proves("a.z.w.example", kAaaa, kNodata, rfc4035({"x.y.w.example", "*.w.example"}), chain_));
  EXPECT_TRUE(proves("b.w.example", kAaaa, kNodata, rfc4035({"*.w.example"}), chain_));
}

// RFC 8198 section 5.3: the reply that brought a wildcard expansion
// proved only that the name does not exist; the wildcard's own NSEC may
// never have been seen. The wildcard RRset at hand shows it exists.
TEST_F(AggressiveNsecTest, WildcardAnswerFromAWildcardAtHand) {
  FakeRanges source(rfc4035({"x.y.w.example"}));
  EXPECT_TRUE(unproven("a.z.w.example", kMx, source)) << "nothing shows *.w.example exists";
  source.addWildcard("*.w.example", kMx);
  const RangeProof proof = prove("a.z.w.example", kMx, source);
  EXPECT_EQ(proof.answer, kWildcard);
  EXPECT_EQ(proof.wildcard, N("*.w.example"));
  EXPECT_TRUE(proves("a.z.w.example", kMx, kWildcard, rfc4035({"x.y.w.example"}), source));
  EXPECT_TRUE(proves("zz.z.w.example", kMx, kWildcard, rfc4035({"x.y.w.example"}), source));
  // Only for the type at hand, and only a wildcard the zone signed.
  EXPECT_TRUE(unproven("a.z.w.example", kA, source));
  FakeRanges foreign(rfc4035({"x.y.w.example"}));
  foreign.addWildcard("*.w.example", kMx, "w.example");
  EXPECT_TRUE(unproven("a.z.w.example", kMx, foreign));
  // A wildcard above the closest encloser does not apply: *.example for
  // a.z.w.example, whose closest encloser is w.example.
  FakeRanges higher(rfc4035({"x.y.w.example"}));
  higher.addWildcard("*.example", kMx);
  EXPECT_TRUE(unproven("a.z.w.example", kMx, higher));
  // Names below a delegation stay unproven, wildcard or not.
  FakeRanges delegation(rfc4035({"b.example"}));
  delegation.addWildcard("*.b.example", kA);
  delegation.addWildcard("*.example", kA);
  EXPECT_TRUE(unproven("mc.b.example", kA, delegation));
  // A wildcard NSEC that denies the type wins over an RRset at hand.
  FakeRanges denied(rfc4035({"x.y.w.example", "*.w.example"}));
  denied.addWildcard("*.w.example", kAaaa);
  EXPECT_TRUE(
      proves("a.z.w.example", kAaaa, kNodata, rfc4035({"x.y.w.example", "*.w.example"}), denied));
}

TEST_F(AggressiveNsecTest, NothingBelowADelegation) {
  // b.example: NS without SOA (unsigned delegation); a.example: NS and DS.
  // Their NSECs cover names below them but say nothing about them (RFC
  // 6840 section 4.1): the child zone does.
  for (const char* name : {"mc.b.example", "x.mc.b.example", "x.a.example"}) {
    for (uint16_t type : {kA, kMx, kTxt}) EXPECT_TRUE(unproven(name, type, chain_)) << name;
  }
  // The parent side of a delegation says nothing of the child's data.
  EXPECT_TRUE(unproven("b.example", kA, chain_));
  EXPECT_TRUE(unproven("a.example", kTxt, chain_));
}

TEST_F(AggressiveNsecTest, NothingBelowADname) {
  const Rrsets records = {nsec("example", "d.example", {kNs, kSoa, kRrsig, kNsec}),
                          nsec("d.example", "e.example", {kDname, kRrsig, kNsec}),
                          nsec("e.example", "example", {kA, kRrsig, kNsec})};
  FakeRanges source(records);
  EXPECT_TRUE(unproven("x.d.example", kA, source));
  EXPECT_TRUE(unproven("y.x.d.example", kA, source));
  // The DNAME owner itself is an ordinary name, and so are its neighbours.
  EXPECT_TRUE(proves("d.example", kA, kNodata, {records[1]}, source));
  EXPECT_TRUE(proves("da.example", kA, kNxdomain, {records[1], records[0]}, source));
}

TEST_F(AggressiveNsecTest, NoProofWithoutTheCoveringRecord) {
  FakeRanges no_cover(rfc4035Chain());
  no_cover.remove(N("b.example"));
  EXPECT_TRUE(unproven("ml.example", kA, no_cover));
  FakeRanges no_wildcard_cover(rfc4035Chain());
  no_wildcard_cover.remove(N("example"));
  EXPECT_TRUE(unproven("ml.example", kA, no_wildcard_cover));
  EXPECT_TRUE(unproven("zz.example", kA, no_wildcard_cover));
  FakeRanges no_match(rfc4035Chain());
  no_match.remove(N("ns1.example"));
  EXPECT_TRUE(unproven("ns1.example", kMx, no_match));
  FakeRanges no_star(rfc4035Chain());
  no_star.remove(N("*.w.example"));
  EXPECT_TRUE(unproven("a.z.w.example", kAaaa, no_star));
  EXPECT_TRUE(unproven("a.z.w.example", kMx, no_star));
  FakeRanges empty({});
  EXPECT_TRUE(unproven("ml.example", kA, empty));
}

TEST_F(AggressiveNsecTest, DsIsNeverSynthesised) {
  // denial.h proves these from the same records (RFC 4035 B.5); a DS
  // question belongs to the parent's chain of trust, not to the ranges.
  EXPECT_TRUE(unproven("b.example", kDs, chain_));
  EXPECT_TRUE(unproven("ns1.example", kDs, chain_));
  EXPECT_TRUE(unproven("ml.example", kDs, chain_));
}

TEST_F(AggressiveNsecTest, MetaTypesAreNeverNodata) {
  // A bitmap cannot deny ANY (RFC 6895 section 3.1 meta types): ns1.example
  // has an A record, which ANY would return.
  for (uint16_t meta : {uint16_t{255}, uint16_t{252}, uint16_t{128}}) {
    EXPECT_TRUE(unproven("ns1.example", meta, chain_)) << meta;
  }
}

TEST_F(AggressiveNsecTest, QnameOutsideTheZone) {
  EXPECT_TRUE(unproven("ml.other", kA, chain_));
  EXPECT_TRUE(unproven("other", kA, chain_));
  EXPECT_TRUE(unproven(".", kA, chain_));
  // Records that are not the zone's prove nothing in it.
  zone_ = N("other");
  FakeRanges foreign({nsec("b.example", "ns1.example", {kNs, kNsec}),
                      nsec("other", "a.other", {kSoa, kNs, kNsec})});
  EXPECT_TRUE(unproven("ml.other", kA, foreign));
}

TEST_F(AggressiveNsecTest, NsecRangesIgnoreNsec3Records) {
  // A zone entry that says NSEC, ranges that hold NSEC3: nothing.
  FakeRanges source(rfc5155Chain());
  EXPECT_TRUE(unproven("ns1.example", kMx, source));
  EXPECT_TRUE(unproven("a.c.x.w.example", kA, source));
}

// --- NSEC3: RFC 5155 Appendix B --------------------------------------------------

TEST_F(AggressiveNsec3Test, NxdomainClosestEncloserNextCloserWildcard) {
  // B.1: b4um8 matches the closest encloser x.w.example, 0p9mh covers the
  // next closer c.x.w.example, 35mth covers *.x.w.example.
  EXPECT_TRUE(
      proves("a.c.x.w.example", kA, kNxdomain, rfc5155({"b4um8", "0p9mh", "35mth"}), chain_));
  EXPECT_TRUE(
      proves("A.C.X.W.Example", kMx, kNxdomain, rfc5155({"b4um8", "0p9mh", "35mth"}), chain_));
}

TEST_F(AggressiveNsec3Test, NxdomainRecordsEachOnce) {
  // Two records: the apex, and one range holding every other hash (the
  // chain wraps). It covers both the next closer name and the wildcard.
  const auto apex = hashOf("example");
  const Rrsets records = {nsec3(apex, step(apex, 1), {kNs, kSoa, kRrsig, kDnskey, kNsec3param}),
                          nsec3(step(apex, 1), apex, {kA, kRrsig})};
  FakeRanges source(records);
  const RangeProof proof = prove("nothere.example", kA, source);
  EXPECT_EQ(proof.answer, kNxdomain);
  EXPECT_EQ(proof.slot_count, 2);
  EXPECT_TRUE(proves("nothere.example", kA, kNxdomain, records, source));
  EXPECT_TRUE(proves("a.b.nothere.example", kTxt, kNxdomain, records, source));
}

TEST_F(AggressiveNsec3Test, NodataByMatch) {
  // B.2: ns1.example has A, not MX.
  EXPECT_TRUE(proves("ns1.example", kMx, kNodata, rfc5155({"2t7b4"}), chain_));
  EXPECT_TRUE(proves("NS1.example", kTxt, kNodata, rfc5155({"2t7b4"}), chain_));
  EXPECT_TRUE(unproven("ns1.example", kA, chain_));
  EXPECT_TRUE(proves("example", kTxt, kNodata, rfc5155({"0p9mh"}), chain_));
  // A CNAME at qname is no NODATA.
  FakeRanges cname({matchOf("www.example", {kCname, kRrsig})});
  EXPECT_TRUE(unproven("www.example", kA, cname));
  // The parent side of a delegation (a.example, NS and DS) speaks only for DS.
  EXPECT_TRUE(unproven("a.example", kTxt, chain_));
}

TEST_F(AggressiveNsec3Test, NodataAtAnEmptyNonTerminal) {
  // B.2.1: y.w.example and w.example own nothing: NSEC3 with no types.
  EXPECT_TRUE(proves("y.w.example", kA, kNodata, rfc5155({"ji6ne"}), chain_));
  EXPECT_TRUE(proves("w.example", kMx, kNodata, rfc5155({"k8ude"}), chain_));
}

TEST_F(AggressiveNsec3Test, WildcardNodata) {
  // B.5: k8ude matches w.example, q04jk covers z.w.example, r53bq matches
  // *.w.example (MX only).
  EXPECT_TRUE(
      proves("a.z.w.example", kAaaa, kNodata, rfc5155({"k8ude", "q04jk", "r53bq"}), chain_));
}

TEST_F(AggressiveNsec3Test, WildcardAnswer) {
  // B.4: a.z.w.example MX from *.w.example; q04jk covers the next closer
  // z.w.example (RFC 5155 section 8.8).
  const RangeProof proof = prove("a.z.w.example", kMx, chain_);
  EXPECT_EQ(proof.answer, kWildcard);
  EXPECT_EQ(proof.wildcard, N("*.w.example"));
  EXPECT_TRUE(proves("a.z.w.example", kMx, kWildcard, rfc5155({"q04jk"}), chain_));
}

// RFC 5155 section 8.8: a wildcard answer carries only the record that
// covers the next closer name, never the records matching the closest
// encloser or the wildcard. The wildcard RRset at hand stands for both.
TEST_F(AggressiveNsec3Test, WildcardAnswerFromAWildcardAtHand) {
  // q04jk covers z.w.example, the next closer of a.z.w.example.
  FakeRanges source(rfc5155({"q04jk"}));
  EXPECT_TRUE(unproven("a.z.w.example", kMx, source)) << "nothing shows *.w.example exists";
  source.addWildcard("*.w.example", kMx);
  const RangeProof proof = prove("a.z.w.example", kMx, source);
  EXPECT_EQ(proof.answer, kWildcard);
  EXPECT_EQ(proof.wildcard, N("*.w.example"));
  EXPECT_TRUE(proves("a.z.w.example", kMx, kWildcard, rfc5155({"q04jk"}), source));
  EXPECT_TRUE(proves("b.a.z.w.example", kMx, kWildcard, rfc5155({"q04jk"}), source));
  EXPECT_TRUE(unproven("a.z.w.example", kA, source));
  // Signed by another zone: no.
  FakeRanges foreign(rfc5155({"q04jk"}));
  foreign.addWildcard("*.w.example", kMx, "w.example");
  EXPECT_TRUE(unproven("a.z.w.example", kMx, foreign));
  // The next closer name exists (x.w.example, b4um8 matches it): the
  // wildcard does not apply below it.
  FakeRanges exists(rfc5155({"b4um8", "q04jk"}));
  exists.addWildcard("*.w.example", kMx);
  EXPECT_TRUE(unproven("a.x.w.example", kMx, exists));
  EXPECT_TRUE(unproven("x.w.example", kMx, exists));
  // An opt-out cover may hide a delegation: no.
  FakeRanges opt_out(rfc5155({"q04jk"}, 1));
  opt_out.addWildcard("*.w.example", kMx);
  EXPECT_TRUE(unproven("a.z.w.example", kMx, opt_out));
  // A child's wildcard below a delegation (a.example) is not the parent's.
  FakeRanges delegation(rfc5155Chain());
  delegation.addWildcard("*.a.example", kA, "a.example");
  EXPECT_TRUE(unproven("x.a.example", kA, delegation));
  // The full chain proves the same answer the usual way.
  chain_.addWildcard("*.w.example", kMx);
  EXPECT_TRUE(proves("a.z.w.example", kMx, kWildcard, rfc5155({"q04jk"}), chain_));
  EXPECT_TRUE(
      proves("a.c.x.w.example", kA, kNxdomain, rfc5155({"b4um8", "0p9mh", "35mth"}), chain_));
}

TEST_F(AggressiveNsec3Test, OptOutNeverProvesNxdomain) {
  // The RFC's zone as published (every record opt-out): the range that
  // covers the next closer may hide an unsigned delegation (RFC 5155
  // section 9.2, RFC 8198 section 5.1).
  FakeRanges opt_out(rfc5155Chain(1));
  EXPECT_TRUE(unproven("a.c.x.w.example", kA, opt_out));
  EXPECT_TRUE(unproven("c.example", kA, opt_out));  // B.3's unsigned delegation
  // Nor a wildcard answer or wildcard NODATA, which need the same cover.
  EXPECT_TRUE(unproven("a.z.w.example", kMx, opt_out));
  EXPECT_TRUE(unproven("a.z.w.example", kAaaa, opt_out));
  // A matching record proves NODATA, opt-out or not.
  EXPECT_TRUE(proves("ns1.example", kMx, kNodata, rfc5155({"2t7b4"}, 1), opt_out));
  // Only the next closer's cover matters: opt-out there is enough to stop it.
  FakeRanges cover_opt_out(rfc5155Chain());
  cover_opt_out.add(rfc5155({"0p9mh"}, 1)[0]);
  EXPECT_TRUE(unproven("a.c.x.w.example", kA, cover_opt_out));
  FakeRanges wildcard_cover_opt_out(rfc5155Chain());
  wildcard_cover_opt_out.add(rfc5155({"35mth"}, 1)[0]);
  EXPECT_TRUE(proves("a.c.x.w.example", kA, kNxdomain,
                     {rfc5155({"b4um8"})[0], rfc5155({"0p9mh"})[0], rfc5155({"35mth"}, 1)[0]},
                     wildcard_cover_opt_out));
}

TEST_F(AggressiveNsec3Test, IterationsAboveThePolicyAreNotUsed) {
  policy_.nsec3_max_iterations = 11;
  EXPECT_TRUE(unproven("a.c.x.w.example", kA, chain_));
  EXPECT_TRUE(unproven("ns1.example", kMx, chain_));
  EXPECT_TRUE(unproven("a.z.w.example", kMx, chain_));
  EXPECT_EQ(chain_.loads(), 0u) << "decided before any lookup";
  policy_.nsec3_max_iterations = 12;
  EXPECT_TRUE(
      proves("a.c.x.w.example", kA, kNxdomain, rfc5155({"b4um8", "0p9mh", "35mth"}), chain_));
}

TEST_F(AggressiveNsec3Test, RecordsWithOtherParametersAreIgnored) {
  // The zone entry's parameters against the records': a salt, iteration
  // count or algorithm of its own proves nothing.
  const std::vector<uint8_t> other_salt = {0x01};  // params_ refers to it
  params_ = nsec3Zone(12, other_salt);
  EXPECT_TRUE(unproven("ns1.example", kMx, chain_));
  EXPECT_TRUE(unproven("a.c.x.w.example", kA, chain_));
  params_ = nsec3Zone(13);
  EXPECT_TRUE(unproven("ns1.example", kMx, chain_));
  params_ = nsec3Zone(12, kSalt, 2);
  EXPECT_TRUE(unproven("ns1.example", kMx, chain_));
  // One record of the chain with another salt (its owner hash kept): the
  // proofs that need it fail, the others hold.
  params_ = nsec3Zone();
  FakeRanges source(rfc5155Chain());
  Nsec3Fields other;
  other.salt = other_salt;
  source.add(nsec3(decode("b4um86eghhds6nea196smvmlo4ors995"),
                   decode("gjeqe526plbf1g8mklp59enfd789njgi"), {kMx, kRrsig}, other));
  EXPECT_TRUE(unproven("a.c.x.w.example", kA, source));
  EXPECT_TRUE(unproven("x.w.example", kAaaa, source));
  EXPECT_TRUE(proves("ns1.example", kMx, kNodata, rfc5155({"2t7b4"}), source));
  // Another iteration count, another algorithm, flags other than 0/1.
  for (const Nsec3Fields& fields :
       {Nsec3Fields{1, 0, 13, kSalt}, Nsec3Fields{2, 0, 12, kSalt}, Nsec3Fields{1, 2, 12, kSalt}}) {
    FakeRanges changed(rfc5155Chain());
    changed.add(nsec3(decode("2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
                      decode("2vptu5timamqttgl4luu9kg21e0aor3s"), {kA, kRrsig}, fields));
    EXPECT_TRUE(unproven("ns1.example", kMx, changed));
  }
}

TEST_F(AggressiveNsec3Test, NothingBelowADelegationOrDname) {
  // a.example (NS, DS) matches as the closest encloser of x.a.example: a
  // delegation cannot be one (RFC 5155 section 8.3).
  EXPECT_TRUE(unproven("x.a.example", kA, chain_));
  EXPECT_TRUE(unproven("y.x.a.example", kA, chain_));
  const auto apex = hashOf("example");
  const auto dname = hashOf("d.example");
  const Rrsets records = {nsec3(apex, dname, {kNs, kSoa, kRrsig}),
                          nsec3(dname, apex, {kDname, kRrsig})};
  FakeRanges source(records);
  EXPECT_TRUE(unproven("x.d.example", kA, source));
  EXPECT_TRUE(proves("d.example", kA, kNodata, {records[1]}, source));
}

TEST_F(AggressiveNsec3Test, NoProofWithoutEachRecord) {
  // Without any one of B.1's three records, no proof: no other record of
  // the chain stands in for it.
  for (std::string_view prefix : {"b4um8", "0p9mh", "35mth"}) {
    FakeRanges fewer(rfc5155Chain());
    fewer.remove(rfc5155({prefix})[0].owner);
    EXPECT_TRUE(unproven("a.c.x.w.example", kA, fewer)) << "without " << prefix;
  }
  FakeRanges no_match(rfc5155Chain());
  no_match.remove(rfc5155({"2t7b4"})[0].owner);
  EXPECT_TRUE(unproven("ns1.example", kMx, no_match));
  FakeRanges empty({});
  EXPECT_TRUE(unproven("a.c.x.w.example", kA, empty));
}

TEST_F(AggressiveNsec3Test, DsIsNeverSynthesised) {
  // denial.h proves "ns1.example DS" from 2t7b4 (B.6); the ranges do not.
  EXPECT_TRUE(unproven("ns1.example", kDs, chain_));
  EXPECT_TRUE(unproven("a.c.x.w.example", kDs, chain_));
  EXPECT_EQ(chain_.loads(), 0u);
}

TEST_F(AggressiveNsec3Test, MetaTypesAreNeverNodata) {
  EXPECT_TRUE(unproven("ns1.example", 255, chain_));  // ANY
  EXPECT_TRUE(unproven("example", 255, chain_));
}

TEST_F(AggressiveNsec3Test, QnameOutsideTheZone) {
  EXPECT_TRUE(unproven("a.other", kA, chain_));
  EXPECT_TRUE(unproven("example.other", kA, chain_));
  // NSEC3 records of "example" under another zone name do not count.
  zone_ = N("w.example");
  EXPECT_TRUE(unproven("a.z.w.example", kMx, chain_));
}

// --- Against denial.h, name by name --------------------------------------------

/// Junk names under the zone: one to three labels from a small alphabet,
/// so that they land under existing names, wildcards and delegations too.
std::vector<std::string> junkNames(std::mt19937& random, int count) {
  const std::vector<std::string> labels = {"a",  "b",  "c",  "w",  "x", "y", "z",  "ns1",
                                           "xx", "zz", "ml", "mc", "0", "q", "ai", "d"};
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string name;
    const int depth = 1 + static_cast<int>(random() % 3);
    for (int l = 0; l < depth; ++l) name += labels[random() % labels.size()] + ".";
    out.push_back(name + "example");
  }
  return out;
}

// Whatever the ranges prove, denial.h proves from the whole chain too, and
// whenever denial.h proves a name error or a NODATA (not for DS) from the
// whole chain, the ranges prove it: the ranges lose nothing but opt-out.
void crossCheck(FakeRanges& source, const Rrsets& chain, const dns::Name& zone,
                const ZoneDenialParams& params, bool opt_out) {
  std::mt19937 random(8198);
  Policy policy;
  for (const std::string& name : junkNames(random, 300)) {
    for (uint16_t qtype : {kA, kMx, kAaaa, kTxt}) {
      SCOPED_TRACE(name + " " + dns::typeToText(qtype));
      const RangeProof proof = proveFromRanges(N(name), qtype, zone, params, policy, source);
      Budget budget;
      const Denial nx = proveNxdomain(N(name), zone, chain, policy, budget);
      const Denial nd = proveNodata(N(name), qtype, zone, chain, policy, budget);
      switch (proof.answer) {
        case RangeAnswer::kNxdomain:
          EXPECT_EQ(nx.result, DenialResult::kProven) << nx.reason;
          break;
        case RangeAnswer::kNodata:
          EXPECT_EQ(nd.result, DenialResult::kProven) << nd.reason;
          break;
        case RangeAnswer::kWildcard: {
          const Denial wc =
              proveWildcardAnswer(N(name), proof.wildcard.parent(), zone, chain, policy, budget);
          EXPECT_EQ(wc.result, DenialResult::kProven) << wc.reason;
          break;
        }
        case RangeAnswer::kNone:
          EXPECT_NE(nx.result, DenialResult::kProven) << "a name error the ranges missed";
          EXPECT_NE(nd.result, DenialResult::kProven) << "a NODATA the ranges missed";
          break;
      }
      if (opt_out) {
        EXPECT_NE(proof.answer, RangeAnswer::kNxdomain);
      }
      if (opt_out && nx.result == DenialResult::kOptOut) {
        EXPECT_EQ(proof.answer, RangeAnswer::kNone);
      }
    }
  }
}

TEST_F(AggressiveNsecTest, AgreesWithDenialOnJunkNames) {
  crossCheck(chain_, rfc4035Chain(), zone_, params_, false);
}

TEST_F(AggressiveNsec3Test, AgreesWithDenialOnJunkNames) {
  crossCheck(chain_, rfc5155Chain(), zone_, params_, false);
}

TEST_F(AggressiveNsec3Test, AgreesWithDenialOnJunkNamesUnderOptOut) {
  FakeRanges opt_out(rfc5155Chain(1));
  crossCheck(opt_out, rfc5155Chain(1), zone_, params_, true);
}

}  // namespace
}  // namespace shoal::dnssec
