// Engine scenarios, part 3: edge cases around delegations (DS at the
// parent, glue versus authoritative data, IPv6-only and cyclic glueless
// name servers, referrals to self), TTL limits, unreachable and slow
// servers, and clean-up after a client's deadline.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "dns/constants.h"
#include "dns/zone_text.h"
#include "tests/unit/resolver/engine_test_util.h"

namespace shoal::resolver::testing_util {
namespace {

namespace rrtype = dns::rrtype;
namespace rcode = dns::rcode;
using Strings = std::vector<std::string>;

Strings sorted(Strings v) {
  std::sort(v.begin(), v.end());
  return v;
}

// --- Delegations --------------------------------------------------------

TEST(EngineDelegation, DsIsAskedAtTheParent) {
  FakeNet net;
  standard(net);
  net.addToZone("com",
                "example 86400 IN DS 12345 13 2 "
                "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n");
  Scenario s(net);
  const auto r = s.resolve("example.com", rrtype::kDs);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(r.answer[0].type, rrtype::kDs);
  EXPECT_EQ(sentTo(s, {kExampleCom1, kExampleCom2}).size(), 0u) << s.sentLog();
  EXPECT_EQ(questions(sentTo(s, {kGtldA, kGtldB})), Strings{"example.com. DS"});
}

/// glue.com: the com zone's glue says ns.glue.com is 192.0.2.65 only; the
/// zone itself says 192.0.2.65 and 192.0.2.66.
void addGlueZone(FakeNet& net) {
  net.addToZone("com", "glue 172800 IN NS ns.glue\nns.glue 172800 IN A 192.0.2.65\n");
  net.addZone("glue.com",
              "@ IN SOA ns hostmaster 1 7200 3600 1209600 300\n@ IN NS ns\n"
              "ns IN A 192.0.2.65\nns IN A 192.0.2.66\nwww IN A 192.0.2.67\n",
              {"192.0.2.65"});
}

TEST(EngineDelegation, GlueIsNeverServedAsAnAnswer) {
  // RFC 2181 section 5.4.1: additional-section data (glue) must not be
  // returned as an answer; the authoritative RRset must be asked for.
  FakeNet net;
  standard(net);
  addGlueZone(net);
  Scenario s(net);
  ASSERT_EQ(s.resolve("www.glue.com", rrtype::kA).rdataOf(rrtype::kA), Strings{"192.0.2.67"});
  const auto ns = s.resolve("ns.glue.com", rrtype::kA);
  ASSERT_TRUE(ns.answered);
  EXPECT_FALSE(ns.from_cache);
  EXPECT_EQ(sorted(ns.rdataOf(rrtype::kA)), (Strings{"192.0.2.65", "192.0.2.66"}))
      << (ns.from_cache ? "served from the cache" : "resolved") << "\n" << s.sentLog();
}

TEST(EngineDelegation, IpV6OnlyGluelessNameServer) {
  FakeNet net;
  standard(net);
  net.addToZone("example.net", "ns6 IN AAAA 2001:db8::53\n");
  net.addToZone("com", "v6only 172800 IN NS ns6.example.net.\n");
  net.addZone("v6only.com",
              "@ IN SOA ns6.example.net. hostmaster 1 7200 3600 1209600 300\n"
              "@ IN NS ns6.example.net.\nwww IN A 192.0.2.68\n",
              {"2001:db8::53"});
  Scenario s(net);  // ipv4 and ipv6 enabled
  const auto r = s.resolve("www.v6only.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.68"});
}

/// cyc1.com is served by ns.cyc2.com and cyc2.com by ns.cyc1.com, no glue.
void addGluelessCycle(FakeNet& net) {
  net.addToZone("com", "cyc1 172800 IN NS ns.cyc2.com.\ncyc2 172800 IN NS ns.cyc1.com.\n");
}

TEST(EngineDelegation, GluelessCycleFailsQuickly) {
  FakeNet net;
  standard(net);
  addGluelessCycle(net);
  Scenario s(net);
  const auto r = s.resolve("www.cyc1.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail);
  EXPECT_TRUE(r.ede_code.has_value());
  EXPECT_LT(r.elapsed_ms, 1000) << s.sentLog();
  EXPECT_EQ(s.engine().tasksInFlight(), 0u);
}

TEST(EngineDelegation, ConcurrentGluelessCycleNeverLeavesTasksBehind) {
  // The same cycle entered from three questions at once, in every order:
  // each task may end up waiting for another; whatever happens, every
  // client gets an answer and no task stays behind once they all have.
  const std::array<const char*, 3> names = {"www.cyc1.com", "ns.cyc1.com", "ns.cyc2.com"};
  std::array<int, 3> order = {0, 1, 2};
  do {
    FakeNet net;
    standard(net);
    addGluelessCycle(net);
    Scenario s(net);
    std::vector<uint64_t> handles;
    std::string label;
    for (int i : order) {
      handles.push_back(s.submit(names[static_cast<size_t>(i)], rrtype::kA,
                                 {.id = static_cast<uint16_t>(i)}));
      label += std::string(names[static_cast<size_t>(i)]) + " ";
    }
    s.run();
    for (uint64_t h : handles) {
      ASSERT_TRUE(s.result(h).answered) << label;
      EXPECT_EQ(s.result(h).rcode, rcode::kServFail) << label;
    }
    EXPECT_EQ(s.engine().tasksInFlight(), 0u) << "order: " << label;
    // A later question about the cycle is not stuck behind a leftover task:
    // it fails as fast as the first time.
    s.advance(10'000);
    const auto later = s.resolve("ns.cyc2.com", rrtype::kA);
    EXPECT_LT(later.elapsed_ms, 1000) << "order: " << label;
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(EngineDelegation, ReferralToItselfIsLame) {
  FakeNet net;
  standard(net);
  net.addToZone("com", "loopy 172800 IN NS ns.loopy\nns.loopy 172800 IN A 192.0.2.61\n");
  net.addZone("loopy.com",
              "@ IN SOA ns hostmaster 1 7200 3600 1209600 300\n@ IN NS ns\n"
              "ns IN A 192.0.2.61\nsub IN NS ns.loopy.com.\n",
              {"192.0.2.61"});
  Scenario s(net);
  const auto r = s.resolve("www.sub.loopy.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail);
  EXPECT_LT(r.elapsed_ms, 1000);
  EXPECT_LE(s.sentTo("192.0.2.61"), 4u) << s.sentLog();
}

// --- TTL limits ---------------------------------------------------------

TEST(EngineTtl, MaxTtlAppliesToTheFirstAnswerToo) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.max_ttl = 60;
  Scenario s(net, config);
  const auto first = s.resolve("www.example.com", rrtype::kA);
  ASSERT_EQ(first.answer.size(), 1u);
  const auto cached = s.resolve("www.example.com", rrtype::kA);
  ASSERT_EQ(cached.answer.size(), 1u);
  EXPECT_TRUE(cached.from_cache);
  EXPECT_EQ(cached.answer[0].ttl, 60u);
  // What the resolver tells the first client must not outlive what it
  // keeps itself.
  EXPECT_EQ(first.answer[0].ttl, 60u);
}

TEST(EngineTtl, MinTtlAppliesToTheFirstAnswerToo) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.min_ttl = 7200;
  Scenario s(net, config);
  const auto first = s.resolve("www.example.com", rrtype::kA);
  ASSERT_EQ(first.answer.size(), 1u);
  const auto cached = s.resolve("www.example.com", rrtype::kA);
  ASSERT_EQ(cached.answer.size(), 1u);
  EXPECT_EQ(cached.answer[0].ttl, 7200u);
  EXPECT_EQ(first.answer[0].ttl, 7200u);
}

// --- Unreachable, slow and silent servers --------------------------------

TEST(EngineFailure, UnreachableServerIsSkippedWithoutWaitingForAnRto) {
  FakeNet net;
  standard(net);
  net.onFirstContact({kExampleCom1, kExampleCom2}, [](Behavior& b) { b.unreachable = true; });
  Scenario s(net);
  const auto r = s.resolve("www.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(s.engine().stats().upstream_errors, 1u);
  EXPECT_EQ(s.engine().stats().upstream_timeouts, 0u);
  EXPECT_LT(r.elapsed_ms, 100) << s.sentLog();
}

TEST(EngineFailure, LateReplyAfterTheRtoIsStillAccepted) {
  FakeNet net;
  standard(net);
  net.server(kExampleCom1).latency_ms = 700;
  net.server(kExampleCom2).dead = true;
  Scenario s(net);
  const auto r = s.resolve("www.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
  EXPECT_LT(r.elapsed_ms, s.config().query_timeout_ms);
}

TEST(EngineFailure, DeadlineCleansUpSubTasksAndStopsSending) {
  // glueless.com's name servers live in example.net, whose servers are
  // dead: the sub-task never finishes by itself.
  FakeNet net;
  standard(net);
  net.server(kExampleNet1).dead = true;
  net.server(kExampleNet2).dead = true;
  Scenario s(net);
  const auto r = s.resolve("www.glueless.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail);
  EXPECT_NEAR(static_cast<double>(r.elapsed_ms), static_cast<double>(s.config().query_timeout_ms),
              100.0);
  // The sub-tasks go on in the background until example.net's servers are
  // backed off, or the resolution's deadline, and then stop sending.
  s.advance(s.config().resolution_timeout_ms);
  EXPECT_EQ(s.engine().tasksInFlight(), 0u);
  const size_t sent = s.sent().size();
  s.advance(30'000);
  EXPECT_EQ(s.sent().size(), sent) << s.sentLog();
  EXPECT_FALSE(s.engine().nextDeadline().has_value() &&
               *s.engine().nextDeadline() <= s.now())
      << "a deadline in the past";
}

TEST(EngineSecurity, OutOfZoneCnameTargetDataIsNotTrusted) {
  FakeNet net;
  standard(net);
  auto poison = dns::parseRecords("www.example.net. 86400 IN A 203.0.113.66\n");
  ASSERT_TRUE(poison.ok()) << poison.error;
  net.server(kExampleCom1).extra_answer = poison.records;
  net.server(kExampleCom2).extra_answer = poison.records;
  Scenario s(net);
  const auto r = s.resolve("outside.example.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rdataOf(rrtype::kA), Strings{"192.0.2.81"});
  const auto direct = s.resolve("www.example.net", rrtype::kA);
  EXPECT_EQ(direct.rdataOf(rrtype::kA), Strings{"192.0.2.81"});
}

}  // namespace
}  // namespace shoal::resolver::testing_util
