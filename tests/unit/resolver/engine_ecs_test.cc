// EDNS Client Subnet (RFC 7871) end to end against the fake Internet: a
// CDN-like zone, geo.com, whose server answers by the ECS option of the
// query (a FakeNet tamper hook plays Knot's mod-geoip: 11.1.0.0/16 gets
// 192.0.2.1, 11.2.0.0/16 192.0.2.2, anyone else the zone's 192.0.2.99), and
// records what each query carried. The client is a trusted front end
// (127.0.0.1) passing its clients' subnets, unless a test says otherwise.

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "tests/unit/resolver/ecs_test_util.h"
#include "tests/unit/resolver/engine_test_util.h"

namespace shoal::resolver::testing_util {
namespace {

namespace rrtype = dns::rrtype;

constexpr const char* kGeoServer = "192.0.2.60";
constexpr const char* kFrontEnd = "127.0.0.1";

std::string SubnetText(const dns::ClientSubnet& s) {
  const auto a = s.family == 1 ? base::IpAddress::v4(s.address.data())
                               : base::IpAddress::v6(s.address.data());
  return a.toString() + "/" + std::to_string(s.source_prefix);
}

class EngineEcs : public ::testing::Test {
 protected:
  void SetUp() override {
    standard(net_);
    net_.addToZone("com", "geo 172800 IN NS ns.geo\nns.geo 172800 IN A 192.0.2.60\n");
    net_.addZone("geo.com", R"(
@ 3600 IN SOA ns.geo.com. hostmaster.geo.com. 1 3600 900 604800 300
@ 3600 IN NS ns
ns 3600 IN A 192.0.2.60
www 3600 IN A 192.0.2.99
)",
                 {kGeoServer});
    net_.server(kGeoServer).tamper = [this](std::span<const uint8_t> query,
                                            std::vector<Delivery>& replies) {
      geoAnswer(query, replies);
    };
  }

  /// The geo server: answers www.geo.com A by the query's subnet, with the
  /// option echoed and scope `scope_` (RFC 7871 section 7.2.1).
  void geoAnswer(std::span<const uint8_t> query, std::vector<Delivery>& replies) {
    auto msg = dns::Message::parse(query);
    if (!msg || !msg->question() || replies.empty()) return;
    std::optional<dns::ClientSubnet> ecs;
    if (msg->edns()) {
      if (auto option = dns::findOption(*msg->edns(), dns::ednsopt::kClientSubnet)) {
        if (auto parsed = dns::parseClientSubnet(option->data)) ecs = *parsed;
      }
    }
    seen_.push_back(ecs ? SubnetText(*ecs) : "none");
    if (!ecs || msg->question()->name != N("www.geo.com") ||
        msg->question()->type != rrtype::kA) {
      return;
    }
    const auto address = ecs->family == 1 ? base::IpAddress::v4(ecs->address.data())
                                          : base::IpAddress::v6(ecs->address.data());
    std::vector<uint8_t> rdata(4);
    if (address.inPrefix(Ip("11.1.0.0"), 16)) {
      rdata = {192, 0, 2, 1};
    } else if (address.inPrefix(Ip("11.2.0.0"), 16)) {
      rdata = {192, 0, 2, 2};
    } else {
      rdata = {192, 0, 2, 99};
    }
    std::vector<uint8_t> out(1232);
    dns::MessageWriter w(out, out.size());
    w.setId(msg->header().id);
    w.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kAa));
    (void)w.addQuestion(msg->question()->name, rrtype::kA, dns::rrclass::kIn);
    (void)w.addRr(dns::Section::kAnswer, msg->question()->name, rrtype::kA, dns::rrclass::kIn, 60,
                  rdata);
    dns::EdnsOut edns;
    dns::ClientSubnet echoed = echo_override_ ? *echo_override_ : *ecs;
    echoed.scope_prefix = scope_;
    (void)edns.options.addClientSubnet(echoed);
    (void)w.setEdns(edns);
    out.resize(w.finish());
    replies.front().packet = std::move(out);
  }

  EngineConfig ecsConfig() const {
    EngineConfig config = defaultConfig(net_);
    config.ecs.enabled = true;
    config.ecs.zones = {N("geo.com")};
    config.ecs.trusted = {*base::IpPrefix::parse(kFrontEnd)};
    return config;
  }

  static QueryOptions via(const char* subnet, uint8_t source = 24, const char* client = kFrontEnd) {
    QueryOptions o;
    o.client = client;
    if (subnet != nullptr) o.ecs = Subnet(subnet, source);
    return o;
  }

  static std::vector<std::string> A(const ClientResult& r) { return r.rdataOf(rrtype::kA); }

  FakeNet net_;
  std::vector<std::string> seen_;  // the subnet each query to geo.com carried
  uint8_t scope_ = 16;
  std::optional<dns::ClientSubnet> echo_override_;
};

