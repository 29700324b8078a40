// Engine scenarios, part 1: iteration (priming, referrals, QNAME
// minimisation, CNAME, DNAME, negative answers, glueless and lame
// delegations) against the fake Internet of internet.h, through the hot
// path and the engine exactly as a worker drives them.

#include <gtest/gtest.h>

#include "dns/constants.h"
#include "resolver/inspect.h"
#include "tests/unit/resolver/engine_test_util.h"

namespace shoal::resolver::testing_util {
namespace {

namespace rrtype = dns::rrtype;
namespace rcode = dns::rcode;
using Strings = std::vector<std::string>;

// --- 1. A cold cache ----------------------------------------------------

TEST(EngineScenario, ColdCachePrimesFollowsReferralsAndThenAnswersFromCache) {
  FakeNet net;
  standard(net);
  Scenario s(net);

  const auto r = s.resolve("WwW.ExAmPlE.CoM", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(r.rcode, rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_EQ(r.id, 0x4242);
  EXPECT_TRUE(r.ra());
  EXPECT_FALSE(r.aa());
  EXPECT_TRUE(r.rd());
  EXPECT_FALSE(r.tc());
  ASSERT_TRUE(r.question.has_value());
  EXPECT_TRUE(r.question->name.equalsExactly(N("WwW.ExAmPlE.CoM")));
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_TRUE(r.answer[0].owner.equalsExactly(N("WwW.ExAmPlE.CoM")))
      << r.answer[0].owner.toText();
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
  EXPECT_EQ(r.answer[0].ttl, 3600u);

  // Priming (RFC 8109) first, then root -> com -> example.com, each
  // referral followed once.
  ASSERT_EQ(s.sent().size(), 4u) << s.sentLog();
  EXPECT_TRUE(s.sent()[0].qname.isRoot());
  EXPECT_EQ(s.sent()[0].qtype, rrtype::kNs);
  EXPECT_EQ(questions(sentTo(s, {kRootA, kRootB})), (Strings{". NS", "com. A"}));
  EXPECT_EQ(questions(sentTo(s, {kGtldA, kGtldB})), Strings{"example.com. A"});
  EXPECT_EQ(questions(sentTo(s, {kExampleCom1, kExampleCom2})), Strings{"www.example.com. A"});
  EXPECT_EQ(r.upstream_packets, 4u);
  EXPECT_EQ(s.engine().stats().client_queries, 1u);
  EXPECT_EQ(s.engine().stats().answers, 1u);
  EXPECT_EQ(s.engine().tasksInFlight(), 0u);

  // The same question again: the hot path, no upstream packet, TTL counted
  // down.
  s.advance(5000);
  const auto again = s.resolve("www.example.com", rrtype::kA, {.id = 7});
  ASSERT_TRUE(again.answered);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.upstream_packets, 0u);
  EXPECT_EQ(again.id, 7);
  EXPECT_TRUE(again.ra());
  EXPECT_FALSE(again.aa());
  ASSERT_EQ(again.answer.size(), 1u);
  EXPECT_TRUE(again.answer[0].owner.equalsExactly(N("www.example.com")));
  EXPECT_EQ(again.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
  EXPECT_EQ(again.answer[0].ttl, 3595u);
  EXPECT_EQ(s.sent().size(), 4u);

  // Another name in the same zone starts at the cached cut: one packet.
  const auto mail = s.resolve("mail.example.com", rrtype::kA);
  EXPECT_EQ(mail.rdataOf(rrtype::kA), Strings{"192.0.2.25"});
  EXPECT_EQ(mail.upstream_packets, 1u) << s.sentLog();
}

// --- 2. QNAME minimisation ----------------------------------------------

TEST(EngineScenario, QnameMinimisationHidesTheFullNameFromTheRoot) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("a.b.c.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError);
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.90"});
  // RFC 9156: the root sees "com", com sees "example.com", and the zone
  // itself is walked label by label through its empty non-terminals.
  EXPECT_EQ(questions(sentTo(s, {kRootA, kRootB})), (Strings{". NS", "com. A"}));
  EXPECT_EQ(questions(sentTo(s, {kGtldA, kGtldB})), Strings{"example.com. A"});
  EXPECT_EQ(questions(sentTo(s, {kExampleCom1, kExampleCom2})),
            (Strings{"c.example.com. A", "b.c.example.com. A", "a.b.c.example.com. A"}));
}

TEST(EngineScenario, WithoutQnameMinimisationTheFullNameIsSent) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.qname_minimisation = false;
  Scenario s(net, config);
  const auto r = s.resolve("a.b.c.example.com", rrtype::kA);
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.90"});
  EXPECT_EQ(questions(sentTo(s, {kRootA, kRootB})), (Strings{". NS", "a.b.c.example.com. A"}));
  EXPECT_EQ(questions(sentTo(s, {kGtldA, kGtldB})), Strings{"a.b.c.example.com. A"});
  EXPECT_EQ(questions(sentTo(s, {kExampleCom1, kExampleCom2})), Strings{"a.b.c.example.com. A"});
}

TEST(EngineScenario, NxdomainForAnEmptyNonTerminalFallsBackToTheFullName) {
  FakeNet net;
  standard(net);
  net.server(kExampleCom1).nxdomain_for_ent = true;
  net.server(kExampleCom2).nxdomain_for_ent = true;
  Scenario s(net);
  const auto r = s.resolve("a.b.c.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.90"});
  EXPECT_EQ(questions(sentTo(s, {kExampleCom1, kExampleCom2})),
            (Strings{"c.example.com. A", "a.b.c.example.com. A"}));
  // The broken NXDOMAIN was not cached: a sibling below the ENT resolves.
  const auto sibling = s.resolve("a.b.c.example.com", rrtype::kAaaa);
  EXPECT_EQ(sibling.rcode, rcode::kNoError);
}

// --- 3. CNAME -----------------------------------------------------------

TEST(EngineScenario, CnameChainInsideTheZone) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("alias2.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError);
  ASSERT_EQ(r.answer.size(), 3u) << ::testing::PrintToString(r.answerText());
  EXPECT_EQ(r.answer[0].type, rrtype::kCname);
  EXPECT_EQ(r.answer[1].type, rrtype::kCname);
  EXPECT_EQ(r.answer[2].type, rrtype::kA);
  EXPECT_EQ(r.rdataOf(rrtype::kCname), (Strings{"alias.example.com.", "www.example.com."}));
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
  // The server followed the chain: one query at the zone.
  EXPECT_EQ(questions(sentTo(s, {kExampleCom1, kExampleCom2})), Strings{"alias2.example.com. A"});

  // From the cache: the whole chain, no packet.
  const auto again = s.resolve("alias2.example.com", rrtype::kA);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.answer.size(), 3u);
  EXPECT_EQ(again.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
}

TEST(EngineScenario, CnameToAnotherTld) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("outside.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError);
  ASSERT_EQ(r.answer.size(), 2u) << ::testing::PrintToString(r.answerText());
  EXPECT_EQ(r.rdataOf(rrtype::kCname), Strings{"www.example.net."});
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.81"});
  EXPECT_EQ(questions(sentTo(s, {kExampleNet1, kExampleNet2})), Strings{"www.example.net. A"});
}

TEST(EngineScenario, DanglingCnameIsNxdomainWithTheChain) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("dangling.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNxDomain);  // RFC 6604 section 2.1
  EXPECT_EQ(r.rdataOf(rrtype::kCname), Strings{"nothere.example.com."});
}

TEST(EngineScenario, CnameLoopIsServfail) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("loop1.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail);
  EXPECT_TRUE(r.ede_code.has_value());
  // Asked again (the loop's links are cached now): still SERVFAIL, never a
  // hang and never a partial NOERROR.
  const auto again = s.resolve("loop1.example.com", rrtype::kA);
  ASSERT_TRUE(again.answered);
  EXPECT_EQ(again.rcode, rcode::kServFail);
}

TEST(EngineScenario, CnameLoopAcrossZonesIsServfail) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("xloop.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail) << ::testing::PrintToString(r.answerText());
  EXPECT_LT(s.sent().size(), 20u) << s.sentLog();
}

/// Adds chain.com and chain.net to `net`: c1.chain.com -> c2.chain.net ->
/// c3.chain.com ... -> c<links+1>, which has an A record. With `one_zone`
/// every link is in chain.com (its server then sends the whole chain in one
/// reply).
void addChain(FakeNet& net, int links, bool one_zone) {
  const std::string soa = "@ IN SOA ns hostmaster 1 7200 3600 1209600 300\n@ IN NS ns\n";
  std::string com = soa + "ns IN A 192.0.2.71\n";
  std::string cnet = soa + "ns IN A 192.0.2.72\n";
  auto tld = [&](int i) { return one_zone || i % 2 == 1 ? std::string("com") : std::string("net"); };
  for (int i = 1; i <= links + 1; ++i) {
    std::string& text = tld(i) == "com" ? com : cnet;
    const std::string owner = "c" + std::to_string(i);
    if (i <= links) {
      text += owner + " IN CNAME c" + std::to_string(i + 1) + ".chain." + tld(i + 1) + ".\n";
    } else {
      text += owner + " IN A 192.0.2.123\n";
    }
  }
  net.addZone("chain.com", com, {"192.0.2.71"});
  net.addZone("chain.net", cnet, {"192.0.2.72"});
  net.addToZone("com", "chain 172800 IN NS ns.chain\nns.chain 172800 IN A 192.0.2.71\n");
  net.addToZone("net", "chain 172800 IN NS ns.chain\nns.chain 172800 IN A 192.0.2.72\n");
}

TEST(EngineScenario, ChainWithinTheLimitResolves) {
  FakeNet net;
  standard(net);
  addChain(net, 8, /*one_zone=*/false);
  Scenario s(net);
  const auto r = s.resolve("c1.chain.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(rrtype::kCname).size(), 8u);
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.123"});
}

TEST(EngineScenario, ChainOverTheLimitAcrossZonesIsServfail) {
  FakeNet net;
  standard(net);
  addChain(net, 20, /*one_zone=*/false);
  Scenario s(net);
  const auto r = s.resolve("c1.chain.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail) << ::testing::PrintToString(r.answerText());
}

TEST(EngineScenario, ChainOverTheLimitInOneZoneIsServfail) {
  // The server sends all 20 links and the data in one reply.
  FakeNet net;
  standard(net);
  addChain(net, 20, /*one_zone=*/true);
  Scenario s(net);
  const auto r = s.resolve("c1.chain.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail) << r.answer.size() << " answer records";
}

// --- 4. DNAME -----------------------------------------------------------

TEST(EngineScenario, DnameRedirectsToAnotherZone) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("www.dname.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  ASSERT_EQ(r.answer.size(), 3u) << ::testing::PrintToString(r.answerText());
  EXPECT_EQ(r.answer[0].type, rrtype::kDname);
  EXPECT_EQ(r.answer[1].type, rrtype::kCname);
  EXPECT_EQ(r.rdataOf(rrtype::kCname), Strings{"www.example.net."});
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.81"});

  // From the cache: the synthesised CNAME is followed, and the DNAME that
  // made it comes first again (RFC 6672 section 3.4).
  const auto again = s.resolve("www.dname.example.com", rrtype::kA);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.upstream_packets, 0u);
  ASSERT_EQ(again.answer.size(), 3u) << ::testing::PrintToString(again.answerText());
  EXPECT_EQ(again.answer[0].type, rrtype::kDname);
  EXPECT_EQ(again.answer[1].type, rrtype::kCname);
  EXPECT_EQ(again.rdataOf(rrtype::kA), Strings{"192.0.2.81"});
  // Another name below the DNAME: its target does not exist, so NXDOMAIN
  // with the chain that leads there (RFC 6604 section 2.1).
  const auto other = s.resolve("ftp.dname.example.com", rrtype::kA);
  EXPECT_EQ(other.rcode, rcode::kNxDomain) << ::testing::PrintToString(other.answerText());
  EXPECT_EQ(other.rdataOf(rrtype::kCname), Strings{"ftp.example.net."});
}

// --- 5. Negative answers ------------------------------------------------

TEST(EngineScenario, NxdomainIsCachedWithTheSoaMinimum) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("nx.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNxDomain);
  EXPECT_TRUE(r.answer.empty());
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].type, rrtype::kSoa);
  // RFC 2308 section 5: min(SOA TTL 3600, MINIMUM 300).
  EXPECT_EQ(r.authority[0].ttl, 300u);

  s.advance(10'000);
  const auto again = s.resolve("nx.example.com", rrtype::kA);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.upstream_packets, 0u);
  EXPECT_EQ(again.rcode, rcode::kNxDomain);
  ASSERT_EQ(again.authority.size(), 1u);
  EXPECT_EQ(again.authority[0].ttl, 290u);
  // NXDOMAIN covers every type of the name.
  const auto aaaa = s.resolve("nx.example.com", rrtype::kAaaa);
  EXPECT_TRUE(aaaa.from_cache);
  EXPECT_EQ(aaaa.rcode, rcode::kNxDomain);
}

TEST(EngineScenario, NegativeTtlIsTheSoaTtlWhenLower) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("nx.example.net", rrtype::kA);
  EXPECT_EQ(r.rcode, rcode::kNxDomain);
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].ttl, 60u);  // min(SOA TTL 60, MINIMUM 3600)
}

