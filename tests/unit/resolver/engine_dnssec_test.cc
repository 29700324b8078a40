// DNSSEC validation in the engine, end to end: signed zones in the fake
// Internet (signed_internet.h, signed_zone.h), a root trust anchor, and the
// answers clients get (rcode, AD, Extended DNS Error, records) from the
// engine and from the hot path, with the upstream queries the engine sent.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dnssec/verdict.h"
#include "tests/unit/resolver/engine_test_util.h"
#include "tests/unit/resolver/signed_internet.h"
#include "tests/unit/resolver/signed_zone.h"

namespace shoal::resolver::testing_util {
namespace {

/// Queries the engine sent for (qname, qtype).
size_t queriesFor(const Scenario& s, const char* qname, uint16_t qtype) {
  const dns::Name name = N(qname);
  return static_cast<size_t>(std::count_if(
      s.sent().begin(), s.sent().end(),
      [&](const SentQuery& q) { return q.qtype == qtype && q.qname == name; }));
}

class EngineDnssec : public ::testing::Test {
 protected:
  void SetUp() override { internet_ = std::make_unique<SignedInternet>(addSignedInternet(net_)); }

  /// Validation from the root's DS (or its DNSKEY).
  EngineConfig validating(bool dnskey_anchor = false) const {
    EngineConfig config = defaultConfig(net_);
    config.validation.anchors = {dnskey_anchor ? internet_->root_dnskey : internet_->root_ds};
    return config;
  }

  FakeNet net_;
  std::unique_ptr<SignedInternet> internet_;
};

// --- The chain of trust ------------------------------------------------------

TEST_F(EngineDnssec, ChainOfTrustFromRootDsAnchor) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad()) << s.sentLog();
  EXPECT_FALSE(r.ede_code.has_value()) << r.ede_text;
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.80"});
  EXPECT_EQ(countType(r.answer, dns::rrtype::kRrsig), 1u) << "the RRSIG goes to a DO client";
  // Each zone's keys fetched from its own servers, once.
  EXPECT_EQ(queriesFor(s, ".", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "com", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "secure.com", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_LE(queriesFor(s, "com", dns::rrtype::kDs), 1u) << s.sentLog();
  EXPECT_LE(queriesFor(s, "secure.com", dns::rrtype::kDs), 1u) << s.sentLog();
  // Keys from the zone's own servers, DS from the parent's.
  for (const auto& q : s.sent()) {
    if (q.qtype == dns::rrtype::kDnskey && q.qname == N(".")) {
      EXPECT_TRUE(q.server == Ip(kRootA) || q.server == Ip(kRootB)) << s.sentLog();
    } else if (q.qtype == dns::rrtype::kDnskey && q.qname == N("com")) {
      EXPECT_TRUE(q.server == Ip(kGtldA) || q.server == Ip(kGtldB)) << s.sentLog();
    } else if (q.qtype == dns::rrtype::kDnskey) {
      EXPECT_EQ(q.server, Ip(kSecureCom)) << s.sentLog();
    } else if (q.qtype == dns::rrtype::kDs && q.qname == N("secure.com")) {
      EXPECT_TRUE(q.server == Ip(kGtldA) || q.server == Ip(kGtldB)) << s.sentLog();
    }
  }
  EXPECT_EQ(s.engine().stats().secure, 1u);
  EXPECT_EQ(s.engine().stats().bogus, 0u);
  EXPECT_EQ(s.engine().stats().validation_capped, 0u);
}

TEST_F(EngineDnssec, ChainOfTrustFromRootDnskeyAnchor) {
  Scenario s(net_, validating(/*dnskey_anchor=*/true));
  auto r = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.80"});
}

TEST_F(EngineDnssec, AdOnlyForClientsThatAskAndRrsigsOnlyWithDo) {
  struct Case {
    bool dnssec_ok, ad, want_ad;
  };
  for (const Case c :
       {Case{true, false, true}, Case{false, true, true}, Case{false, false, false}}) {
    SCOPED_TRACE(testing::Message() << "DO=" << c.dnssec_ok << " AD=" << c.ad);
    Scenario s(net_, validating());
    QueryOptions o;
    o.dnssec_ok = c.dnssec_ok;
    o.ad = c.ad;
    // The first answer comes from the engine, the second from the hot path.
    for (bool from_cache : {false, true}) {
      auto r = s.resolve("www.secure.com", dns::rrtype::kA, o);
      EXPECT_EQ(r.from_cache, from_cache);
      EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text;
      EXPECT_EQ(r.ad(), c.want_ad);
      EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.80"});
      EXPECT_EQ(countType(r.answer, dns::rrtype::kRrsig), c.dnssec_ok ? 1u : 0u);
    }
  }
}

TEST_F(EngineDnssec, HotPathKeepsAdWithoutUpstreamQueries) {
  Scenario s(net_, validating());
  auto first = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  ASSERT_TRUE(first.ad()) << first.ede_text;
  const size_t sent = s.sent().size();
  auto second = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(second.from_cache);
  EXPECT_TRUE(second.ad());
  EXPECT_EQ(second.rcode, dns::rcode::kNoError);
  EXPECT_EQ(second.upstream_packets, 0u);
  EXPECT_EQ(s.sent().size(), sent);
  EXPECT_EQ(countType(second.answer, dns::rrtype::kRrsig), 1u);
}

// --- Insecure delegations ------------------------------------------------------

TEST_F(EngineDnssec, InsecureDelegationProvenByNsec) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.82"});
  EXPECT_EQ(s.engine().stats().insecure, 1u);
  // An insecure zone has no keys to ask for.
  EXPECT_EQ(queriesFor(s, "insecure.com", dns::rrtype::kDnskey), 0u) << s.sentLog();
  auto again = s.resolve("www.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(again.from_cache);
  EXPECT_FALSE(again.ad());
  EXPECT_EQ(again.rcode, dns::rcode::kNoError);
}

TEST_F(EngineDnssec, InsecureDelegationUnderNsec3OptOut) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.optout.net", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.83"});
  EXPECT_EQ(queriesFor(s, "optout.net", dns::rrtype::kDnskey), 0u) << s.sentLog();
}

