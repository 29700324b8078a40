// shoalctl probe without I/O (cli/probe.h): the query, reply matching,
// the schedule and tally on made-up times, percentiles, the default
// server, and the report as text and JSON.

#include "cli/probe.h"

#include <gtest/gtest.h>

#include <array>
#include <nlohmann/json.hpp>
#include <vector>

#include "config/config.h"
#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"

namespace shoal::cli {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

dns::Name name(const char* text) { return *dns::Name::fromText(text); }

struct ReplySpec {
  uint16_t id = 0x1234;
  bool qr = true;
  const char* qname = "www.example.com.";
  uint16_t qtype = dns::rrtype::kA;
  uint16_t qclass = dns::rrclass::kIn;
  bool question = true;
  uint16_t rcode = dns::rcode::kNoError;
  uint16_t extra_flags = 0;  // AD, TC
};

std::vector<uint8_t> reply(const ReplySpec& spec) {
  std::array<uint8_t, 512> buffer{};
  dns::MessageWriter w(buffer, buffer.size());
  w.setId(spec.id);
  w.setFlags(static_cast<uint16_t>((spec.qr ? dns::flag::kQr : 0) | dns::flag::kRd |
                                   dns::flag::kRa | spec.extra_flags));
  w.setRcode(spec.rcode);
  if (spec.question) {
    EXPECT_TRUE(w.addQuestion(name(spec.qname), spec.qtype, spec.qclass).ok());
  }
  dns::EdnsOut edns;
  if (spec.rcode > 15) {
    EXPECT_TRUE(w.setEdns(edns).ok());
  }
  if (spec.question && spec.rcode == dns::rcode::kNoError) {
    const uint8_t a[4] = {192, 0, 2, 10};
    EXPECT_TRUE(w.addRr(dns::Section::kAnswer, name(spec.qname), spec.qtype, spec.qclass, 300, a)
                    .ok());
  }
  const size_t length = w.finish();
  return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(length)};
}

MatchResult match(const ReplySpec& spec) {
  const std::vector<uint8_t> packet = reply(spec);
  return matchReply(packet, 0x1234, name("www.example.com"), dns::rrtype::kA);
}

TEST(ProbeQuery, IsWhatAStubSends) {
  const std::vector<uint8_t> wire = buildProbeQuery(name("www.Example.com"), dns::rrtype::kAaaa,
                                                    0xBEEF);
  const auto message = dns::Message::parse(wire);
  ASSERT_TRUE(message.ok());
  const dns::Header& h = message->header();
  EXPECT_EQ(h.id, 0xBEEF);
  EXPECT_FALSE(h.has(dns::flag::kQr));
  EXPECT_TRUE(h.has(dns::flag::kRd));
  EXPECT_TRUE(h.has(dns::flag::kAd));  // RFC 6840 section 5.7: asks for AD in the answer
  EXPECT_FALSE(h.has(dns::flag::kCd));
  EXPECT_EQ(h.opcode(), dns::opcode::kQuery);
  ASSERT_TRUE(message->question().has_value());
  EXPECT_TRUE(message->question()->name.equalsExactly(name("www.Example.com")));
  EXPECT_EQ(message->question()->type, dns::rrtype::kAaaa);
  EXPECT_EQ(message->question()->qclass, dns::rrclass::kIn);
  ASSERT_TRUE(message->edns().has_value());
  EXPECT_EQ(message->edns()->udp_size, 1232);
  EXPECT_FALSE(message->edns()->dnssec_ok);
  EXPECT_EQ(message->count(dns::Section::kAnswer), 0);
}

TEST(ProbeQuery, TheLongestNameFits) {
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(i < 3 ? 63 : 61, 'a') + ".";
  const auto parsed = dns::Name::fromText(long_name);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->length(), 255u);
  const auto message = dns::Message::parse(buildProbeQuery(*parsed, dns::rrtype::kTxt, 1));
  ASSERT_TRUE(message.ok());
  EXPECT_TRUE(message->question()->name == *parsed);
}

TEST(ProbeMatch, TheAnswerToTheQuery) {
  const MatchResult m = match({});
  EXPECT_EQ(m.match, ReplyMatch::kMatch);
  EXPECT_EQ(m.info.rcode, dns::rcode::kNoError);
  EXPECT_FALSE(m.info.ad);
  EXPECT_FALSE(m.info.tc);
}

