// Engine scenarios, part 4: plain-resolution conformance cases a public
// resolver test suite exercises: TTL 0, parent and child disagreeing
// about a zone's NS set, records of a type nobody asked for, a server
// lame for one type, name servers whose addresses may not be used. (A
// DNAME without its CNAME is in classify_test.cc; NS cycles without glue
// in engine_edge_test.cc.)

#include <gtest/gtest.h>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/zone_text.h"
#include "tests/unit/resolver/engine_test_util.h"

namespace shoal::resolver::testing_util {
namespace {

namespace rrtype = dns::rrtype;
namespace rcode = dns::rcode;
using Strings = std::vector<std::string>;

TEST(EngineConformance, TtlZeroIsAnsweredButNotCached) {
  FakeNet net;
  standard(net);
  net.addToZone("example.com", "now 0 IN A 192.0.2.200\n");
  Scenario s(net, defaultConfig(net));
  const auto first = s.resolve("now.example.com", rrtype::kA);
  ASSERT_TRUE(first.answered);
  EXPECT_EQ(first.rcode, rcode::kNoError);
  ASSERT_EQ(first.answer.size(), 1u);
  EXPECT_EQ(first.answer[0].ttl, 0u);
  EXPECT_EQ(first.rdataOf(rrtype::kA), Strings{"192.0.2.200"});
  // Not kept: the next client's question goes to the zone again.
  const auto second = s.resolve("now.example.com", rrtype::kA);
  EXPECT_FALSE(second.from_cache);
  EXPECT_GE(second.upstream_packets, 1u);
  EXPECT_EQ(second.rdataOf(rrtype::kA), Strings{"192.0.2.200"});
}

TEST(EngineConformance, TheChildsNsSetWinsOverTheParentsReferral) {
  FakeNet net;
  standard(net);
  // The child lists a third name server that the parent does not know of.
  net.addToZone("example.com", "@ IN NS ns3\nns3 IN A 192.0.2.23\n");
  Scenario s(net, defaultConfig(net));
  const auto ns = s.resolve("example.com", rrtype::kNs);
  ASSERT_EQ(ns.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(ns.rdataOf(rrtype::kNs).size(), 3u) << s.sentLog();
  // RFC 2181 section 5.4.1: the child's authoritative set is what is kept,
  // also after a later referral from the parent passes by.
  ASSERT_EQ(s.resolve("mail.example.com", rrtype::kA).rcode, rcode::kNoError);
  const auto again = s.resolve("example.com", rrtype::kNs);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.rdataOf(rrtype::kNs).size(), 3u);
}

TEST(EngineConformance, RecordsOfAnotherTypeInTheAnswerAreNeitherServedNorKept) {
  FakeNet net;
  standard(net);
  // Both servers add an AAAA nobody asked for to every answer.
  const auto stray = dns::parseRecords("www.example.com. 3600 IN AAAA 2001:db8::666\n");
  ASSERT_TRUE(stray.ok()) << stray.error;
  for (const char* server : {kExampleCom1, kExampleCom2}) {
    net.server(server).extra_answer = stray.records;
  }
  Scenario s(net, defaultConfig(net));
  const auto a = s.resolve("www.example.com", rrtype::kA);
  EXPECT_EQ(a.rdataOf(rrtype::kA), Strings{"192.0.2.80"});
  EXPECT_TRUE(a.rdataOf(rrtype::kAaaa).empty());
  // The stray AAAA was not cached as an answer: the AAAA question goes to
  // the zone, which answers its real data (plus the stray record again).
  const auto aaaa = s.resolve("www.example.com", rrtype::kAaaa);
  EXPECT_FALSE(aaaa.from_cache);
  EXPECT_GE(aaaa.upstream_packets, 1u);
}

TEST(EngineConformance, AServerLameForAaaaOnlyDoesNotStopAaaaQuestions) {
  FakeNet net;
  standard(net);
  // The first server never answers AAAA questions (answers A fine).
  net.server(kExampleCom1).tamper = [](std::span<const uint8_t> query,
                                       std::vector<Delivery>& replies) {
    if (questionType(query) == rrtype::kAaaa) replies.clear();
  };
  Scenario s(net, defaultConfig(net));
  ASSERT_EQ(s.resolve("www.example.com", rrtype::kA).rcode, rcode::kNoError);
  const auto aaaa = s.resolve("www.example.com", rrtype::kAaaa);
  ASSERT_TRUE(aaaa.answered);
  EXPECT_EQ(aaaa.rcode, rcode::kNoError) << s.sentLog();
  EXPECT_EQ(aaaa.rdataOf(rrtype::kAaaa), Strings{"2001:db8::80"});
  EXPECT_LT(aaaa.elapsed_ms, 1500) << s.sentLog();
}

TEST(EngineConformance, NameServersWithUnusableAddressesFailFastWithoutBeingAsked) {
  FakeNet net;
  standard(net);
  // A delegation whose only name server sits on loopback (denied upstream
  // by default: a resolver must not be made to query its own host).
  net.addToZone("com", "trap 172800 IN NS ns.trap\nns.trap 172800 IN A 127.0.0.1\n");
  net.addZone("trap.com", "@ 3600 IN SOA ns hostmaster 1 7200 3600 1209600 300\n@ IN NS ns\n"
                          "ns IN A 127.0.0.1\nwww IN A 192.0.2.66\n",
              {"127.0.0.1"});
  EngineConfig config = defaultConfig(net);
  config.deny_upstream = {*base::IpPrefix::parse("127.0.0.0/8")};
  Scenario s(net, config);
  const auto r = s.resolve("www.trap.com", rrtype::kA);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.rcode, rcode::kServFail);
  EXPECT_EQ(r.ede_code, std::optional<uint16_t>(dns::ede::kNoReachableAuthority));
  EXPECT_LT(r.elapsed_ms, config.query_timeout_ms) << s.sentLog();
  EXPECT_EQ(net.received("127.0.0.1"), 0u);
}

}  // namespace
}  // namespace shoal::resolver::testing_util