TEST(EngineScenario, NegativeTtlIsCappedByMaxNegativeTtl) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.max_negative_ttl = 30;
  Scenario s(net, config);
  const auto r = s.resolve("nx.example.com", rrtype::kA);
  EXPECT_EQ(r.rcode, rcode::kNxDomain);
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].ttl, 30u);
  const auto cached = s.resolve("nx.example.com", rrtype::kA);
  EXPECT_TRUE(cached.from_cache);
  ASSERT_EQ(cached.authority.size(), 1u);
  EXPECT_EQ(cached.authority[0].ttl, 30u);
  s.advance(31'000);
  const auto expired = s.resolve("nx.example.com", rrtype::kA);
  EXPECT_FALSE(expired.from_cache);
  EXPECT_EQ(expired.upstream_packets, 1u) << s.sentLog();
}

TEST(EngineScenario, NodataIsCached) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("www.example.com", rrtype::kTxt);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError);
  EXPECT_TRUE(r.answer.empty());
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].type, rrtype::kSoa);
  EXPECT_EQ(r.authority[0].ttl, 300u);
  const auto again = s.resolve("www.example.com", rrtype::kTxt);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.upstream_packets, 0u);
  EXPECT_EQ(again.rcode, rcode::kNoError);
  EXPECT_TRUE(again.answer.empty());
  EXPECT_EQ(again.authority.size(), 1u);
  // NODATA is per type: the A record is still asked for.
  const auto a = s.resolve("www.example.com", rrtype::kA);
  EXPECT_FALSE(a.from_cache);
  EXPECT_EQ(a.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
}