TEST(ProbeMatch, KeepsRcodeAdAndTc) {
  ReplySpec nx;
  nx.rcode = dns::rcode::kNxDomain;
  nx.extra_flags = dns::flag::kAd;
  const MatchResult m = match(nx);
  EXPECT_EQ(m.match, ReplyMatch::kMatch);
  EXPECT_EQ(m.info.rcode, dns::rcode::kNxDomain);
  EXPECT_TRUE(m.info.ad);
  ReplySpec truncated;
  truncated.extra_flags = dns::flag::kTc;
  EXPECT_TRUE(match(truncated).info.tc);
  ReplySpec extended;  // BADCOOKIE: the high bits in the OPT record
  extended.rcode = dns::rcode::kBadCookie;
  EXPECT_EQ(match(extended).info.rcode, dns::rcode::kBadCookie);
}

TEST(ProbeMatch, TheNameIsComparedWithoutCase) {
  ReplySpec upper;
  upper.qname = "WWW.EXAMPLE.COM.";
  EXPECT_EQ(match(upper).match, ReplyMatch::kMatch);
}

TEST(ProbeMatch, IgnoresWhatIsNotTheAnswer) {
  ReplySpec other_id;
  other_id.id = 0x1235;
  EXPECT_EQ(match(other_id).match, ReplyMatch::kWrongId);
  ReplySpec query;
  query.qr = false;
  EXPECT_EQ(match(query).match, ReplyMatch::kNotAResponse);
  ReplySpec other_name;
  other_name.qname = "www.example.net.";
  EXPECT_EQ(match(other_name).match, ReplyMatch::kWrongQuestion);
  ReplySpec other_type;
  other_type.qtype = dns::rrtype::kAaaa;
  EXPECT_EQ(match(other_type).match, ReplyMatch::kWrongQuestion);
  ReplySpec other_class;
  other_class.qclass = dns::rrclass::kCh;
  EXPECT_EQ(match(other_class).match, ReplyMatch::kWrongQuestion);

  std::vector<uint8_t> cut = reply({});
  cut.resize(cut.size() - 3);
  EXPECT_EQ(matchReply(cut, 0x1234, name("www.example.com"), dns::rrtype::kA).match,
            ReplyMatch::kMalformed);
  const std::vector<uint8_t> tiny = {0x12, 0x34, 0x80};
  EXPECT_EQ(matchReply(tiny, 0x1234, name("www.example.com"), dns::rrtype::kA).match,
            ReplyMatch::kMalformed);
  EXPECT_EQ(matchReply({}, 0x1234, name("www.example.com"), dns::rrtype::kA).match,
            ReplyMatch::kMalformed);
}

TEST(ProbeMatch, AnErrorMayComeWithoutTheQuestion) {
  ReplySpec formerr;
  formerr.question = false;
  formerr.rcode = dns::rcode::kFormErr;
  const MatchResult m = match(formerr);
  EXPECT_EQ(m.match, ReplyMatch::kMatch);
  EXPECT_EQ(m.info.rcode, dns::rcode::kFormErr);
  ReplySpec empty_noerror;  // a NOERROR that does not say what it answers
  empty_noerror.question = false;
  EXPECT_EQ(match(empty_noerror).match, ReplyMatch::kWrongQuestion);
}

TEST(ProbeLatency, NearestRankPercentiles) {
  std::vector<double> ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(i);
  EXPECT_EQ(nearestRank(ten, 50), 5);
  EXPECT_EQ(nearestRank(ten, 90), 9);
  EXPECT_EQ(nearestRank(ten, 99), 10);
  EXPECT_EQ(nearestRank(ten, 100), 10);
  EXPECT_EQ(nearestRank(ten, 1), 1);
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_EQ(nearestRank(hundred, 50), 50);
  EXPECT_EQ(nearestRank(hundred, 90), 90);
  EXPECT_EQ(nearestRank(hundred, 99), 99);
  EXPECT_EQ(nearestRank({7.5}, 50), 7.5);
  EXPECT_EQ(nearestRank({7.5}, 99), 7.5);
  EXPECT_EQ(nearestRank({1, 2}, 50), 1);
  EXPECT_EQ(nearestRank({1, 2}, 51), 2);
}

TEST(ProbeLatency, SummaryOfUnsortedSamples) {
  const LatencyStats s = summarizeLatency({4, 1, 3, 2, 10, 6, 5, 9, 8, 7});
  EXPECT_EQ(s.count, 10u);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 5);
  EXPECT_EQ(s.p90, 9);
  EXPECT_EQ(s.p99, 10);
  EXPECT_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_EQ(summarizeLatency({}).count, 0u);
}

