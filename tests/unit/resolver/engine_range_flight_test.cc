// Bursts of junk under one signed zone (Iterator::RangeFlight): a client
// question to a part of a signed zone whose NSEC/NSEC3 ranges are not known
// yet waits while another question to that part is on its way, and is then
// answered from the ranges that answer brought (RFC 8198), so that a burst
// costs one upstream question per range, not one per name. The part is the
// whole zone at first contact (its keys not cached yet), else the gap
// between its known ranges. Names of zones that never gave a denial are
// not held, and nothing is held with aggressive NSEC off.
//
// secure.com's NSEC chain, in canonical order: secure.com, alias, a.b.c,
// dname, mail, ns1, to-badsig, to-insecure, to-net, *.wild, www.

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/message.h"
#include "tests/unit/resolver/engine_test_util.h"
#include "tests/unit/resolver/signed_internet.h"

namespace shoal::resolver::testing_util {
namespace {

namespace rrtype = dns::rrtype;

constexpr const char* kSecureCom = "192.0.2.21";

class EngineRangeFlight : public ::testing::Test {
 protected:
  void SetUp() override { internet_ = std::make_unique<SignedInternet>(addSignedInternet(net_)); }

  EngineConfig validating(bool aggressive = true) const {
    EngineConfig config = defaultConfig(net_);
    config.validation.anchors = {internet_->root_ds};
    config.aggressive_nsec = aggressive;
    return config;
  }

  /// Submits every name (type A, DO) at once, runs until all are answered,
  /// and expects each to be a secure NXDOMAIN.
  static void burst(Scenario& s, const std::vector<std::string>& names) {
    std::vector<uint64_t> handles;
    for (const auto& name : names) handles.push_back(s.submit(name, rrtype::kA, withDo()));
    s.run();
    for (size_t i = 0; i < names.size(); ++i) {
      const ClientResult& r = s.result(handles[i]);
      EXPECT_TRUE(r.answered) << names[i];
      EXPECT_EQ(r.rcode, dns::rcode::kNxDomain) << names[i] << ": " << r.ede_text;
      EXPECT_TRUE(r.ad()) << names[i];
    }
  }

  /// Type-A questions secure.com's server was sent.
  static size_t questionsToZone(const Scenario& s) {
    size_t n = 0;
    for (const auto& q : sentTo(s, {kSecureCom})) n += q.qtype == rrtype::kA ? 1 : 0;
    return n;
  }

  /// Distinct names asked of secure.com's server with type A.
  static size_t namesAskedOfZone(const Scenario& s) {
    std::set<std::string> names;
    for (const auto& q : sentTo(s, {kSecureCom})) {
      if (q.qtype == rrtype::kA) names.insert(q.qname.toText());
    }
    return names.size();
  }

  FakeNet net_;
  std::unique_ptr<SignedInternet> internet_;
};

// Six names in the range mail -> ns1, the zone seen the first time: one is
// asked (with the zone's DNSKEY alongside), the other five wait for its
// validated answer and are answered from its ranges.
TEST_F(EngineRangeFlight, FirstContactBurstAsksOnce) {
  const std::vector<std::string> names = {"mb.secure.com", "mc.secure.com", "md.secure.com",
                                          "me.secure.com", "mf.secure.com", "mz.secure.com"};
  Scenario s(net_, validating());
  burst(s, names);
  EXPECT_EQ(questionsToZone(s), 1u) << s.sentLog();
  EXPECT_EQ(s.engine().stats().range_holds, 5u);
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 5u);

  // The same burst with aggressive NSEC off: every name is asked.
  FakeNet other_net;
  auto other = addSignedInternet(other_net);
  EngineConfig off = defaultConfig(other_net);
  off.validation.anchors = {other.root_ds};
  off.aggressive_nsec = false;
  Scenario plain(other_net, off);
  burst(plain, names);
  EXPECT_EQ(questionsToZone(plain), names.size()) << plain.sentLog();
  EXPECT_EQ(plain.engine().stats().range_holds, 0u);
}

// The same burst when the leader's first question is lost: the leader
// times out and asks again (the zone has one server: the next round waits
// for its RTO), and the flight stays open meanwhile; the five others are
// still answered from the ranges its second question brings.
TEST_F(EngineRangeFlight, FlightOutlivesALostFirstQuestion) {
  int lost = 0;
  net_.server(kSecureCom).tamper = [&lost](std::span<const uint8_t> query,
                                           std::vector<Delivery>& replies) {
    if (questionType(query) == rrtype::kA && lost == 0) {
      ++lost;
      replies.clear();
    }
  };
  Scenario s(net_, validating());
  burst(s, {"mb.secure.com", "mc.secure.com", "md.secure.com", "me.secure.com", "mf.secure.com",
            "mz.secure.com"});
  EXPECT_EQ(lost, 1);
  EXPECT_EQ(questionsToZone(s), 2u) << s.sentLog();
  EXPECT_EQ(s.engine().stats().range_holds, 5u);
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 5u);
}

// The zone's keys arrive (and validate) before the leader's answer: names
// that come in after that, while the zone has no ranges yet, still join
// the first-contact flight instead of being asked.
TEST_F(EngineRangeFlight, KeysBeforeTheAnswerStillHold) {
  net_.server(kSecureCom).tamper = [](std::span<const uint8_t> query,
                                      std::vector<Delivery>& replies) {
    if (questionType(query) != rrtype::kA) return;
    for (auto& reply : replies) reply.delay_ms += 100;
  };
  Scenario s(net_, validating());
  const uint64_t first = s.submit("mb.secure.com", rrtype::kA, withDo());
  // The question and the DNSKEY go at +30 ms; the DNSKEY is back at +40.
  s.advance(45);
  ASSERT_FALSE(s.result(first).answered);
  ASSERT_EQ(namesAskedOfZone(s), 1u) << s.sentLog();
  burst(s, {"mc.secure.com", "md.secure.com", "me.secure.com", "mf.secure.com", "mz.secure.com"});
  EXPECT_TRUE(s.result(first).answered);
  // (the slow question may be sent again, or hedged: the same name)
  EXPECT_EQ(namesAskedOfZone(s), 1u) << s.sentLog();
  EXPECT_EQ(s.engine().stats().range_holds, 5u);
}