TEST(EngineScenario, NxdomainCutAnswersBelowAKnownNxdomain) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  ASSERT_EQ(s.resolve("nx.example.com", rrtype::kA).rcode, rcode::kNxDomain);
  // RFC 8020: nothing exists below a name that does not exist.
  const auto below = s.resolve("a.nx.example.com", rrtype::kA);
  ASSERT_TRUE(below.answered);
  EXPECT_EQ(below.rcode, rcode::kNxDomain);
  EXPECT_EQ(below.upstream_packets, 0u);
}

TEST(EngineScenario, WithoutNxdomainCutTheNameBelowGoesUpstream) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.nxdomain_cut = false;
  Scenario s(net, config);
  ASSERT_EQ(s.resolve("nx.example.com", rrtype::kA).rcode, rcode::kNxDomain);
  const auto below = s.resolve("a.nx.example.com", rrtype::kA);
  ASSERT_TRUE(below.answered);
  EXPECT_EQ(below.rcode, rcode::kNxDomain);
  EXPECT_FALSE(below.from_cache);
  EXPECT_GE(below.upstream_packets, 1u) << s.sentLog();
}

TEST(EngineScenario, WildcardAnswer) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("anything.wild.example.com", rrtype::kA);
  EXPECT_EQ(r.rcode, rcode::kNoError);
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_TRUE(r.answer[0].owner == N("anything.wild.example.com"));
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.77"});
}