TEST(ProbeServer, TheFirstListenAddressWithLoopbackForAny) {
  config::Config c = config::defaults();
  const auto addr = [](const char* text) { return *base::SocketAddress::parse(text); };
  c.server.listen = {addr("192.0.2.53:5353"), addr("127.0.0.1:53")};
  EXPECT_EQ(defaultProbeServer(c).toString(), "192.0.2.53:5353");
  c.server.listen = {addr("0.0.0.0:5353")};
  EXPECT_EQ(defaultProbeServer(c).toString(), "127.0.0.1:5353");
  c.server.listen = {addr("[::]:53"), addr("0.0.0.0:53")};
  EXPECT_EQ(defaultProbeServer(c).toString(), "[::1]:53");
  c.server.listen = {addr("[2001:db8::53]:853")};
  EXPECT_EQ(defaultProbeServer(c).toString(), "[2001:db8::53]:853");
  EXPECT_EQ(defaultProbeServer(config::defaults()).toString(), "127.0.0.1:53");
}

// ---------------------------------------------------------------------------
// The session, on made-up times
// ---------------------------------------------------------------------------

class Session : public ::testing::Test {
 protected:
  static ProbePlan plan(uint32_t count) {
    ProbePlan p;
    p.name = name("www.example.com");
    p.type = dns::rrtype::kA;
    p.count = count;
    p.interval = milliseconds(1000);
    p.timeout = milliseconds(2500);
    p.server = *base::SocketAddress::parse("127.0.0.1:5353");
    return p;
  }
  static std::vector<uint8_t> answer(uint16_t id, uint16_t rcode = dns::rcode::kNoError,
                                     uint16_t flags = 0) {
    ReplySpec spec;
    spec.id = id;
    spec.rcode = rcode;
    spec.extra_flags = flags;
    return reply(spec);
  }
  ProbeClock::time_point at(int64_t ms) const { return t0_ + milliseconds(ms); }

  ProbeClock::time_point t0_ = ProbeClock::time_point() + std::chrono::hours(1);
};

