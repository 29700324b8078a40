// Engine scenarios, forward mode ([[forward]]): a forward zone's questions
// go to its upstream resolvers, with RD and unminimised, whatever the cache
// knows of delegations; failover and hedging as for any server; names
// outside it (a CNAME target too) are resolved from the root; validation
// applies, or is off for the zone.

#include <gtest/gtest.h>

#include <memory>

#include "dns/constants.h"
#include "dns/message.h"
#include "tests/unit/resolver/engine_test_util.h"
#include "tests/unit/resolver/signed_internet.h"

namespace shoal::resolver::testing_util {
namespace {

using Strings = std::vector<std::string>;

ForwardSpec forward(const char* zone, std::initializer_list<const char*> upstreams,
                    bool validate = true) {
  ForwardSpec spec;
  spec.zone = N(zone);
  for (const char* address : upstreams) spec.addresses.push_back({Ip(address), 53});
  spec.validate = validate;
  return spec;
}

/// Records whether each query `server` receives asks for recursion.
void recordRd(FakeNet& net, const char* server, std::vector<bool>& rd) {
  net.server(server).tamper = [&rd](std::span<const uint8_t> query, std::vector<Delivery>&) {
    if (query.size() > 2) rd.push_back((query[2] & 0x01) != 0);
  };
}

TEST(EngineForward, AForwardZoneIsAskedOfItsUpstreamsOnly) {
  FakeNet net;
  standard(net);
  std::vector<bool> rd;
  recordRd(net, kExampleCom1, rd);
  recordRd(net, kExampleCom2, rd);
  EngineConfig config = defaultConfig(net);
  config.forwards = {forward("example.com.", {kExampleCom1, kExampleCom2})};
  Scenario s(net, config);
  const auto r = s.resolve("www.example.com", dns::rrtype::kA);
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), Strings{"192.0.2.80"});
  // Nothing to the root or com: the whole question, with RD.
  EXPECT_EQ(sentTo(s, {kRootA, kRootB, kGtldA, kGtldB}).size(), 0u) << s.sentLog();
  EXPECT_EQ(questions(s.sent()), Strings{"www.example.com. A"}) << s.sentLog();
  EXPECT_EQ(rd, std::vector<bool>{true});
  // A name outside it is resolved from the root, with RD clear.
  const auto other = s.resolve("www.example.net", dns::rrtype::kA);
  EXPECT_EQ(other.rdataOf(dns::rrtype::kA), Strings{"192.0.2.81"});
  EXPECT_GE(sentTo(s, {kRootA, kRootB}).size(), 1u) << s.sentLog();
}

TEST(EngineForward, AnUpstreamIsAskedOnItsPort) {
  FakeNet net;  // (the fake network delivers by address alone)
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.forwards = {forward("example.com.", {})};
  config.forwards[0].addresses = {{Ip(kExampleCom1), 5353}};
  Scenario s(net, config);
  EXPECT_EQ(s.resolve("www.example.com", dns::rrtype::kA).rcode, dns::rcode::kNoError);
  ASSERT_EQ(s.sent().size(), 1u) << s.sentLog();
  EXPECT_EQ(s.sent()[0].port, 5353);
  EXPECT_EQ(s.sent()[0].server, Ip(kExampleCom1));
}

TEST(EngineForward, OverTlsEveryQueryGoesOverAnAuthenticatedConnection) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.forwards = {forward("example.com.", {})};
  config.forwards[0].addresses = {{Ip(kExampleCom1), 853}};
  config.forwards[0].tls = true;
  config.forwards[0].tls_name = "dns.example.com";
  Scenario s(net, config);
  EXPECT_EQ(s.resolve("www.example.com", dns::rrtype::kA).rcode, dns::rcode::kNoError);
  ASSERT_EQ(s.sent().size(), 1u) << s.sentLog();
  EXPECT_TRUE(s.sent()[0].tcp);
  EXPECT_TRUE(s.sent()[0].tls);
  EXPECT_EQ(s.sent()[0].tls_name, "dns.example.com");
  EXPECT_EQ(s.sent()[0].port, 853);
  // Outside the zone: plain DNS over UDP, as ever.
  EXPECT_EQ(s.resolve("www.example.net", dns::rrtype::kA).rcode, dns::rcode::kNoError);
  EXPECT_FALSE(s.sent().back().tls);
}

