#include "shmcache/cache.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "tests/unit/shmcache/test_util.h"

namespace shoal::shmcache {
namespace {

using testing_util::bytes;
using namespace std::string_literals;

class CacheTest : public testing_util::SegmentFixture {};

Meta meta(int64_t expires, uint8_t rank = 1, Security security = Security::kIndeterminate) {
  Meta m;
  m.expires_at = expires;
  m.original_ttl = 300;
  m.rank = rank;
  m.security = security;
  return m;
}

std::string payloadOf(const std::array<uint8_t, 4096>& buf, const Found& f) {
  return std::string(buf.begin(), buf.begin() + static_cast<long>(f.payload_length));
}

TEST_F(CacheTest, InsertLookupRemove) {
  auto cache = open();
  const auto name = bytes("com\0example\0www\0"s);
  const Key key{name, 1, 0};
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(2000), bytes("rdata-1"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  auto found = cache->lookup(key, nullptr, 1500, buf);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(payloadOf(buf, *found), "rdata-1");
  EXPECT_EQ(found->meta.expires_at, 2000);
  EXPECT_EQ(found->meta.original_ttl, 300u);
  EXPECT_FALSE(found->stale);
  // Another type or kind is another entry.
  EXPECT_FALSE(cache->lookup(Key{name, 28, 0}, nullptr, 1500, buf).ok());
  EXPECT_FALSE(cache->lookup(Key{name, 1, 1}, nullptr, 1500, buf).ok());
  EXPECT_EQ(cache->remove(key), 1u);
  EXPECT_EQ(cache->lookup(key, nullptr, 1500, buf).error(), Error::kNotFound);
  const auto c = cache->counters();
  EXPECT_EQ(c.inserts, 1u);
  EXPECT_EQ(c.hits, 1u);
  EXPECT_EQ(c.misses, 3u);
}

TEST_F(CacheTest, EmptyNameIsTheRoot) {
  auto cache = open();
  const Key key{{}, 2, 0};
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(2000), bytes("root NS"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  EXPECT_TRUE(cache->lookup(key, nullptr, 1000, buf).ok());
}

TEST_F(CacheTest, ExpiryAndStaleServing) {
  auto cache = open();
  const auto name = bytes("a\0"s);
  const Key key{name, 1, 0};
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(1100), bytes("x"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  EXPECT_TRUE(cache->lookup(key, nullptr, 1099, buf).ok());
  EXPECT_EQ(cache->lookup(key, nullptr, 1100, buf).error(), Error::kNotFound);
  auto stale = cache->lookup(key, nullptr, 1150, buf, 60);
  ASSERT_TRUE(stale.ok());
  EXPECT_TRUE(stale->stale);
  EXPECT_FALSE(cache->lookup(key, nullptr, 1161, buf, 60).ok());
  EXPECT_EQ(cache->counters().stale_hits, 1u);
  EXPECT_GE(cache->counters().expired, 2u);
}

TEST_F(CacheTest, LookupsInTheLastTenthOfTheTtlAreCounted) {
  auto cache = open();
  const auto name = bytes("a\0"s);
  const Key key{name, 1, 0};
  std::array<uint8_t, 4096> buf{};
  const auto late = [&](int64_t now, uint32_t max_stale = 0) -> int64_t {
    auto found = cache->lookup(key, nullptr, now, buf, max_stale);
    EXPECT_TRUE(found.ok()) << "at " << now;
    return found.ok() ? int64_t{found->late_hits} : int64_t{-1};
  };
  // 300 s of TTL up to 1300: the last tenth starts at 1270.
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(1300), bytes("x"), 1000).ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(late(1100), 0);
  EXPECT_EQ(late(1269), 0);
  EXPECT_EQ(late(1270), 1);
  EXPECT_EQ(late(1299), 2);
  // Stored again (refreshed): counted from zero.
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(1600), bytes("y"), 1299).ok());
  EXPECT_EQ(late(1299), 0);
  // Stale lookups are not counted.
  EXPECT_EQ(late(1650, 600), 0);
}

TEST_F(CacheTest, LowerRankNeverReplacesHigherBeforeExpiry) {
  auto cache = open();
  const auto name = bytes("com\0example\0"s);
  const Key key{name, 2, 0};
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(2000, 5), bytes("answer"), 1000).ok());
  EXPECT_EQ(cache->insert(key, Partition::global(), meta(3000, 2), bytes("glue"), 1000).error(),
            Error::kRankTooLow);
  std::array<uint8_t, 4096> buf{};
  EXPECT_EQ(payloadOf(buf, *cache->lookup(key, nullptr, 1000, buf)), "answer");
  // Equal or higher rank replaces.
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(2500, 5), bytes("answer2"), 1000).ok());
  EXPECT_EQ(payloadOf(buf, *cache->lookup(key, nullptr, 1000, buf)), "answer2");
  // After expiry, anything replaces.
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(4000, 1), bytes("glue"), 2600).ok());
  EXPECT_EQ(payloadOf(buf, *cache->lookup(key, nullptr, 2600, buf)), "glue");
  EXPECT_EQ(cache->counters().rank_refused, 1u);
}