// Without a DS, the delegation is insecure only if the parent proves it:
// a referral and a DS NODATA stripped of their NSEC prove nothing.
TEST_F(EngineDnssec, InsecureDelegationWithoutItsProofIsBogus) {
  for (const char* tld : {kGtldA, kGtldB}) {
    net_.server(tld).tamper = [](std::span<const uint8_t>, std::vector<Delivery>& replies) {
      for (auto& d : replies) {
        d.packet = rewriteResponse(d.packet, [](dns::Section section, const dns::Record& r) {
          return section == dns::Section::kAuthority && r.owner == N("insecure.com") &&
                 (r.type == dns::rrtype::kNsec || r.type == dns::rrtype::kRrsig);
        });
      }
    };
  }
  Scenario s(net_, validating());
  auto r = s.resolve("www.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kNsecMissing)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
}

// A trust anchor below the root: secure.com validates from its own DS,
// and names outside it are insecure (no anchor above them).
TEST_F(EngineDnssec, IslandOfSecurity) {
  EngineConfig config = defaultConfig(net_);
  config.validation.anchors = {internet_->secure_com_ds};
  Scenario s(net_, config);
  auto r = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(queriesFor(s, ".", dns::rrtype::kDnskey), 0u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "com", dns::rrtype::kDnskey), 0u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "secure.com", dns::rrtype::kDs), 0u) << s.sentLog();
  auto outside = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(outside.rcode, dns::rcode::kNoError) << outside.ede_text;
  EXPECT_FALSE(outside.ad());
}