TEST(EngineForward, CachedDelegationsDoNotBypassTheUpstreams) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  Scenario s(net, config);
  // Iterated once: example.com's NS set and glue are in the cache.
  ASSERT_EQ(s.resolve("www.example.com", dns::rrtype::kA).rcode, dns::rcode::kNoError);
  // Another worker forwards example.com to one of its servers only.
  config.forwards = {forward("example.com.", {kExampleCom2})};
  s.newWorker(config);
  const size_t to_first = s.sentTo(kExampleCom1);
  EXPECT_EQ(s.resolve("mail.example.com", dns::rrtype::kA).rcode, dns::rcode::kNoError);
  EXPECT_EQ(s.sentTo(kExampleCom1), to_first) << s.sentLog();
}

TEST(EngineForward, AnUpstreamDownFailsOverWithinAHedge) {
  FakeNet net;
  standard(net);
  net.deadOnFirstContact({kExampleCom1, kExampleCom2});
  EngineConfig config = defaultConfig(net);
  config.forwards = {forward("example.com.", {kExampleCom1, kExampleCom2})};
  Scenario s(net, config);
  const auto r = s.resolve("www.example.com", dns::rrtype::kA);
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << s.sentLog();
  EXPECT_LT(r.elapsed_ms, config.rto_min_ms) << s.sentLog();
  EXPECT_EQ(s.engine().stats().hedges_won, 1u);
}

TEST(EngineForward, ACnameOutOfTheZoneIsFollowedByIteration) {
  FakeNet net;
  standard(net);
  EngineConfig config = defaultConfig(net);
  config.forwards = {forward("example.com.", {kExampleCom1})};
  Scenario s(net, config);
  const auto r = s.resolve("outside.example.com", dns::rrtype::kA);
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << s.sentLog();
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), Strings{"192.0.2.81"});
  EXPECT_GE(s.sentTo(kExampleNet1) + s.sentTo(kExampleNet2), 1u) << s.sentLog();
}

class EngineForwardDnssec : public ::testing::Test {
 protected:
  void SetUp() override { internet_ = std::make_unique<SignedInternet>(addSignedInternet(net_)); }
  EngineConfig validating() const {
    EngineConfig config = defaultConfig(net_);
    config.validation.anchors = {internet_->root_ds};
    return config;
  }
  FakeNet net_;
  std::unique_ptr<SignedInternet> internet_;
};

