#include "resolver/negative_anchors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "dns/constants.h"
#include "resolver/cache_format.h"
#include "resolver/inspect.h"
#include "resolver/record_cache.h"
#include "resolver/validator.h"

namespace shoal::resolver {
namespace {

constexpr int64_t kNow = 1'700'000'000;  // seconds

dns::Name name(std::string_view text) {
  auto n = dns::Name::fromText(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : dns::Name();
}

class NegativeAnchorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    segment_ = "/shoal-nta-" + std::to_string(getpid()) + "-" + info->name();
    shmcache::Options options;
    options.name = segment_;
    options.size = 4u << 20;
    options.stripes = 4;
    options.discard = true;
    auto cache = shmcache::Cache::open(options, kNow);
    ASSERT_TRUE(cache.ok()) << shmcache::toString(cache.error());
    cache_ = std::move(*cache);
    shmcache::Cache::unlink(segment_);  // the mapping outlives the name
  }
  void TearDown() override {
    cache_.reset();
    shmcache::Cache::unlink(segment_);
  }

  AnchorChange add(std::string_view n, uint32_t lifetime_s = 3600, std::string_view reason = "",
                   int64_t now = kNow) {
    return addNegativeAnchor(*cache_, n, lifetime_s, reason, now);
  }
  RecordCache records() { return RecordCache(*cache_, TtlLimits{}); }
  static Rrset rrsetA(std::string_view owner) {
    Rrset rrset;
    rrset.owner = name(owner);
    rrset.type = dns::rrtype::kA;
    rrset.ttl = 300;
    rrset.rdatas.push_back({192, 0, 2, 1});
    return rrset;
  }
  bool covers(std::string_view n, int64_t now = kNow) {
    return coveredByNegativeAnchor(*cache_, name(n), now);
  }

  std::string segment_;
  std::unique_ptr<shmcache::Cache> cache_;
};

TEST_F(NegativeAnchorsTest, CoversTheZoneAndEverythingBelowIt) {
  const auto added = add("Bogus.Example", 3600, "broken rollover");
  ASSERT_TRUE(added.error.empty()) << added.error;
  EXPECT_EQ(added.name, "bogus.example.");
  EXPECT_EQ(added.changed, 1u);
  EXPECT_TRUE(covers("bogus.example."));
  EXPECT_TRUE(covers("BOGUS.example."));
  EXPECT_TRUE(covers("www.bogus.example."));
  EXPECT_TRUE(covers("a.b.c.bogus.example."));
  // Above it, beside it, or a name that merely ends alike: not covered.
  EXPECT_FALSE(covers("example."));
  EXPECT_FALSE(covers("."));
  EXPECT_FALSE(covers("notbogus.example."));
  EXPECT_FALSE(covers("other.example."));
}

TEST_F(NegativeAnchorsTest, ExpiresAfterItsLifetime) {
  ASSERT_TRUE(add("bogus.example.", 600).error.empty());
  EXPECT_TRUE(covers("www.bogus.example.", kNow + 599));
  EXPECT_FALSE(covers("www.bogus.example.", kNow + 600));
  EXPECT_EQ(listNegativeAnchors(*cache_, kNow + 599).size(), 1u);
  EXPECT_TRUE(listNegativeAnchors(*cache_, kNow + 600).empty());
  // Adding it again renews it.
  ASSERT_TRUE(add("bogus.example.", 600, "", kNow + 500).error.empty());
  EXPECT_TRUE(covers("www.bogus.example.", kNow + 1099));
  EXPECT_FALSE(covers("www.bogus.example.", kNow + 1100));
}

TEST_F(NegativeAnchorsTest, RemoveTakesExactlyThatAnchor) {
  ASSERT_TRUE(add("example.").error.empty());
  ASSERT_TRUE(add("bogus.example.").error.empty());
  auto removed = removeNegativeAnchor(*cache_, "Bogus.Example");
  EXPECT_TRUE(removed.error.empty());
  EXPECT_EQ(removed.name, "bogus.example.");
  EXPECT_EQ(removed.changed, 1u);
  EXPECT_TRUE(covers("www.bogus.example."));  // still under example.
  removed = removeNegativeAnchor(*cache_, "example.");
  EXPECT_EQ(removed.changed, 1u);
  EXPECT_FALSE(covers("www.bogus.example."));
  EXPECT_EQ(removeNegativeAnchor(*cache_, "example.").changed, 0u);
  EXPECT_FALSE(removeNegativeAnchor(*cache_, "a..b").error.empty());
}

TEST_F(NegativeAnchorsTest, ListInCanonicalOrderWithReasons) {
  ASSERT_TRUE(add("z.example.", 7200, "ticket 42", kNow - 100).error.empty());
  ASSERT_TRUE(add("a.example.", 3600).error.empty());
  ASSERT_TRUE(add("example.net.", 60).error.empty());
  // Ordinary cache data next to them is not listed.
  ASSERT_TRUE(records().storeRrset(rrsetA("a.example."), Rank::kAuthoritativeAnswer, kNow));
  const auto list = listNegativeAnchors(*cache_, kNow);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, "a.example.");
  EXPECT_EQ(list[1].name, "z.example.");
  EXPECT_EQ(list[2].name, "example.net.");
  EXPECT_EQ(list[0].added_at, kNow);
  EXPECT_EQ(list[0].expires_at, kNow + 3600);
  EXPECT_EQ(list[0].reason, "");
  EXPECT_EQ(list[1].added_at, kNow - 100);
  EXPECT_EQ(list[1].expires_at, kNow + 7100);
  EXPECT_EQ(list[1].reason, "ticket 42");
}