TEST_F(CacheTest, EcsPartitionSelection) {
  auto cache = open();
  const auto name = bytes("com\0ecs\0www\0"s);
  const Key key{name, 1, 0};
  const auto v4 = *base::IpAddress::parse("198.51.100.77");
  const auto other = *base::IpAddress::parse("203.0.113.5");
  const auto v6 = *base::IpAddress::parse("2001:db8:0:1::5");
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(2000), bytes("global"), 1000).ok());
  ASSERT_TRUE(cache->insert(key, Partition::of(v4, 16), meta(2000), bytes("/16"), 1000).ok());
  ASSERT_TRUE(cache->insert(key, Partition::of(v4, 24), meta(2000), bytes("/24"), 1000).ok());
  ASSERT_TRUE(cache->insert(key, Partition::of(v6, 48), meta(2000), bytes("v6/48"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  auto hit = [&](const base::IpAddress* client) {
    auto f = cache->lookup(key, client, 1000, buf);
    return f.ok() ? payloadOf(buf, *f) : std::string("miss");
  };
  EXPECT_EQ(hit(&v4), "/24");
  const auto same16 = *base::IpAddress::parse("198.51.7.1");
  EXPECT_EQ(hit(&same16), "/16");
  EXPECT_EQ(hit(&other), "global");
  EXPECT_EQ(hit(&v6), "v6/48");
  EXPECT_EQ(hit(nullptr), "global");
  auto f = cache->lookup(key, &v4, 1000, buf);
  EXPECT_EQ(f->partition.prefix, 24);
  EXPECT_EQ(f->partition.family, 1);
  // The most specific partition expired: fall back to a fresh, wider one.
  ASSERT_TRUE(cache->insert(key, Partition::of(v4, 24), meta(1001), bytes("/24 short"), 1000).ok());
  EXPECT_EQ(hit(&v4), "/24 short");
  auto later = cache->lookup(key, &v4, 1500, buf);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(payloadOf(buf, *later), "/16");
}

TEST_F(CacheTest, PartitionHitsAndLeastRecentlyUsedEviction) {
  auto cache = open(4u << 20, 4, /*max_partitions=*/3);
  const auto name = bytes("com\0cdn\0"s);
  const Key key{name, 1, 0};
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(5000), bytes("g"), 1000).ok());
  for (int i = 0; i < 3; ++i) {
    const auto client = *base::IpAddress::parse("11.0." + std::to_string(i) + ".1");
    ASSERT_TRUE(cache->insert(key, Partition::of(client, 24), meta(5000), bytes(std::to_string(i)),
                              1000 + i)
                    .ok());
  }
  std::array<uint8_t, 4096> buf{};
  // The oldest partition (11.0.0.0/24) is used twice, the global entry once.
  const auto first = *base::IpAddress::parse("11.0.0.9");
  ASSERT_TRUE(cache->lookup(key, &first, 1010, buf).ok());
  ASSERT_TRUE(cache->lookup(key, &first, 1011, buf).ok());
  const auto elsewhere = *base::IpAddress::parse("11.9.9.9");
  ASSERT_TRUE(cache->lookup(key, &elsewhere, 1011, buf).ok());
  auto listed = cache->collectPartitioned(1012);
  ASSERT_EQ(listed.size(), 3u) << "partitioned entries only, not the global one";
  for (const auto& e : listed) {
    EXPECT_EQ(e.hits, e.partition.address[2] == 0 ? 2u : 0u);
    EXPECT_TRUE(e.payload.empty());
  }
  // A fourth partition: the least recently used (11.0.1.0/24) goes, not
  // the oldest one that was just used.
  const auto fourth = *base::IpAddress::parse("11.0.3.1");
  ASSERT_TRUE(cache->insert(key, Partition::of(fourth, 24), meta(5000), bytes("3"), 1020).ok());
  auto present = [&](const char* client_text) {
    const auto client = *base::IpAddress::parse(client_text);
    auto f = cache->lookup(key, &client, 1021, buf);
    return f.ok() && f->partition.family != 0;
  };
  EXPECT_TRUE(present("11.0.0.9"));
  EXPECT_FALSE(present("11.0.1.9"));
  EXPECT_TRUE(present("11.0.2.9"));
  EXPECT_TRUE(present("11.0.3.9"));
  EXPECT_EQ(cache->counters().partition_evictions, 1u);
  EXPECT_TRUE(cache->collectPartitioned(5000).empty()) << "expired entries are not listed";
}