TEST_F(Session, SendsOnScheduleAndTalliesAnswers) {
  ProbeSession s(plan(3), at(0));
  EXPECT_TRUE(s.sendDue(at(0)));
  EXPECT_EQ(s.sent(100, at(0)), 0u);
  EXPECT_FALSE(s.sendDue(at(999)));
  EXPECT_EQ(s.nextEvent(), at(1000));
  // the answer to query 0 after 2 ms: NOERROR with AD
  EXPECT_TRUE(s.received(0, answer(100, dns::rcode::kNoError, dns::flag::kAd), at(2)));
  EXPECT_EQ(s.inFlight(), 0u);
  EXPECT_FALSE(s.done());
  // query 1 on time; a reply with another ID is ignored, then its own
  EXPECT_TRUE(s.sendDue(at(1000)));
  EXPECT_EQ(s.sent(200, at(1000)), 1u);
  EXPECT_FALSE(s.received(1, answer(201), at(1001)));
  EXPECT_EQ(s.inFlight(), 1u);
  EXPECT_TRUE(s.received(1, answer(200, dns::rcode::kServFail), at(1010)));
  // a second copy of the answer: the query is no longer waiting
  EXPECT_FALSE(s.received(1, answer(200), at(1011)));
  // query 2, late (the caller woke at 2300): sent then; its timeout counts from then
  EXPECT_TRUE(s.sendDue(at(2300)));
  EXPECT_EQ(s.sent(300, at(2300)), 2u);
  EXPECT_FALSE(s.sendDue(at(100'000)));  // all three sent
  EXPECT_EQ(s.nextEvent(), at(4800));
  EXPECT_TRUE(s.expire(at(4799)).empty());
  EXPECT_EQ(s.expire(at(4800)), std::vector<uint32_t>{2});
  EXPECT_TRUE(s.done());
  EXPECT_FALSE(s.nextEvent().has_value());

  const ProbeReport r = s.report();
  EXPECT_EQ(r.sent, 3u);
  EXPECT_EQ(r.answered, 2u);
  EXPECT_EQ(r.lost, 1u);
  EXPECT_EQ(r.timeouts, 1u);
  EXPECT_TRUE(r.errors.empty());
  const std::vector<std::pair<uint16_t, uint64_t>> rcodes = {{dns::rcode::kNoError, 1},
                                                             {dns::rcode::kServFail, 1}};
  EXPECT_EQ(r.rcodes, rcodes);
  EXPECT_EQ(r.ad_set, 1u);
  EXPECT_EQ(r.mismatched, 1u);
  EXPECT_EQ(r.latency.count, 2u);
  EXPECT_DOUBLE_EQ(r.latency.min, 2);
  EXPECT_DOUBLE_EQ(r.latency.max, 10);
  EXPECT_EQ(r.name, "www.example.com.");
  EXPECT_EQ(r.type, "A");
  EXPECT_EQ(r.server, "127.0.0.1:5353");
  EXPECT_EQ(r.transport, "udp");
  EXPECT_DOUBLE_EQ(r.interval_s, 1);
  EXPECT_DOUBLE_EQ(r.timeout_s, 2.5);
}

TEST_F(Session, QueriesOverlapWhenTheTimeoutIsLongerThanTheInterval) {
  ProbeSession s(plan(4), at(0));
  std::vector<uint32_t> expired;
  for (int k = 0; k < 4; ++k) {
    for (const uint32_t seq : s.expire(at(1000 * k))) expired.push_back(seq);
    ASSERT_TRUE(s.sendDue(at(1000 * k)));
    s.sent(static_cast<uint16_t>(k), at(1000 * k));
  }
  EXPECT_EQ(expired, std::vector<uint32_t>{0});  // at 2500, seen at 3000
  EXPECT_EQ(s.inFlight(), 3u);
  // answers out of order: 3 first, then 1
  EXPECT_TRUE(s.received(3, answer(3), at(3001)));
  EXPECT_TRUE(s.received(1, answer(1), at(3002)));
  EXPECT_EQ(s.nextEvent(), at(4500));  // query 2's timeout
  EXPECT_EQ(s.expire(at(5000)), std::vector<uint32_t>{2});
  EXPECT_TRUE(s.done());
  const ProbeReport r = s.report();
  EXPECT_EQ(r.sent, 4u);
  EXPECT_EQ(r.answered, 2u);
  EXPECT_EQ(r.timeouts, 2u);
  EXPECT_DOUBLE_EQ(r.latency.min, 1);     // query 3
  EXPECT_DOUBLE_EQ(r.latency.max, 2002);  // query 1
}

TEST_F(Session, FailuresAreLostWithTheirReason) {
  ProbeSession s(plan(3), at(0));
  s.failed(s.sent(1, at(0)), "Connection refused");
  s.failed(s.sent(2, at(1000)), "Connection refused");
  const uint32_t third = s.sent(3, at(2000));
  s.failed(third, "connection closed without an answer");
  s.failed(third, "counted once");  // no longer waiting
  EXPECT_TRUE(s.done());
  const ProbeReport r = s.report();
  EXPECT_EQ(r.sent, 3u);
  EXPECT_EQ(r.lost, 3u);
  EXPECT_EQ(r.timeouts, 0u);
  const std::map<std::string, uint64_t> errors = {{"Connection refused", 2},
                                                  {"connection closed without an answer", 1}};
  EXPECT_EQ(r.errors, errors);
  EXPECT_EQ(r.latency.count, 0u);
}

TEST_F(Session, AnInterruptForgetsWhatIsInFlight) {
  ProbeSession s(plan(10), at(0));
  EXPECT_TRUE(s.received(s.sent(1, at(0)), answer(1), at(1)));
  s.sent(2, at(1000));
  EXPECT_EQ(s.interrupt(), std::vector<uint32_t>{1});
  EXPECT_TRUE(s.done());
  EXPECT_FALSE(s.sendDue(at(5000)));
  EXPECT_FALSE(s.nextEvent().has_value());
  const ProbeReport r = s.report();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.sent, 1u);
  EXPECT_EQ(r.answered, 1u);
  EXPECT_EQ(r.lost, 0u);
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

ProbeReport sampleReport() {
  ProbeReport r;
  r.name = "www.example.com.";
  r.type = "A";
  r.server = "127.0.0.1:5353";
  r.transport = "udp";
  r.count = 10;
  r.interval_s = 0.2;
  r.timeout_s = 5;
  r.sent = 10;
  r.answered = 8;
  r.lost = 2;
  r.timeouts = 1;
  r.errors = {{"Connection refused", 1}};
  r.rcodes = {{dns::rcode::kNoError, 7}, {dns::rcode::kServFail, 1}};
  r.ad_set = 7;
  r.latency = summarizeLatency({0.081, 0.102, 0.11, 0.12, 0.13, 0.2, 0.31, 12.5});
  return r;
}

TEST(ProbeReport, Text) {
  EXPECT_EQ(probeText(sampleReport()),
            "probe www.example.com. A at 127.0.0.1:5353 over udp: 10 queries, one every 200ms, "
            "timeout 5s\n"
            "sent        10\n"
            "answered    8 (80.0%)\n"
            "lost        2 (no answer within 5s: 1, Connection refused: 1)\n"
            "rcodes      NOERROR 7  SERVFAIL 1\n"
            "AD          set in 7 of 8 answers\n"
            "latency ms  min 0.081  p50 0.12  p90 12.5  p99 12.5  max 12.5  (mean 1.69)\n");
}

TEST(ProbeReport, TextOfNothingAnsweredTruncatedAndInterrupted) {
  ProbeReport r = sampleReport();
  r.answered = 0;
  r.sent = r.lost = r.timeouts = 3;
  r.errors.clear();
  r.rcodes.clear();
  r.ad_set = 0;
  r.latency = {};
  r.interrupted = true;
  r.truncated = 0;
  r.mismatched = 2;
  const std::string text = probeText(r);
  EXPECT_NE(text.find("\ninterrupted after 3 queries (those still in flight are not counted)\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("\nanswered    0 (0.0%)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nlost        3 (no answer within 5s: 3)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nrcodes      -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nAD          set in 0 of 0 answers\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nmismatched  2 (replies ignored"), std::string::npos) << text;
  EXPECT_EQ(text.find("truncated"), std::string::npos) << text;
  EXPECT_NE(text.find("\nlatency ms  -\n"), std::string::npos) << text;
  ProbeReport one = sampleReport();
  one.count = 1;
  one.sent = one.answered = 1;
  one.lost = one.timeouts = 0;
  one.errors.clear();
  one.truncated = 1;
  const std::string single = probeText(one);
  EXPECT_NE(single.find(": 1 query, one every"), std::string::npos) << single;
  EXPECT_NE(single.find("\nlost        0\n"), std::string::npos) << single;
  EXPECT_NE(single.find(" of 1 answer\n"), std::string::npos) << single;
  EXPECT_NE(single.find("\ntruncated   1 (TC set"), std::string::npos) << single;
}

TEST(ProbeReport, Json) {
  const json j = json::parse(probeJson(sampleReport()));
  EXPECT_EQ(j["name"], "www.example.com.");
  EXPECT_EQ(j["type"], "A");
  EXPECT_EQ(j["server"], "127.0.0.1:5353");
  EXPECT_EQ(j["transport"], "udp");
  EXPECT_EQ(j["count"], 10);
  EXPECT_EQ(j["interval_s"], 0.2);
  EXPECT_EQ(j["timeout_s"], 5.0);
  EXPECT_EQ(j["interrupted"], false);
  EXPECT_EQ(j["sent"], 10);
  EXPECT_EQ(j["answered"], 8);
  EXPECT_EQ(j["answer_percent"], 80.0);
  EXPECT_EQ(j["lost"], 2);
  EXPECT_EQ(j["timeouts"], 1);
  EXPECT_EQ(j["errors"], json({{"Connection refused", 1}}));
  EXPECT_EQ(j["rcodes"], json({{"NOERROR", 7}, {"SERVFAIL", 1}}));
  EXPECT_EQ(j["ad_set"], 7);
  EXPECT_EQ(j["truncated"], 0);
  EXPECT_EQ(j["mismatched"], 0);
  const json& l = j["latency_ms"];
  EXPECT_EQ(l["count"], 8);
  EXPECT_EQ(l["min"], 0.081);
  EXPECT_EQ(l["p50"], 0.12);
  EXPECT_EQ(l["p90"], 12.5);
  EXPECT_EQ(l["p99"], 12.5);
  EXPECT_EQ(l["max"], 12.5);
  EXPECT_EQ(l["mean"], 1.694);
  EXPECT_EQ(j.size(), 19u) << j.dump();
}

TEST(ProbeReport, JsonOfNothing) {
  ProbeReport r;
  r.name = "x.";
  const json j = json::parse(probeJson(r));
  EXPECT_TRUE(j["answer_percent"].is_null());
  EXPECT_TRUE(j["latency_ms"].is_null());
  EXPECT_EQ(j["rcodes"], json::object());
  EXPECT_EQ(j["errors"], json::object());
}

TEST(ProbeReport, Durations) {
  EXPECT_EQ(formatProbeDuration(milliseconds(1000)), "1s");
  EXPECT_EQ(formatProbeDuration(milliseconds(60'000)), "60s");
  EXPECT_EQ(formatProbeDuration(milliseconds(200)), "200ms");
  EXPECT_EQ(formatProbeDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatProbeDuration(std::chrono::microseconds(1500)), "1.500ms");
  EXPECT_EQ(probeDuration(0.2), milliseconds(200));
  EXPECT_EQ(probeDuration(5), milliseconds(5000));
}

}  // namespace
}  // namespace shoal::cli