TEST_F(NegativeAnchorsTest, RefusesWhatRfc7646AndTheOperatorDoNotWant) {
  EXPECT_NE(add(".").error.find("dnssec.validation"), std::string::npos);
  EXPECT_NE(add("example.", 0).error.find("lifetime"), std::string::npos);
  EXPECT_NE(add("example.", kMaxAnchorLifetimeS + 1).error.find("7 days"), std::string::npos);
  EXPECT_TRUE(add("example.", kMaxAnchorLifetimeS).error.empty());
  EXPECT_NE(add("example.", 60, std::string(kMaxAnchorReason + 1, 'x')).error.find("longer"),
            std::string::npos);
  EXPECT_TRUE(add("example.", 60, std::string(kMaxAnchorReason, 'x')).error.empty());
  EXPECT_NE(add("example.", 60, "bell\a").error.find("control"), std::string::npos);
  EXPECT_NE(add("a..b").error.find("bad name"), std::string::npos);
  EXPECT_EQ(listNegativeAnchors(*cache_, kNow).size(), 1u);
}

TEST_F(NegativeAnchorsTest, CacheFlushKeepsThemButShowsThem) {
  ASSERT_TRUE(add("bogus.example.").error.empty());
  ASSERT_TRUE(
      records().storeRrset(rrsetA("www.bogus.example."), Rank::kAuthoritativeAnswer, kNow));
  const auto shown = inspectName(*cache_, "bogus.example.", std::nullopt, kNow);
  ASSERT_EQ(shown.entries.size(), 1u);
  EXPECT_EQ(shown.entries[0].kind, "nta");
  EXPECT_EQ(flushName(*cache_, "bogus.example.", true).removed, 1u);  // the A record only
  EXPECT_EQ(flushName(*cache_, ".", true).removed, 0u);
  EXPECT_TRUE(covers("www.bogus.example."));
}

TEST_F(NegativeAnchorsTest, TheValidatorTreatsACoveredZoneAsInsecure) {
  ValidationConfig config;
  // Any anchor turns validation on; this test never gets as far as using it.
  config.anchors.push_back({dns::Name(), dns::rrtype::kDs, {0x4f, 0x66, 13, 2}});
  RecordCache records(*cache_, TtlLimits{});
  Validator validator(config, records);
  dnssec::Budget budget;
  // Nothing cached: the DS of the zone must be fetched first.
  auto trust = validator.trustOf(name("bogus.example."), kNow, budget);
  ASSERT_TRUE(trust.need.has_value());
  EXPECT_EQ(trust.need->type, dns::rrtype::kDs);
  ASSERT_TRUE(add("bogus.example.").error.empty());
  trust = validator.trustOf(name("sub.bogus.example."), kNow, budget);
  EXPECT_FALSE(trust.need.has_value());
  EXPECT_EQ(trust.verdict.security, dnssec::Security::kInsecure);
  EXPECT_NE(trust.verdict.reason.find("negative trust anchor"), std::string::npos)
      << trust.verdict.reason;
  // Expired: validated again.
  EXPECT_TRUE(validator.trustOf(name("bogus.example."), kNow + 3600, budget).need.has_value());
}

}  // namespace
}  // namespace shoal::resolver
