// shoalctl ecs: the counts and listings the supervisor answers "ecs" with,
// from a real cache segment filled with ECS partitions.

#include "resolver/inspect_ecs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/name.h"
#include "resolver/cache_format.h"

namespace shoal::resolver {
namespace {

constexpr int64_t kNow = 1'700'000'000;  // seconds

base::IpAddress ip(std::string_view text) {
  auto a = base::IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(base::IpAddress());
}

class InspectEcsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    segment_ = "/shoal-inspect-ecs-" + std::to_string(getpid()) + "-" + info->name();
    shmcache::Options options;
    options.name = segment_;
    options.size = 4u << 20;
    options.stripes = 4;
    options.max_partitions = 8;
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

  /// Stores an entry of `owner` (payloads are not read by these listings).
  void put(std::string_view owner, uint16_t type, Kind kind, const shmcache::Partition& partition,
           int64_t ttl) {
    const auto name = dns::Name::fromText(owner);
    ASSERT_TRUE(name.ok()) << owner;
    const auto key = name->lookupKey();
    shmcache::Meta meta;
    meta.expires_at = kNow + ttl;
    meta.original_ttl = static_cast<uint32_t>(ttl > 0 ? ttl : 1);
    meta.rank = static_cast<uint8_t>(Rank::kAnswer);
    const std::array<uint8_t, 3> payload{1, 2, 3};
    ASSERT_TRUE(cache_
                    ->insert({key.bytes(), type, static_cast<uint8_t>(kind)}, partition, meta,
                             payload, kNow - 1)
                    .ok())
        << owner;
  }
  void putA(std::string_view owner, std::string_view client, uint8_t scope, int64_t ttl = 300) {
    put(owner, dns::rrtype::kA, Kind::kRrset, shmcache::Partition::of(ip(client), scope), ttl);
  }
  /// A lookup of `owner`/A from `client`: counts a hit on the partition chosen.
  void ask(std::string_view owner, std::string_view client) {
    const auto key = dns::Name::fromText(owner)->lookupKey();
    const auto address = ip(client);
    std::array<uint8_t, 512> out{};
    EXPECT_TRUE(cache_
                    ->lookup({key.bytes(), dns::rrtype::kA, static_cast<uint8_t>(Kind::kRrset)},
                             &address, kNow, out)
                    .ok())
        << owner << " from " << client;
  }