// The proof of no DS that came with a referral (no SOA) serves the
// validator, not a client: a client asking for that DS gets the parent's
// NODATA with its SOA (RFC 2308 section 2.2), as a downstream validator
// needs it, from the cache or the parent.
TEST_F(EngineDnssec, AClientAskingForADsDenialKeptFromAReferralGetsTheSoa) {
  Scenario s(net_, validating());
  // com's keys cached first: the referral's proof is then validated as it
  // comes (and kept secure, without SOA).
  EXPECT_TRUE(s.resolve("www.secure.com", dns::rrtype::kA, withDo()).ad());
  auto www = s.resolve("www.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(www.rcode, dns::rcode::kNoError) << www.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(www.ad());
  for (int ask = 0; ask < 2; ++ask) {  // resolved, then from the cache
    auto no_ds = s.resolve("insecure.com", dns::rrtype::kDs, withDo());
    EXPECT_EQ(no_ds.rcode, dns::rcode::kNoError) << no_ds.ede_text << "\n" << s.sentLog();
    EXPECT_TRUE(no_ds.ad());
    EXPECT_EQ(countType(no_ds.authority, dns::rrtype::kSoa), 1u) << "ask " << ask;
    EXPECT_EQ(countType(no_ds.authority, dns::rrtype::kNsec), 1u) << "ask " << ask;
    if (ask == 1) {
      EXPECT_TRUE(no_ds.from_cache);
    }
  }
}

// A client may ask for the chain itself.
TEST_F(EngineDnssec, ClientsAskingForDsAndDnskey) {
  Scenario s(net_, validating());
  auto ds = s.resolve("secure.com", dns::rrtype::kDs, withDo());
  EXPECT_EQ(ds.rcode, dns::rcode::kNoError) << ds.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(ds.ad());
  EXPECT_EQ(countType(ds.answer, dns::rrtype::kDs), 1u);
  auto ns = s.resolve("secure.com", dns::rrtype::kNs, withDo());
  EXPECT_EQ(ns.rcode, dns::rcode::kNoError) << ns.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(ns.ad()) << "the child's own NS set is signed";
  EXPECT_EQ(ns.rdataOf(dns::rrtype::kNs), std::vector<std::string>{"ns1.secure.com."});
  auto keys = s.resolve("secure.com", dns::rrtype::kDnskey, withDo());
  EXPECT_EQ(keys.rcode, dns::rcode::kNoError) << keys.ede_text;
  EXPECT_TRUE(keys.ad());
  EXPECT_EQ(countType(keys.answer, dns::rrtype::kDnskey), 1u);
  // The proof that insecure.com has no DS is itself secure.
  auto no_ds = s.resolve("insecure.com", dns::rrtype::kDs, withDo());
  EXPECT_EQ(no_ds.rcode, dns::rcode::kNoError) << no_ds.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(no_ds.answer.empty());
  EXPECT_TRUE(no_ds.ad());
  EXPECT_EQ(countType(no_ds.authority, dns::rrtype::kNsec), 1u);
  // An opt-out span proves only that there may be an unsigned delegation.
  auto opt_out = s.resolve("optout.net", dns::rrtype::kDs, withDo());
  EXPECT_EQ(opt_out.rcode, dns::rcode::kNoError) << opt_out.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(opt_out.answer.empty());
  EXPECT_FALSE(opt_out.ad());
}

// --- Bogus data ---------------------------------------------------------------

// RFC 8914 section 4.11: "RRSIGs Missing": the zone has a DS and keys, but
// nothing is signed.
TEST_F(EngineDnssec, StrippedSignaturesUnderASignedParentAreBogus) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.stripped.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kRrsigsMissing)) << r.ede_text;
  EXPECT_FALSE(r.ad());
  EXPECT_TRUE(r.answer.empty());
}

// RFC 8914 section 4.10: "DNSKEY Missing": a DS exists at the parent, but
// the child has no DNSKEY.
TEST_F(EngineDnssec, UnsignedZoneWithDsIsBogusDnskeyMissing) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.nokey.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kDnskeyMissing)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
}

TEST_F(EngineDnssec, BadSignatureIsBogusUnlessCheckingDisabled) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(s.engine().stats().bogus, 1u);

  // CD (RFC 4035 section 3.2.2): the data, never AD, from the hot path too.
  QueryOptions cd = withDo();
  cd.cd = true;
  auto cached = s.resolve("www.badsig.com", dns::rrtype::kA, cd);
  EXPECT_TRUE(cached.from_cache);
  EXPECT_EQ(cached.rcode, dns::rcode::kNoError);
  EXPECT_TRUE(cached.cd());
  EXPECT_FALSE(cached.ad());
  EXPECT_EQ(cached.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.85"});
}