TEST_F(CacheTest, NoSubnetEntriesAreOnlyForClientsWithoutOne) {
  auto cache = open();
  const auto name = bytes("com\0geo\0www\0"s);
  const Key key{name, 1, 0};
  ASSERT_TRUE(cache->insert(key, Partition::noSubnet(), meta(2000), bytes("none"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  auto hit = [&](const base::IpAddress* client) {
    auto f = cache->lookup(key, client, 1000, buf);
    return f.ok() ? payloadOf(buf, *f) : std::string("miss");
  };
  const auto v4 = *base::IpAddress::parse("11.1.2.0");
  const auto v6 = *base::IpAddress::parse("::");
  EXPECT_EQ(hit(nullptr), "none");
  EXPECT_EQ(hit(&v4), "miss");
  EXPECT_EQ(hit(&v6), "miss") << "not even the all-zero address";
  ASSERT_TRUE(cache->insert(key, Partition::global(), meta(2000), bytes("global"), 1001).ok());
  EXPECT_EQ(hit(&v4), "global");
}

// Exact least recently used, whatever the clock: many uses in one second.
TEST_F(CacheTest, PartitionEvictionIsExactWithinOneSecond) {
  auto cache = open(4u << 20, 4, /*max_partitions=*/4);
  const auto name = bytes("com\0many\0"s);
  const Key key{name, 1, 0};
  std::array<uint8_t, 4096> buf{};
  auto subnet = [](int i) { return *base::IpAddress::parse("11." + std::to_string(i) + ".0.1"); };
  auto ask = [&](int i) {
    const auto client = subnet(i);
    auto f = cache->lookup(key, &client, 1000, buf);
    if (f.ok() && f->partition.family != 0) return;
    ASSERT_TRUE(cache->insert(key, Partition::of(client, 16), meta(5000),
                              bytes(std::to_string(i)), 1000)
                    .ok());
  };
  // The sequence the lab found wrong with second-granular clocks.
  std::vector<int> order = {12, 11, 14, 11, 17, 17, 17, 16, 13, 11, 17, 10, 16, 16};
  std::vector<int> lru;  // most recent last
  for (int i : order) {
    ask(i);
    std::erase(lru, i);
    lru.push_back(i);
    if (lru.size() > 4) lru.erase(lru.begin());
  }
  for (int i = 10; i <= 17; ++i) {
    const auto client = subnet(i);
    auto f = cache->lookup(key, &client, 1000, buf);
    const bool kept = f.ok() && f->partition.family != 0;
    EXPECT_EQ(kept, std::find(lru.begin(), lru.end(), i) != lru.end()) << "11." << i << "/16";
  }
}

TEST_F(CacheTest, PartitionLimitEvictsTheLeastRecentlyUsed) {
  auto cache = open(4u << 20, 4, /*max_partitions=*/3);
  const auto name = bytes("com\0popular\0"s);
  const Key key{name, 1, 0};
  for (int i = 0; i < 5; ++i) {
    const auto client = *base::IpAddress::parse("10.0." + std::to_string(i) + ".1");
    ASSERT_TRUE(cache->insert(key, Partition::of(client, 24), meta(5000), bytes(std::to_string(i)),
                              1000 + i)
                    .ok());
  }
  std::array<uint8_t, 4096> buf{};
  int present = 0;
  for (int i = 0; i < 5; ++i) {
    const auto client = *base::IpAddress::parse("10.0." + std::to_string(i) + ".9");
    auto f = cache->lookup(key, &client, 1010, buf);
    if (f.ok()) {
      ++present;
      EXPECT_GE(i, 2) << "never used: the oldest partitions go first";
    }
  }
  EXPECT_EQ(present, 3);
  EXPECT_EQ(cache->counters().partition_evictions, 2u);
}

TEST_F(CacheTest, EvictionUnderAFullArena) {
  auto cache = open(1u << 20, 1);
  const size_t arena = cache->arenaBytesPerStripe();
  std::vector<uint8_t> payload(200, 'p');
  const int n = static_cast<int>(arena / 150);  // ~twice what fits
  std::array<uint8_t, 4096> buf{};
  for (int i = 0; i < n; ++i) {
    const auto name = bytes("name" + std::to_string(i));
    ASSERT_TRUE(cache->insert(Key{name, 1, 0}, Partition::global(), meta(100000), payload, 1000).ok());
    // Keep reading entry 0 so that CLOCK gives it second chances.
    const auto hot = bytes("name0");
    ASSERT_TRUE(cache->lookup(Key{hot, 1, 0}, nullptr, 1000, buf).ok()) << i;
  }
  EXPECT_GT(cache->counters().evictions, 0u);
  // The newest entry is present, the oldest cold ones are gone.
  const auto newest = bytes("name" + std::to_string(n - 1));
  EXPECT_TRUE(cache->lookup(Key{newest, 1, 0}, nullptr, 1000, buf).ok());
  const auto cold = bytes("name1");
  EXPECT_FALSE(cache->lookup(Key{cold, 1, 0}, nullptr, 1000, buf).ok());
  const auto fill = cache->fill();
  EXPECT_LE(fill[0].live_bytes, arena);
  EXPECT_GT(fill[0].live_entries, 0u);
}

TEST_F(CacheTest, ExpiredEntriesAreEvictedBeforeHotOnes) {
  auto cache = open(1u << 20, 1);
  const size_t arena = cache->arenaBytesPerStripe();
  std::vector<uint8_t> payload(200, 'p');
  std::array<uint8_t, 4096> buf{};
  const auto hot = bytes("hot");
  ASSERT_TRUE(cache->insert(Key{hot, 1, 0}, Partition::global(), meta(100000), payload, 1000).ok());
  const int n = static_cast<int>(arena / 270);
  for (int i = 0; i < n * 3; ++i) {
    const auto name = bytes("short" + std::to_string(i));
    ASSERT_TRUE(cache->insert(Key{name, 1, 0}, Partition::global(), meta(1001), payload, 1000 + i / n).ok());
    ASSERT_TRUE(cache->lookup(Key{hot, 1, 0}, nullptr, 1000 + i / n, buf).ok()) << i;
  }
  EXPECT_GT(cache->counters().expired_evictions, 0u);
}

TEST_F(CacheTest, TooLargeIsRefused) {
  auto cache = open(1u << 20, 4);
  std::vector<uint8_t> huge(cache->maxEntrySize(), 'x');
  const auto name = bytes("big");
  EXPECT_EQ(cache->insert(Key{name, 16, 0}, Partition::global(), meta(2000), huge, 1000).error(),
            Error::kTooLarge);
  EXPECT_EQ(cache->counters().too_large, 1u);
  std::vector<uint8_t> ok(cache->maxEntrySize() - 128, 'x');
  EXPECT_TRUE(cache->insert(Key{name, 16, 0}, Partition::global(), meta(2000), ok, 1000).ok());
}

TEST_F(CacheTest, BufferTooSmallIsAnError) {
  auto cache = open();
  const auto name = bytes("n");
  ASSERT_TRUE(cache->insert(Key{name, 1, 0}, Partition::global(), meta(2000), bytes("0123456789"), 1000).ok());
  std::array<uint8_t, 4> small{};
  EXPECT_EQ(cache->lookup(Key{name, 1, 0}, nullptr, 1000, small).error(), Error::kBufferTooSmall);
}

TEST_F(CacheTest, NegativeEntriesAreTheirOwnKind) {
  // The resolver keeps NXDOMAIN/NODATA (RFC 2308) under their own kind, with
  // the SOA and proofs as payload and the negative TTL as expiry.
  auto cache = open();
  const auto name = bytes("com\0example\0nx\0"s);
  constexpr uint8_t kNegative = 1;
  ASSERT_TRUE(cache->insert(Key{name, 0, kNegative}, Partition::global(), meta(1300), bytes("SOA+NSEC"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  EXPECT_FALSE(cache->lookup(Key{name, 0, 0}, nullptr, 1000, buf).ok());
  auto f = cache->lookup(Key{name, 0, kNegative}, nullptr, 1200, buf);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(payloadOf(buf, *f), "SOA+NSEC");
  EXPECT_FALSE(cache->lookup(Key{name, 0, kNegative}, nullptr, 1300, buf).ok());
}

TEST_F(CacheTest, RemoveNameAndSubtree) {
  auto cache = open();
  const auto parent = bytes("com\0example\0"s);
  const auto child = bytes("com\0example\0www\0"s);
  const auto other = bytes("com\0examples\0"s);
  for (const auto* n : {&parent, &child, &other}) {
    for (uint16_t type : {uint16_t{1}, uint16_t{28}}) {
      ASSERT_TRUE(cache->insert(Key{*n, type, 0}, Partition::global(), meta(2000), bytes("x"), 1000).ok());
    }
  }
  EXPECT_EQ(cache->collect(parent, false).size(), 2u);
  EXPECT_EQ(cache->collect(parent, true).size(), 4u);
  EXPECT_EQ(cache->removeName(child, false), 2u);
  EXPECT_EQ(cache->removeName(parent, true), 2u);
  EXPECT_EQ(cache->collect(other, false).size(), 2u);
}

TEST_F(CacheTest, RemoveNameKeepsAndCollectPicksTheKindsAskedFor) {
  auto cache = open();
  const auto parent = bytes("com\0example\0"s);
  const auto child = bytes("com\0example\0www\0"s);
  for (const auto* n : {&parent, &child}) {
    for (uint8_t kind : {uint8_t{0}, uint8_t{4}, uint8_t{7}}) {
      ASSERT_TRUE(cache->insert(Key{*n, 0, kind}, Partition::global(), meta(2000), bytes("x"), 1000).ok());
    }
  }
  ASSERT_TRUE(cache->insertRange(parent, child, meta(2000, 1, Security::kSecure), bytes("r"), 1000).ok());
  const std::array<uint8_t, 2> keep{4, 7};
  EXPECT_EQ(cache->removeName(parent, true, keep), 3u);  // two of kind 0 and the range
  const auto left = cache->collect(parent, true);
  ASSERT_EQ(left.size(), 4u);
  for (const auto& e : left) EXPECT_NE(e.kind, 0u);
  const std::array<uint8_t, 1> only{7};
  const auto sevens = cache->collect({}, true, only);
  ASSERT_EQ(sevens.size(), 2u);
  for (const auto& e : sevens) EXPECT_EQ(e.kind, 7u);
  EXPECT_EQ(cache->removeName(child, false), 2u);  // nothing kept without keep_kinds
}

// NSEC ranges: the set is the zone, the order key the owner's lookup key.
TEST_F(CacheTest, RangeFindsGreatestNotAbove) {
  auto cache = open();
  const auto zone = bytes("com\0example\0"s);
  auto owner = [](const std::string& lf) { return bytes(lf); };
  const auto apex = owner("com\0example\0"s);
  const auto b = owner("com\0example\0b\0"s);
  const auto m = owner("com\0example\0m\0"s);
  const Meta secure = meta(2000, 1, Security::kSecure);
  ASSERT_TRUE(cache->insertRange(zone, apex, secure, bytes("apex->b"), 1000).ok());
  ASSERT_TRUE(cache->insertRange(zone, b, secure, bytes("b->m"), 1000).ok());
  ASSERT_TRUE(cache->insertRange(zone, m, secure, bytes("m->apex"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  std::array<uint8_t, 1024> order{};
  auto find = [&](const std::string& lf) {
    auto f = cache->findRange(zone, bytes(lf), 1000, order, buf);
    return f.ok() ? payloadOf(buf, *f) : std::string("miss");
  };
  EXPECT_EQ(find("com\0example\0a\0"s), "apex->b");
  EXPECT_EQ(find("com\0example\0b\0"s), "b->m");  // match
  EXPECT_EQ(find("com\0example\0c\0"s), "b->m");
  EXPECT_EQ(find("com\0example\0z\0"s), "m->apex");
  EXPECT_EQ(find("com\0example\0b\0x\0"s), "b->m");
  // Before the apex (outside the zone, below it in order): wrap-around to
  // the last entry; the caller checks coverage and zone membership.
  EXPECT_EQ(find("com\0aaa\0"s), "m->apex");
  auto f = cache->findRange(zone, bytes("com\0example\0c\0"s), 1000, order, buf);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::string(order.begin(), order.begin() + static_cast<long>(f->order_length)),
            "com\0example\0b\0"s);
  // Another zone's set is separate.
  const auto other_zone = bytes("net\0"s);
  EXPECT_FALSE(cache->findRange(other_zone, b, 1000, order, buf).ok());
  // Expired predecessor: no answer (an older one would not cover).
  EXPECT_FALSE(cache->findRange(zone, bytes("com\0example\0c\0"s), 2000, order, buf).ok());
}

TEST_F(CacheTest, RangeAdmitsOnlySecure) {
  auto cache = open();
  const auto zone = bytes("z");
  EXPECT_EQ(cache->insertRange(zone, bytes("a"), meta(2000, 1, Security::kInsecure), bytes("x"), 1000).error(),
            Error::kNotSecure);
  EXPECT_EQ(cache->insertRange(zone, bytes("a"), meta(2000, 1, Security::kIndeterminate), bytes("x"), 1000).error(),
            Error::kNotSecure);
}

// NSEC3: the set is zone + hash parameters, the order key the raw hash.
TEST_F(CacheTest, Nsec3HashRanges) {
  auto cache = open();
  const auto set = bytes("com\0example\0\x01\x00\x00\x00"s);  // alg 1, 0 iterations, no salt
  const Meta secure = meta(2000, 1, Security::kSecure);
  std::array<uint8_t, 20> h1{}, h2{}, h3{};
  h1[0] = 0x10;
  h2[0] = 0x80;
  h3[0] = 0xF0;
  ASSERT_TRUE(cache->insertRange(set, h1, secure, bytes("h1"), 1000).ok());
  ASSERT_TRUE(cache->insertRange(set, h2, secure, bytes("h2"), 1000).ok());
  ASSERT_TRUE(cache->insertRange(set, h3, secure, bytes("h3"), 1000).ok());
  std::array<uint8_t, 4096> buf{};
  std::array<uint8_t, 64> order{};
  auto find = [&](uint8_t first) {
    std::array<uint8_t, 20> h{};
    h[0] = first;
    auto f = cache->findRange(set, h, 1000, order, buf);
    return f.ok() ? payloadOf(buf, *f) : std::string("miss");
  };
  EXPECT_EQ(find(0x20), "h1");
  EXPECT_EQ(find(0x80), "h2");
  EXPECT_EQ(find(0xFF), "h3");
  EXPECT_EQ(find(0x01), "h3");  // before the first hash: the last range wraps
  // Other parameters are another set.
  const auto other = bytes("com\0example\0\x01\x00\x0a\x00"s);
  std::array<uint8_t, 20> h{};
  EXPECT_FALSE(cache->findRange(other, h, 1000, order, buf).ok());
}

TEST_F(CacheTest, RangeReplacementAndEviction) {
  auto cache = open(1u << 20, 1);
  const auto zone = bytes("zone");
  const Meta secure = meta(100000, 1, Security::kSecure);
  std::array<uint8_t, 4096> buf{};
  std::array<uint8_t, 64> order{};
  std::vector<uint8_t> payload(300, 'n');
  const int n = static_cast<int>(cache->arenaBytesPerStripe() / 200);
  for (int i = 0; i < n; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%08d", i);
    ASSERT_TRUE(cache->insertRange(zone, bytes(key), secure, payload, 1000).ok());
  }
  EXPECT_GT(cache->counters().evictions, 0u);
  // The newest is found exactly; an evicted old key now finds nothing at or
  // below it, so it wraps to the greatest key.
  char last[16];
  std::snprintf(last, sizeof last, "k%08d", n - 1);
  auto f = cache->findRange(zone, bytes(last), 1000, order, buf);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::string(order.begin(), order.begin() + static_cast<long>(f->order_length)), last);
  ASSERT_TRUE(cache->insertRange(zone, bytes(last), secure, bytes("new"), 1000).ok());
  f = cache->findRange(zone, bytes(last), 1000, order, buf);
  EXPECT_EQ(payloadOf(buf, *f), "new");
}

TEST_F(CacheTest, BadOptionsAreRefused) {
  Options o;
  o.name = name_;
  o.size = 1u << 20;
  o.stripes = 3;
  EXPECT_EQ(Cache::open(o, 0).error(), Error::kBadOptions);
  o.stripes = 1024;  // 1 MiB / 1024 stripes is too small a stripe
  EXPECT_EQ(Cache::open(o, 0).error(), Error::kBadOptions);
  o.stripes = 4;
  o.max_partitions = 0;
  EXPECT_EQ(Cache::open(o, 0).error(), Error::kBadOptions);
}

}  // namespace
}  // namespace shoal::shmcache