// A straggler: its referral to secure.com comes back after the burst's
// flight has ended (here: without QNAME minimisation, each name's own
// question to com's servers, and this one's answer slow). It reaches the
// zone's cut when the ranges are cached, and is answered from them
// instead of being asked.
TEST_F(EngineRangeFlight, AStragglerReachingTheCutLaterUsesTheRanges) {
  net_.server(kGtldA).tamper = [](std::span<const uint8_t> query, std::vector<Delivery>& replies) {
    auto msg = dns::Message::parse(query);
    if (!msg || !msg->question() || msg->question()->name.toText() != "mz.secure.com.") return;
    for (auto& reply : replies) reply.delay_ms += 200;
  };
  net_.server(kGtldB).dead = true;
  EngineConfig config = validating();
  config.qname_minimisation = false;
  Scenario s(net_, config);
  // com's keys cached (no denial from com): names are not held at com.
  ASSERT_EQ(s.resolve("badsig.com", rrtype::kDs, withDo()).rcode, dns::rcode::kNoError);
  burst(s, {"mb.secure.com", "mc.secure.com", "md.secure.com", "mz.secure.com"});
  EXPECT_EQ(namesAskedOfZone(s), 1u) << s.sentLog();
  EXPECT_EQ(s.engine().stats().synth_nxdomain, 3u);
}

// The zone known from one NXDOMAIN (ranges secure.com -> alias and mail ->
// ns1): four names in the unknown gap after mail (true range to-net ->
// *.wild) cost one question; a name in the other unknown gap (after the
// apex: alias -> a.b.c) is asked alongside, not held.
TEST_F(EngineRangeFlight, OneQuestionPerUnknownGap) {
  Scenario s(net_, validating());
  auto warm = s.resolve("nothere.secure.com", rrtype::kA, withDo());
  ASSERT_EQ(warm.rcode, dns::rcode::kNxDomain) << warm.ede_text;
  ASSERT_TRUE(warm.ad());
  const size_t before = questionsToZone(s);
  const uint64_t holds_before = s.engine().stats().range_holds;

  burst(s, {"u1.secure.com", "u2.secure.com", "u3.secure.com", "v1.secure.com", "b0.secure.com"});
  EXPECT_EQ(questionsToZone(s) - before, 2u) << s.sentLog();
  EXPECT_EQ(s.engine().stats().range_holds - holds_before, 3u);

  // Both gaps' ranges are known now: more junk in them is not asked.
  burst(s, {"u9.secure.com", "b9.secure.com"});
  EXPECT_EQ(questionsToZone(s) - before, 2u) << s.sentLog();
}

// Real names in an unknown gap of a zone with ranges (after mail: ns1,
// www) wait once for the question on its way; its answer is data, not a
// range, so they do not wait again for each other.
TEST_F(EngineRangeFlight, RealNamesWaitOnceAtMost) {
  Scenario s(net_, validating());
  auto warm = s.resolve("nothere.secure.com", rrtype::kA, withDo());
  ASSERT_EQ(warm.rcode, dns::rcode::kNxDomain) << warm.ede_text;
  const uint64_t holds_before = s.engine().stats().range_holds;

  std::vector<uint64_t> handles;
  handles.push_back(s.submit("www.secure.com", rrtype::kA, withDo()));
  handles.push_back(s.submit("ns1.secure.com", rrtype::kA, withDo()));
  handles.push_back(s.submit("www.secure.com", rrtype::kTxt, withDo()));
  s.run();
  for (uint64_t h : handles) {
    EXPECT_TRUE(s.result(h).answered);
    EXPECT_TRUE(s.result(h).ad());
  }
  EXPECT_EQ(s.result(handles[0]).rcode, dns::rcode::kNoError);
  EXPECT_EQ(s.engine().stats().range_holds - holds_before, 2u)
      << "the two held behind the first were released together and sent";
}

// Names of a signed zone whose keys are cached but that never gave a
// denial are asked at once: no flight, no wait.
TEST_F(EngineRangeFlight, NamesOfAZoneWithoutDenialsAreNotHeld) {
  Scenario s(net_, validating());
  auto warm = s.resolve("www.secure.com", rrtype::kA, withDo());
  ASSERT_EQ(warm.rcode, dns::rcode::kNoError) << warm.ede_text;
  ASSERT_TRUE(warm.ad());
  const size_t sent_before = s.sent().size();

  std::vector<uint64_t> handles;
  for (const char* name : {"mail.secure.com", "alias.secure.com", "ns1.secure.com"}) {
    handles.push_back(s.submit(name, rrtype::kAaaa, withDo()));
  }
  s.run();
  for (uint64_t h : handles) EXPECT_TRUE(s.result(h).answered);
  EXPECT_EQ(s.engine().stats().range_holds, 0u);
  // All three were sent at the same moment.
  std::vector<int64_t> at;
  for (size_t i = sent_before; i < s.sent().size(); ++i) {
    if (s.sent()[i].qtype == rrtype::kAaaa) at.push_back(s.sent()[i].at_ms);
  }
  ASSERT_EQ(at.size(), 3u) << s.sentLog();
  EXPECT_EQ(at.front(), at.back());
}

}  // namespace
}  // namespace shoal::resolver::testing_util