TEST_F(EngineDnssec, CheckingDisabledGetsBogusDataFromTheEngine) {
  Scenario s(net_, validating());
  QueryOptions cd = withDo();
  cd.cd = true;
  auto r = s.resolve("www.badsig.com", dns::rrtype::kA, cd);
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.85"});
  // The next client without CD gets the SERVFAIL the stored status says.
  auto plain = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(plain.from_cache);
  EXPECT_EQ(plain.rcode, dns::rcode::kServFail);
  EXPECT_EQ(plain.ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus));
}

// Coalesced clients share the task, not the verdict's consequence: the CD
// client gets the data, the other SERVFAIL.
TEST_F(EngineDnssec, CoalescedClientsWithAndWithoutCd) {
  Scenario s(net_, validating());
  QueryOptions cd = withDo();
  cd.cd = true;
  cd.id = 0x1111;
  const uint64_t plain = s.submit("www.badsig.com", dns::rrtype::kA, withDo());
  const uint64_t checking_disabled = s.submit("www.badsig.com", dns::rrtype::kA, cd);
  s.run();
  EXPECT_EQ(s.result(plain).rcode, dns::rcode::kServFail);
  EXPECT_EQ(s.result(plain).ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus));
  EXPECT_EQ(s.result(checking_disabled).rcode, dns::rcode::kNoError);
  EXPECT_EQ(s.result(checking_disabled).id, 0x1111);
  EXPECT_FALSE(s.result(checking_disabled).ad());
  EXPECT_EQ(s.result(checking_disabled).rdataOf(dns::rrtype::kA),
            std::vector<std::string>{"192.0.2.85"});
  EXPECT_EQ(s.engine().stats().coalesced, 1u);
}

TEST_F(EngineDnssec, ExpiredSignatureIsBogus) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.expired.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kSignatureExpired)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
}

TEST_F(EngineDnssec, DsForAKeyNotInTheDnskeySetIsBogus) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.wrongds.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kDnskeyMissing)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
}

// RFC 4035 section 4.7: bogus data is remembered (bogus_ttl), then fetched
// and validated again.
TEST_F(EngineDnssec, BogusAnswersAreCachedForTheBogusTtl) {
  EngineConfig config = validating();
  config.validation.bogus_ttl = 60;
  Scenario s(net_, config);
  auto first = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  ASSERT_EQ(first.rcode, dns::rcode::kServFail);
  EXPECT_GE(queriesFor(s, "www.badsig.com", dns::rrtype::kA), 1u);
  const size_t asked = queriesFor(s, "www.badsig.com", dns::rrtype::kA);

  s.advance(30'000);
  auto second = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.rcode, dns::rcode::kServFail);
  EXPECT_EQ(second.ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus));
  EXPECT_EQ(second.upstream_packets, 0u);

  s.advance(31'000);  // 61 s after the first answer
  auto third = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  EXPECT_FALSE(third.from_cache);
  EXPECT_EQ(third.rcode, dns::rcode::kServFail);
  EXPECT_EQ(third.ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus));
  EXPECT_EQ(queriesFor(s, "www.badsig.com", dns::rrtype::kA), asked + 1) << s.sentLog();
  // The zone's keys were secure, with their own TTL: not asked again.
  EXPECT_EQ(queriesFor(s, "badsig.com", dns::rrtype::kDnskey), 1u) << s.sentLog();
}