TEST_F(EngineForwardDnssec, AnswersFromUpstreamsAreValidated) {
  EngineConfig config = validating();
  config.forwards = {forward("secure.com.", {kSecureCom}), forward("badsig.com.", {kBadsigCom})};
  Scenario s(net_, config);
  const auto r = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << r.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(r.ad()) << s.sentLog();
  // The DS of the zone came from its parent, by iteration.
  EXPECT_GE(s.sentTo(kGtldA) + s.sentTo(kGtldB), 1u) << s.sentLog();
  // A bad signature from an upstream is caught like any other.
  const auto bad = s.resolve("www.badsig.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(bad.rcode, dns::rcode::kServFail) << s.sentLog();
  EXPECT_GE(s.sentTo(kBadsigCom), 1u);
}

TEST_F(EngineForwardDnssec, ValidationOffForAZoneMeansInsecureAndCached) {
  EngineConfig config = validating();
  config.forwards = {forward("secure.com.", {kSecureCom}, /*validate=*/false)};
  Scenario s(net_, config);
  const auto r = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(r.rcode, dns::rcode::kNoError) << s.sentLog();
  EXPECT_FALSE(r.ad());
  EXPECT_EQ(r.rdataOf(dns::rrtype::kA), Strings{"192.0.2.80"});
  EXPECT_EQ(s.sentTo(kGtldA) + s.sentTo(kGtldB), 0u) << "no DS wanted\n" << s.sentLog();
  const auto again = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_TRUE(again.from_cache);
  EXPECT_FALSE(again.ad());
}

/// Makes `address` a recursive resolver over the signed Internet: each
/// question is answered by the authoritative server of the deepest zone
/// holding it (a DS by the parent's), with RA set, as an upstream resolver
/// that does not validate would.
void recursor(FakeNet& net, const char* address) {
  net.server(address).tamper = [&net](std::span<const uint8_t> query,
                                      std::vector<Delivery>& replies) {
    auto parsed = dns::Message::parse(query);
    if (!parsed || !parsed->question()) return;
    dns::Name name = parsed->question()->name;
    if (parsed->question()->type == dns::rrtype::kDs && !name.isRoot()) name = name.parent();
    static const std::pair<const char*, const char*> kZones[] = {
        {"secure.com.", kSecureCom}, {"insecure.com.", kInsecureCom},
        {"stripped.com.", "192.0.2.24"}, {"com.", kGtldA}, {".", kRootA}};
    for (const auto& [zone, server] : kZones) {
      if (!name.isSubdomainOf(N(zone))) continue;
      auto answer = net.answer(Ip(server), query);
      if (!answer || answer->size() < 4) return;
      (*answer)[3] |= 0x80;  // RA
      replies.assign(1, Delivery{10, std::move(*answer), false});
      return;
    }
  };
}

TEST_F(EngineForwardDnssec, BehindAForwardOfEverythingUnsignedZonesAreInsecureNotBogus) {
  // Every question to one upstream resolver: no referral tells where the
  // zone cuts are, so unsigned data is judged by walking the DS from the
  // root down to the first insecure delegation (RFC 4035 section 5.2).
  constexpr const char* kUpstream = "192.0.2.99";
  recursor(net_, kUpstream);
  EngineConfig config = validating();
  config.forwards = {forward(".", {kUpstream})};
  Scenario s(net_, config);
  // A signed name first: the keys of . and com are cached when the walk
  // starts.
  EXPECT_TRUE(s.resolve("mail.secure.com", dns::rrtype::kA, withDo()).ad()) << s.sentLog();
  const auto insecure = s.resolve("www.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(insecure.rcode, dns::rcode::kNoError) << insecure.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(insecure.ad());
  EXPECT_EQ(insecure.rdataOf(dns::rrtype::kA), Strings{"192.0.2.82"});
  const auto missing = s.resolve("nothing.insecure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(missing.rcode, dns::rcode::kNxDomain) << missing.ede_text << "\n" << s.sentLog();
  EXPECT_FALSE(missing.ad());
  // Signed zones still validate, and a signed zone served without its
  // RRSIGs is still caught: its DS says it must be signed.
  const auto secure = s.resolve("www.secure.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(secure.rcode, dns::rcode::kNoError) << secure.ede_text << "\n" << s.sentLog();
  EXPECT_TRUE(secure.ad());
  const auto stripped = s.resolve("www.stripped.com", dns::rrtype::kA, withDo());
  EXPECT_EQ(stripped.rcode, dns::rcode::kServFail) << s.sentLog();
  // (the unsigned NODATA its servers give for the DS of www is the proof
  // that fails first)
  EXPECT_NE(stripped.ede_text.find("bogus"), std::string::npos) << stripped.ede_text;
  // Only the upstream was asked.
  EXPECT_EQ(s.sentTo(kRootA) + s.sentTo(kGtldA) + s.sentTo(kInsecureCom), 0u) << s.sentLog();
}

}  // namespace
}  // namespace shoal::resolver::testing_util