// --- 6. Glueless delegation ---------------------------------------------

TEST(EngineScenario, GluelessDelegationLooksUpTheNameServerAddress) {
  FakeNet net;
  standard(net);
  Scenario s(net);
  const auto r = s.resolve("www.glueless.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.60"});
  // The sub-task asked example.net's servers for a name server's address
  // before glueless.com's servers (the same machines) were asked.
  const auto at_net = questions(sentTo(s, {kExampleNet1, kExampleNet2}));
  ASSERT_GE(at_net.size(), 2u) << s.sentLog();
  EXPECT_TRUE(at_net[0] == "ns1.example.net. A" || at_net[0] == "ns2.example.net. A")
      << s.sentLog();
  EXPECT_EQ(at_net.back(), "www.glueless.com. A");
  // The address found is cached like any answer.
  const auto ns = s.resolve(at_net[0].substr(0, at_net[0].find(' ')), rrtype::kA);
  EXPECT_TRUE(ns.from_cache);
}

// --- 7. Lame delegation -------------------------------------------------

TEST(EngineScenario, OneLameServerIsSkipped) {
  FakeNet net;
  standard(net);
  net.server(kExampleCom1).refused = true;
  Scenario s(net);
  const auto r = s.resolve("www.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
  // The lame server is avoided afterwards.
  const size_t lame_before = s.sentTo(kExampleCom1);
  for (const char* name : {"mail.example.com", "alias.example.com", "a.b.c.example.com"}) {
    EXPECT_EQ(s.resolve(name, rrtype::kA).rcode, rcode::kNoError) << name;
  }
  EXPECT_EQ(s.sentTo(kExampleCom1), lame_before) << s.sentLog();
}

TEST(EngineScenario, ALameMarkIsSharedWithTheOtherWorkers) {
  FakeNet net;
  standard(net);
  net.server(kExampleCom1).refused = true;
  Scenario s(net);
  ASSERT_EQ(s.resolve("www.example.com", rrtype::kA).rcode, rcode::kNoError) << s.sentLog();
  const size_t lame_before = s.sentTo(kExampleCom1);
  ASSERT_GE(lame_before, 1u) << s.sentLog();
  // Another worker: its own engine (no per-worker lame marks), the same
  // shared cache (server table included). Several names so that, without
  // the shared mark, the random exploration would try the lame server.
  for (uint64_t seed = 2; seed < 12; ++seed) {
    s.newWorker(seed);
    // A name not cached (it does not exist): the worker must ask.
    const std::string name = "w" + std::to_string(seed) + ".example.com";
    const size_t sent_before = s.sent().size();
    EXPECT_EQ(s.resolve(name, rrtype::kA).rcode, rcode::kNxDomain) << name;
    EXPECT_GT(s.sent().size(), sent_before) << name;
  }
  EXPECT_EQ(s.sentTo(kExampleCom1), lame_before) << s.sentLog();
}

TEST(EngineScenario, AnNsSetWhoseGlueIsGoneSendsTheQueryToTheParent) {
  // The NS set of example.com is cached but its in-zone servers' addresses
  // are not (glue evicted first, or another worker between storing the
  // two): the delegation is asked for again at com, not failed.
  FakeNet net;
  standard(net);
  Scenario s(net);
  ASSERT_EQ(s.resolve("www.example.com", rrtype::kA).rcode, rcode::kNoError) << s.sentLog();
  for (const char* ns : {"ns1.example.com", "ns2.example.com"}) {
    ASSERT_GT(flushName(s.cache(), ns, false).removed, 0u) << ns;
  }
  const size_t at_com = s.sentTo(kGtldA) + s.sentTo(kGtldB);
  const auto r = s.resolve("mail.example.com", rrtype::kA);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_GT(s.sentTo(kGtldA) + s.sentTo(kGtldB), at_com) << s.sentLog();
}

TEST(EngineScenario, APassingServfailIsNotLame) {
  // Both servers of the zone answer SERVFAIL once (a zone being loaded):
  // the query goes round again and succeeds, and the servers stay usable
  // for every later query (SERVFAIL marks nobody lame).
  FakeNet net;
  standard(net);
  net.server(kExampleCom1).servfail_next = 1;
  net.server(kExampleCom2).servfail_next = 1;
  Scenario s(net);
  const auto r = s.resolve("www.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
  for (const char* name : {"mail.example.com", "alias.example.com"}) {
    EXPECT_EQ(s.resolve(name, rrtype::kA).rcode, rcode::kNoError) << name << s.sentLog();
  }
}

TEST(EngineScenario, AllServersLameIsServfailWithExtendedError) {
  FakeNet net;
  standard(net);
  net.server(kExampleCom1).refused = true;
  net.server(kExampleCom2).upward_referral = true;
  Scenario s(net);
  const auto r = s.resolve("www.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail);
  ASSERT_TRUE(r.ede_code.has_value());
  EXPECT_EQ(*r.ede_code, dns::ede::kNoReachableAuthority) << r.ede_text;
  EXPECT_TRUE(r.answer.empty());
  EXPECT_LT(r.elapsed_ms, 1000);  // no waiting for timeouts: both answered
  EXPECT_EQ(s.engine().stats().servfails, 1u);
}

}  // namespace
}  // namespace shoal::resolver::testing_util