  std::string segment_;
  std::unique_ptr<shmcache::Cache> cache_;
};

TEST_F(InspectEcsTest, EmptyCache) {
  put("www.geo.com.", dns::rrtype::kA, Kind::kRrset, shmcache::Partition::global(), 300);
  const EcsSummary summary = summarizeEcs(*cache_, kNow, 10);
  EXPECT_EQ(summary.entries, 0u);
  EXPECT_EQ(summary.names, 0u);
  EXPECT_TRUE(summary.top.empty());
}

TEST_F(InspectEcsTest, SummaryCountsFamiliesAndListsTheNamesWithTheMost) {
  putA("www.geo.com.", "11.1.2.3", 16);
  putA("www.geo.com.", "11.2.2.3", 16);
  putA("www.geo.com.", "2a01:1::5", 32);
  put("www.geo.com.", dns::rrtype::kA, Kind::kRrset, shmcache::Partition::global(), 300);
  put("www.geo.com.", dns::rrtype::kAaaa, Kind::kRrset, shmcache::Partition::of(ip("11.1.2.3"), 24),
      300);
  putA("cdn.geo.com.", "11.1.2.3", 24);
  putA("cdn.geo.com.", "11.9.2.3", 24);
  putA("cdn.geo.com.", "11.8.2.3", 24);
  putA("old.geo.com.", "11.1.2.3", 24, /*ttl=*/-5);  // expired: not counted
  put("nx.geo.com.", 0, Kind::kNxdomain, shmcache::Partition::of(ip("11.1.2.3"), 24), 60);
  // Ties on partitions go to hits: www gets two, cdn one.
  ask("www.geo.com.", "11.1.9.9");
  ask("www.geo.com.", "11.2.9.9");
  ask("cdn.geo.com.", "11.9.2.200");

  const EcsSummary summary = summarizeEcs(*cache_, kNow, 10);
  EXPECT_EQ(summary.entries, 8u);
  EXPECT_EQ(summary.names, 4u);  // www/A, www/AAAA, cdn/A, nx/*
  EXPECT_EQ(summary.ipv4, 7u);
  EXPECT_EQ(summary.ipv6, 1u);
  ASSERT_EQ(summary.top.size(), 4u);
  EXPECT_EQ(summary.top[0].name, "www.geo.com.");
  EXPECT_EQ(summary.top[0].type, "A");
  EXPECT_EQ(summary.top[0].partitions, 3u);
  EXPECT_EQ(summary.top[0].hits, 2u);
  EXPECT_EQ(summary.top[1].name, "cdn.geo.com.");
  EXPECT_EQ(summary.top[1].partitions, 3u);
  EXPECT_EQ(summary.top[1].hits, 1u);
  // One partition each, no hits: canonical order (lookup keys) decides.
  EXPECT_EQ(summary.top[2].name, "nx.geo.com.");
  EXPECT_EQ(summary.top[2].type, "*");
  EXPECT_EQ(summary.top[3].name, "www.geo.com.");
  EXPECT_EQ(summary.top[3].type, "AAAA");

  const EcsSummary two = summarizeEcs(*cache_, kNow, 2);
  EXPECT_EQ(two.names, 4u) << "the totals count every name, not only the ones listed";
  ASSERT_EQ(two.top.size(), 2u);
  EXPECT_EQ(two.top[1].name, "cdn.geo.com.");
  EXPECT_TRUE(summarizeEcs(*cache_, kNow, 0).top.empty());
}

TEST_F(InspectEcsTest, NamePartitionsSortedWithTheGlobalEntry) {
  putA("www.geo.com.", "2a01:1::5", 32, 100);
  putA("www.geo.com.", "11.2.3.4", 24, 7);
  putA("www.geo.com.", "11.1.2.3", 16, 55);
  put("www.geo.com.", dns::rrtype::kA, Kind::kNodata, shmcache::Partition::of(ip("10.9.9.9"), 8),
      30);
  put("www.geo.com.", 0, Kind::kNxdomain, shmcache::Partition::of(ip("12.0.0.1"), 24), 20);
  put("www.geo.com.", dns::rrtype::kAaaa, Kind::kRrset, shmcache::Partition::of(ip("9.0.0.1"), 24),
      300);  // another type
  put("www.geo.com.", dns::rrtype::kA, Kind::kRrset, shmcache::Partition::global(), 120);
  putA("www.geo.com.", "13.0.0.1", 24, -1);  // expired
  ask("www.geo.com.", "11.1.200.1");

  const EcsNameResult r = inspectEcsName(*cache_, "WWW.geo.com", dns::rrtype::kA, kNow);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.name, "WWW.geo.com.");
  EXPECT_EQ(r.type, "A");
  ASSERT_TRUE(r.global.has_value());
  EXPECT_EQ(r.global->kind, "rrset");
  EXPECT_EQ(r.global->ttl, 120);
  ASSERT_EQ(r.partitions.size(), 5u);
  const std::vector<std::string> prefixes{"10.0.0.0/8", "11.1.0.0/16", "11.2.3.0/24",
                                          "12.0.0.0/24", "2a01:1::/32"};
  for (size_t i = 0; i < prefixes.size(); ++i) EXPECT_EQ(r.partitions[i].prefix, prefixes[i]);
  EXPECT_EQ(r.partitions[0].kind, "nodata");
  EXPECT_EQ(r.partitions[0].scope, 8u);
  EXPECT_EQ(r.partitions[0].ttl, 30);
  EXPECT_EQ(r.partitions[1].scope, 16u);
  EXPECT_EQ(r.partitions[1].ttl, 55);
  EXPECT_EQ(r.partitions[1].hits, 1u);
  EXPECT_EQ(r.partitions[2].hits, 0u);
  EXPECT_EQ(r.partitions[3].kind, "nxdomain");  // answers every type
  EXPECT_EQ(r.partitions[4].scope, 32u);
  EXPECT_EQ(r.partitions[4].ttl, 100);

  const EcsNameResult aaaa = inspectEcsName(*cache_, "www.geo.com.", dns::rrtype::kAaaa, kNow);
  ASSERT_EQ(aaaa.partitions.size(), 2u);
  EXPECT_EQ(aaaa.partitions[0].prefix, "9.0.0.0/24");
  EXPECT_EQ(aaaa.partitions[1].kind, "nxdomain");
  EXPECT_FALSE(aaaa.global.has_value());
  // The global entry expires: no longer listed.
  EXPECT_FALSE(inspectEcsName(*cache_, "www.geo.com.", dns::rrtype::kA, kNow + 120).global);
}

TEST_F(InspectEcsTest, GlobalNegativeEntryAndUnknownNames) {
  put("nx.geo.com.", 0, Kind::kNxdomain, shmcache::Partition::global(), 40);
  const EcsNameResult nx = inspectEcsName(*cache_, "nx.geo.com", dns::rrtype::kMx, kNow);
  ASSERT_TRUE(nx.global.has_value());
  EXPECT_EQ(nx.global->kind, "nxdomain");
  EXPECT_EQ(nx.global->ttl, 40);
  EXPECT_TRUE(nx.partitions.empty());
  const EcsNameResult none = inspectEcsName(*cache_, "nothing.geo.com.", dns::rrtype::kA, kNow);
  EXPECT_TRUE(none.error.empty());
  EXPECT_FALSE(none.global.has_value());
  EXPECT_TRUE(none.partitions.empty());
  EXPECT_EQ(inspectEcsName(*cache_, "x.geo.com", 65280, kNow).type, "TYPE65280");
}

TEST_F(InspectEcsTest, BadNamesAreAnErrorNotACrash) {
  for (const std::string& bad :
       {std::string("a..b"), std::string(""), std::string(300, 'x'),
        std::string(64, 'y') + ".com", std::string("bad\\")}) {
    const EcsNameResult r = inspectEcsName(*cache_, bad, dns::rrtype::kA, kNow);
    EXPECT_NE(r.error.find("bad name"), std::string::npos) << bad;
    EXPECT_TRUE(r.partitions.empty());
  }
}

}  // namespace
}  // namespace shoal::resolver