// Bogus keys too: within bogus_ttl another name of the zone fails without
// asking for them again; after it they are fetched and judged again.
TEST_F(EngineDnssec, BogusKeysAreRetriedAfterTheBogusTtl) {
  EngineConfig config = validating();
  config.validation.bogus_ttl = 60;
  Scenario s(net_, config);
  auto first = s.resolve("www.wrongds.com", dns::rrtype::kA, withDo());
  ASSERT_EQ(first.rcode, dns::rcode::kServFail);
  ASSERT_EQ(queriesFor(s, "wrongds.com", dns::rrtype::kDnskey), 1u) << s.sentLog();

  s.advance(10'000);
  auto other = s.resolve("nothere.wrongds.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(other.rcode, dns::rcode::kServFail);
  EXPECT_EQ(other.ede_code, std::optional<uint16_t>(dnssec::ede::kDnskeyMissing)) << other.ede_text;
  EXPECT_EQ(queriesFor(s, "wrongds.com", dns::rrtype::kDnskey), 1u) << s.sentLog();

  s.advance(60'000);
  auto later = s.resolve("mail.wrongds.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(later.rcode, dns::rcode::kServFail);
  EXPECT_EQ(later.ede_code, std::optional<uint16_t>(dnssec::ede::kDnskeyMissing)) << later.ede_text;
  EXPECT_EQ(queriesFor(s, "wrongds.com", dns::rrtype::kDnskey), 2u) << s.sentLog();
}

// --- Authenticated denial -------------------------------------------------------

TEST_F(EngineDnssec, SecureNxdomainWithNsec) {
  Scenario s(net_, validating());
  auto r = s.resolve("nothere.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_GE(countType(r.authority, dns::rrtype::kNsec), 1u);
  EXPECT_GE(countType(r.authority, dns::rrtype::kRrsig), 2u);  // SOA and NSEC
  auto cached = s.resolve("nothere.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(cached.from_cache);
  EXPECT_EQ(cached.rcode, dns::rcode::kNxDomain);
  EXPECT_TRUE(cached.ad());
  EXPECT_GE(countType(cached.authority, dns::rrtype::kNsec), 1u);
}

TEST_F(EngineDnssec, SecureNxdomainWithNsec3) {
  Scenario s(net_, validating());
  auto r = s.resolve("nothere.secure.net", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_GE(countType(r.authority, dns::rrtype::kNsec3), 2u);
  // Without DO: AD only for an AD client, and no proofs.
  QueryOptions ad;
  ad.ad = true;
  auto cached = s.resolve("nothere.secure.net", dns::rrtype::kA, ad);
  EXPECT_TRUE(cached.from_cache);
  EXPECT_TRUE(cached.ad());
  EXPECT_EQ(countType(cached.authority, dns::rrtype::kNsec3), 0u);
  EXPECT_EQ(countType(cached.authority, dns::rrtype::kSoa), 1u);
}

TEST_F(EngineDnssec, SecureNodata) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.secure.com", dns::rrtype::kTxt, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.answer.empty());
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(countType(r.authority, dns::rrtype::kNsec), 1u);

  auto n3 = s.resolve("www.secure.net", dns::rrtype::kTxt, withDo());
  EXPECT_EQ(n3.rcode, dns::rcode::kNoError) << n3.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(n3.answer.empty());
  EXPECT_TRUE(n3.ad());
  EXPECT_EQ(countType(n3.authority, dns::rrtype::kNsec3), 1u);

  auto ent = s.resolve("b.c.secure.com", dns::rrtype::kA, withDo());  // empty non-terminal
  EXPECT_EQ(ent.rcode, dns::rcode::kNoError) << ent.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(ent.answer.empty());
  EXPECT_TRUE(ent.ad());
}

TEST_F(EngineDnssec, SecureWildcardAnswer) {
  Scenario s(net_, validating());
  auto r = s.resolve("foo.wild.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.77"});

  auto n3 = s.resolve("foo.wild.secure.net", dns::rrtype::kA, withDo());
  EXPECT_EQ(n3.rcode, dns::rcode::kNoError) << n3.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(n3.ad());
  EXPECT_EQ(n3.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.78"});
}

TEST_F(EngineDnssec, SecureWildcardNodata) {
  Scenario s(net_, validating());
  auto r = s.resolve("foo.wild.secure.com", dns::rrtype::kTxt, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.answer.empty());
  EXPECT_TRUE(r.ad());
  auto n3 = s.resolve("foo.wild.secure.net", dns::rrtype::kTxt, withDo());
  EXPECT_EQ(n3.rcode, dns::rcode::kNoError) << n3.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(n3.answer.empty());
  EXPECT_TRUE(n3.ad());
}

/// A tamper hook that drops the last NSEC or NSEC3 record of the authority
/// section (and its RRSIGs): a denial with one proof missing.
void dropLastProof(std::span<const uint8_t>, std::vector<Delivery>& replies) {
  auto isProof = [](const dns::Record& r) {
    return r.type == dns::rrtype::kNsec || r.type == dns::rrtype::kNsec3;
  };
  for (auto& d : replies) {
    std::optional<dns::Name> last;
    (void)rewriteResponse(d.packet, [&](dns::Section section, const dns::Record& r) {
      if (section == dns::Section::kAuthority && isProof(r)) last = r.owner;
      return false;
    });
    if (!last) continue;
    d.packet = rewriteResponse(d.packet, [&](dns::Section section, const dns::Record& r) {
      const uint16_t covered = r.type == dns::rrtype::kRrsig ? typeCovered(r.rdata) : r.type;
      return section == dns::Section::kAuthority && r.owner == *last &&
             (covered == dns::rrtype::kNsec || covered == dns::rrtype::kNsec3);
    });
  }
}

// The proofs are checked, not just present: without the record that denies
// the wildcard, an NXDOMAIN is bogus.
TEST_F(EngineDnssec, NxdomainWithAnIncompleteProofIsBogus) {
  net_.server(kSecureCom).tamper = dropLastProof;
  net_.server(kSecureNet).tamper = dropLastProof;
  Scenario s(net_, validating());
  for (const char* name : {"nothere.secure.com", "nothere.secure.net"}) {
    auto r = s.resolve(name, dns::rrtype::kA, withDo());
    EXPECT_EQ(r.rcode, dns::rcode::kServFail) << name << "\n" << s.sentLog();
    EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kNsecMissing))
        << name << ": " << r.ede_text;
  }
}

// RFC 5155 section 9.2: an NXDOMAIN covered only by an opt-out NSEC3 may
// hide an unsigned delegation: insecure, not bogus.
TEST_F(EngineDnssec, NxdomainUnderNsec3OptOutIsInsecure) {
  Scenario s(net_, validating());
  auto r = s.resolve("nothere.net", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << r.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_GE(countType(r.authority, dns::rrtype::kNsec3), 2u);
}

// RFC 4035 section 5.3.4: a wildcard expansion without the proof that the
// name itself does not exist could hide a real record: bogus.
TEST_F(EngineDnssec, WildcardAnswerWithoutItsProofIsBogus) {
  net_.server(kSecureCom).tamper = [](std::span<const uint8_t>, std::vector<Delivery>& replies) {
    for (auto& d : replies) {
      d.packet = rewriteResponse(d.packet, [](dns::Section section, const dns::Record& r) {
        return section == dns::Section::kAuthority &&
               (r.type == dns::rrtype::kNsec ||
                (r.type == dns::rrtype::kRrsig && typeCovered(r.rdata) == dns::rrtype::kNsec));
      });
    }
  };
  Scenario s(net_, validating());
  auto r = s.resolve("foo.wild.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kNsecMissing)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
  EXPECT_FALSE(r.ad());
}

// --- CNAME chains -------------------------------------------------------------

TEST_F(EngineDnssec, CnameFromSecureToInsecureZoneHasNoAd) {
  Scenario s(net_, validating());
  auto r = s.resolve("to-insecure.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kCname), std::vector<std::string>{"www.insecure.com."});
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.82"});
  auto cached = s.resolve("to-insecure.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(cached.from_cache);
  EXPECT_FALSE(cached.ad());
  EXPECT_EQ(cached.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.82"});
}

TEST_F(EngineDnssec, CnameFromInsecureToSecureZoneHasNoAd) {
  Scenario s(net_, validating());
  auto r = s.resolve("to-secure.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.80"});
  // The target alone is secure.
  auto target = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(target.from_cache);
  EXPECT_TRUE(target.ad());
}

TEST_F(EngineDnssec, CnameAcrossTwoSecureZonesHasAd) {
  Scenario s(net_, validating());
  auto r = s.resolve("to-net.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kCname), std::vector<std::string>{"www.secure.net."});
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.81"});
  auto cached = s.resolve("to-net.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(cached.from_cache);
  EXPECT_TRUE(cached.ad());
}

TEST_F(EngineDnssec, CnameToBogusDataIsBogus) {
  Scenario s(net_, validating());
  auto r = s.resolve("to-badsig.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
  // The hot path follows the chain to the same verdict.
  auto cached = s.resolve("to-badsig.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(cached.from_cache);
  EXPECT_EQ(cached.rcode, dns::rcode::kServFail);
  EXPECT_EQ(cached.ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus));
  EXPECT_TRUE(cached.answer.empty());
}

TEST_F(EngineDnssec, CnameInsideASecureZoneHasAd) {
  Scenario s(net_, validating());
  auto r = s.resolve("alias.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.80"});
}

// RFC 6672 section 5.3.3: the CNAME a DNAME synthesises is unsigned; it is
// as secure as the DNAME that makes it.
TEST_F(EngineDnssec, DnameFromASecureZoneHasAd) {
  Scenario s(net_, validating());
  auto r = s.resolve("www.dname.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kDname), std::vector<std::string>{"secure.net."});
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.81"});
  auto cached = s.resolve("www.dname.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(cached.from_cache);
  EXPECT_TRUE(cached.ad());
  EXPECT_EQ(cached.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.81"});
}

// --- Trust anchors and work ---------------------------------------------------

// A root anchor that matches no root key: nothing validates, and clients
// still get an answer (SERVFAIL, DNSKEY Missing), not silence.
TEST_F(EngineDnssec, WrongRootAnchorMakesEverythingBogus) {
  EngineConfig config = defaultConfig(net_);
  config.validation.anchors = {internet_->secure_com_ds};
  config.validation.anchors.front().owner = dns::Name();  // secure.com's DS, for the root
  Scenario s(net_, config);
  auto r = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kDnskeyMissing)) << r.ede_text;
  EXPECT_LT(r.elapsed_ms, 3000);
  auto insecure = s.resolve("www.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(insecure.rcode, dns::rcode::kServFail);
}

// The zone's keys cannot be fetched (its server drops DNSKEY queries): the
// data cannot be validated, and is not served as if it were insecure.
TEST_F(EngineDnssec, UnreachableKeysFailClosed) {
  net_.server(kSecureCom).tamper = [](std::span<const uint8_t> query,
                                      std::vector<Delivery>& replies) {
    auto msg = dns::Message::parse(query);
    if (msg && msg->question() && msg->question()->type == dns::rrtype::kDnskey) replies.clear();
  };
  Scenario s(net_, validating());
  auto r = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  // No Reachable Authority (the DNSKEY's server), or DNSKEY Missing.
  EXPECT_TRUE(r.ede_code == dns::ede::kNoReachableAuthority ||
              r.ede_code == dnssec::ede::kDnskeyMissing)
      << r.ede_code.value_or(0) << " " << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
  EXPECT_FALSE(r.ad());
  EXPECT_LE(r.elapsed_ms, 3000);
  EXPECT_GE(queriesFor(s, "secure.com", dns::rrtype::kDnskey), 1u) << s.sentLog();
}

// RFC 7646: below a negative trust anchor everything is insecure.
TEST_F(EngineDnssec, NegativeTrustAnchorTurnsBogusIntoInsecure) {
  EngineConfig config = validating();
  config.validation.negative_anchors = {N("badsig.com")};
  Scenario s(net_, config);
  auto r = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_FALSE(r.ede_code.has_value());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.85"});
  // The rest of the tree still validates.
  auto secure = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(secure.ad());
}

TEST_F(EngineDnssec, KeysAreFetchedOncePerZone) {
  Scenario s(net_, validating());
  struct Q {
    const char* name;
    uint16_t type;
  };
  for (const Q q : {Q{"www.secure.com", dns::rrtype::kA}, Q{"mail.secure.com", dns::rrtype::kA},
                    Q{"www.secure.com", dns::rrtype::kAaaa},
                    Q{"nothere.secure.com", dns::rrtype::kA},
                    Q{"www.secure.com", dns::rrtype::kTxt},
                    Q{"x.wild.secure.com", dns::rrtype::kA},
                    Q{"alias.secure.com", dns::rrtype::kA}}) {
    // Another worker each time: the chain is shared through the cache.
    s.newWorker();
    auto r = s.resolve(q.name, q.type, withDo());
    EXPECT_TRUE(r.ad()) << q.name << " " << dns::typeToText(q.type) << ": " << r.ede_text;
  }
  EXPECT_EQ(queriesFor(s, ".", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "com", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "secure.com", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_LE(queriesFor(s, "com", dns::rrtype::kDs), 1u) << s.sentLog();
  EXPECT_LE(queriesFor(s, "secure.com", dns::rrtype::kDs), 1u) << s.sentLog();
}

TEST_F(EngineDnssec, ConcurrentClientsShareTheKeyFetches) {
  Scenario s(net_, validating());
  const uint64_t a = s.submit("www.secure.com", dns::rrtype::kA, withDo());
  const uint64_t b = s.submit("mail.secure.com", dns::rrtype::kA, withDo());
  const uint64_t c = s.submit("nothere.secure.com", dns::rrtype::kA, withDo());
  s.run();
  EXPECT_TRUE(s.result(a).ad()) << s.result(a).ede_text;
  EXPECT_TRUE(s.result(b).ad()) << s.result(b).ede_text;
  EXPECT_TRUE(s.result(c).ad()) << s.result(c).ede_text;
  EXPECT_EQ(s.result(c).rcode, dns::rcode::kNxDomain);
  EXPECT_EQ(queriesFor(s, ".", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "com", dns::rrtype::kDnskey), 1u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "secure.com", dns::rrtype::kDnskey), 1u) << s.sentLog();
}

// RFC 9156 with RFC 8020: a secure NXDOMAIN for a minimised name answers
// the client at once, and every name below it from the cache.
TEST_F(EngineDnssec, SecureNxdomainForAMinimisedNameAnswersTheWholeSubtree) {
  EngineConfig config = validating();
  config.aggressive_nsec = false;  // the NXDOMAIN cut alone, not the ranges
  Scenario s(net_, config);
  auto r = s.resolve("a.b.nosuch.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad()) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "nosuch.secure.com", dns::rrtype::kA), 1u) << s.sentLog();
  EXPECT_EQ(queriesFor(s, "a.b.nosuch.secure.com", dns::rrtype::kA), 0u) << s.sentLog();
  const size_t sent = s.sent().size();
  auto below = s.resolve("c.nosuch.secure.com", dns::rrtype::kAaaa, withDo());
  EXPECT_EQ(below.rcode, dns::rcode::kNxDomain);
  EXPECT_TRUE(below.ad());
  EXPECT_EQ(s.sent().size(), sent) << s.sentLog();
}

// A server that answers NXDOMAIN for an empty non-terminal cannot prove it
// in a signed zone: the full name is asked and answered.
TEST_F(EngineDnssec, UnprovenNxdomainForAMinimisedNameFallsBackToTheFullName) {
  net_.server(kSecureCom).nxdomain_for_ent = true;
  Scenario s(net_, validating());
  auto r = s.resolve("a.b.c.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad()) << s.sentLog();
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), std::vector<std::string>{"192.0.2.90"});
  EXPECT_EQ(queriesFor(s, "a.b.c.secure.com", dns::rrtype::kA), 1u) << s.sentLog();
}

// KeyTrap (CVE-2023-50387): many keys sharing a tag and many signatures
// cost a bounded number of verifications; the answer is a quick SERVFAIL.
TEST_F(EngineDnssec, KeyTrapIsCappedAndFailsFast) {
  Scenario s(net_, validating());
  const auto started = std::chrono::steady_clock::now();
  auto r = s.resolve("www.keytrap.com", dns::rrtype::kA, withDo());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dnssec::ede::kDnssecBogus)) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
  EXPECT_GE(s.engine().stats().validation_capped, 1u);
  EXPECT_EQ(s.engine().stats().bogus, 1u);
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_LT(r.elapsed_ms, 3000) << "fake time: answered before the client's deadline";
}

}  // namespace
}  // namespace shoal::resolver::testing_util