TEST_F(EngineEcs, TwoSubnetsGetTheirOwnAnswersAndKeepThem) {
  Scenario s(net_, ecsConfig());
  auto one = s.resolve("www.geo.com", rrtype::kA, via("11.1.2.0"));
  EXPECT_EQ(A(one), std::vector<std::string>{"192.0.2.1"}) << s.sentLog();
  ASSERT_TRUE(one.ecs.has_value());
  EXPECT_EQ(SubnetText(*one.ecs), "11.1.2.0/24") << "echoed as sent";
  EXPECT_EQ(one.ecs->scope_prefix, 16);
  auto two = s.resolve("www.geo.com", rrtype::kA, via("11.2.0.0"));
  EXPECT_EQ(A(two), std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(seen_, (std::vector<std::string>{"11.1.2.0/24", "11.2.0.0/24"}));

  // Again: each from its own partition, on the hot path.
  auto again = s.resolve("www.geo.com", rrtype::kA, via("11.2.0.0"));
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(A(again), std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(again.ecs->scope_prefix, 16);
  // Another /24 of the first /16: the /16 partition answers it.
  auto neighbour = s.resolve("www.geo.com", rrtype::kA, via("11.1.77.0"));
  EXPECT_TRUE(neighbour.from_cache);
  EXPECT_EQ(A(neighbour), std::vector<std::string>{"192.0.2.1"});
  // A subnet outside both: asked, never given another subnet's answer.
  auto third = s.resolve("www.geo.com", rrtype::kA, via("11.3.0.0"));
  EXPECT_FALSE(third.from_cache);
  EXPECT_EQ(A(third), std::vector<std::string>{"192.0.2.99"});
  EXPECT_EQ(seen_.size(), 3u);
  EXPECT_EQ(s.engine().stats().ecs_queries, 3u);
  EXPECT_EQ(s.engine().stats().ecs_scope_partition, 3u);
}

TEST_F(EngineEcs, ClientsOfDifferentSubnetsAreNotJoined) {
  Scenario s(net_, ecsConfig());
  const uint64_t a = s.submit("www.geo.com", rrtype::kA, via("11.1.2.0"));
  const uint64_t b = s.submit("www.geo.com", rrtype::kA, via("11.2.0.0"));
  const uint64_t c = s.submit("www.geo.com", rrtype::kA, via("11.1.2.0"));  // joins a
  s.run();
  EXPECT_EQ(A(s.result(a)), std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(A(s.result(b)), std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(A(s.result(c)), std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(seen_.size(), 2u) << "one query per subnet";
}

TEST_F(EngineEcs, SpecialPurposeClientsAreNeverSent) {
  Scenario s(net_, ecsConfig());
  // Through the front end, a private client: no ECS, the global answer.
  auto r = s.resolve("www.geo.com", rrtype::kA, via("10.1.2.0"));
  EXPECT_EQ(A(r), std::vector<std::string>{"192.0.2.99"});
  EXPECT_EQ(seen_, std::vector<std::string>{"none"});
  // The front end itself, without an option (loopback): nothing either;
  // the global answer cached for everyone answers it.
  auto own = s.resolve("www.geo.com", rrtype::kA, via(nullptr));
  EXPECT_TRUE(own.from_cache);
  EXPECT_FALSE(own.ecs.has_value()) << "no option asked, none echoed";
  EXPECT_EQ(s.engine().stats().ecs_queries, 0u);
}

// RFC 7871 section 7.3.1: an answer to a query sent without a subnet to an
// ECS zone (the authority guessed from our own address) is not scope 0: it
// is for clients without a subnet only.
TEST_F(EngineEcs, AnAnswerAskedWithoutASubnetIsNotForEcsClients) {
  Scenario s(net_, ecsConfig());
  EXPECT_EQ(A(s.resolve("www.geo.com", rrtype::kA, via(nullptr))),
            std::vector<std::string>{"192.0.2.99"});
  EXPECT_EQ(seen_, std::vector<std::string>{"none"});
  auto ecs_client = s.resolve("www.geo.com", rrtype::kA, via("11.2.0.0"));
  EXPECT_FALSE(ecs_client.from_cache);
  EXPECT_EQ(A(ecs_client), std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(seen_.back(), "11.2.0.0/24");
  // And the client without a subnet still has its own.
  EXPECT_TRUE(s.resolve("www.geo.com", rrtype::kA, via(nullptr)).from_cache);
}

TEST_F(EngineEcs, UntrustedClientsMayOnlyNarrow) {
  Scenario s(net_, ecsConfig());
  // A public client naming another network: its own /24 is sent.
  auto moved = s.resolve("www.geo.com", rrtype::kA, via("11.2.0.0", 24, "11.1.2.3"));
  EXPECT_EQ(A(moved), std::vector<std::string>{"192.0.2.1"});
  // Asking for less: its /16 is sent.
  auto narrow = s.resolve("www.geo.com", rrtype::kAaaa, via("11.1.0.0", 16, "11.1.2.3"));
  EXPECT_TRUE(narrow.answered);
  EXPECT_EQ(seen_, (std::vector<std::string>{"11.1.2.0/24", "11.1.0.0/16"}));
}

TEST_F(EngineEcs, OnlyAllowedZonesGetTheSubnet) {
  Scenario s(net_, ecsConfig());
  const size_t before = net_.received(kGeoServer);
  auto other = s.resolve("www.example.com", rrtype::kA, via("11.1.2.0"));
  EXPECT_EQ(A(other), std::vector<std::string>{"192.0.2.80"});
  EXPECT_EQ(net_.received(kGeoServer), before);
  EXPECT_EQ(s.engine().stats().ecs_queries, 0u) << "example.com is not on the allow-list";
  ASSERT_TRUE(other.ecs.has_value());
  EXPECT_EQ(other.ecs->scope_prefix, 0) << "a global answer";

  // Nothing on the allow-list: nobody gets it (RFC 7871 section 12.1).
  EngineConfig none = ecsConfig();
  none.ecs.zones.clear();
  Scenario t(net_, none);
  auto geo = t.resolve("www.geo.com", rrtype::kA, via("11.1.2.0"));
  EXPECT_EQ(A(geo), std::vector<std::string>{"192.0.2.99"});
  EXPECT_EQ(seen_.back(), "none");
}

TEST_F(EngineEcs, ScopeLongerThanTheSourceIsKeptAtTheSource) {
  scope_ = 28;
  Scenario s(net_, ecsConfig());
  auto r = s.resolve("www.geo.com", rrtype::kA, via("11.1.2.0"));
  EXPECT_EQ(A(r), std::vector<std::string>{"192.0.2.1"});
  // The same /24: from the cache; another /24 of the /16: asked again.
  EXPECT_TRUE(s.resolve("www.geo.com", rrtype::kA, via("11.1.2.0")).from_cache);
  EXPECT_FALSE(s.resolve("www.geo.com", rrtype::kA, via("11.1.3.0")).from_cache);
  EXPECT_EQ(seen_.size(), 2u);
}

TEST_F(EngineEcs, AClientKnownToAShorterPrefixNeverGetsALongerPartition) {
  Scenario s(net_, ecsConfig());
  scope_ = 24;
  EXPECT_EQ(A(s.resolve("www.geo.com", rrtype::kA, via("11.1.0.0"))),
            std::vector<std::string>{"192.0.2.1"});
  // 11.1.0.0/24 is cached; a client told only as 11.1.0.0/16 must not get
  // it (it may be anywhere in the /16): asked with its /16.
  auto wide = s.resolve("www.geo.com", rrtype::kA, via("11.1.0.0", 16));
  EXPECT_FALSE(wide.from_cache);
  EXPECT_EQ(seen_.back(), "11.1.0.0/16");
}

TEST_F(EngineEcs, AReplyWithAnotherSubnetIsDropped) {
  echo_override_ = Subnet("11.9.9.0", 24);
  Scenario s(net_, ecsConfig());
  auto r = s.resolve("www.geo.com", rrtype::kA, via("11.1.2.0"));
  EXPECT_NE(A(r), std::vector<std::string>{"192.0.2.1"}) << "the forged answer was used";
  EXPECT_GE(s.engine().stats().ecs_mismatched, 1u);
  EXPECT_FALSE(s.resolve("www.geo.com", rrtype::kA, via("11.1.2.0")).from_cache)
      << "nothing of it was cached";
}

// Serve-stale (RFC 8767) keeps the partitions apart too: the stale answer
// of a client's partition, never another's.
TEST_F(EngineEcs, StaleAnswersComeFromTheClientsPartition) {
  EngineConfig config = ecsConfig();
  config.serve_stale_s = 86400;
  config.query_timeout_ms = 1500;
  Scenario s(net_, config);
  ASSERT_EQ(A(s.resolve("www.geo.com", rrtype::kA, via("11.1.2.0"))),
            std::vector<std::string>{"192.0.2.1"});
  s.advance(120'000);  // past the answer's TTL (60 s)
  net_.server(kGeoServer).dead = true;
  auto stale = s.resolve("www.geo.com", rrtype::kA, via("11.1.9.0"));
  EXPECT_EQ(stale.rcode, dns::rcode::kNoError);
  EXPECT_EQ(A(stale), std::vector<std::string>{"192.0.2.1"});
  ASSERT_TRUE(stale.ede_code.has_value());
  EXPECT_EQ(*stale.ede_code, dns::ede::kStaleAnswer);
  ASSERT_TRUE(stale.ecs.has_value());
  EXPECT_EQ(stale.ecs->scope_prefix, 16);
  // Another subnet has nothing of its own: SERVFAIL, not 11.1's answer.
  auto other = s.resolve("www.geo.com", rrtype::kA, via("11.2.0.0"));
  EXPECT_EQ(other.rcode, dns::rcode::kServFail);
  EXPECT_TRUE(A(other).empty());
}

}  // namespace
}  // namespace shoal::resolver::testing_util
