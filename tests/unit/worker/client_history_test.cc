// worker/client_history.h: buckets from what a client did, the rate's
// decay, the table's bound, the IPv6 /64 key.

#include "worker/client_history.h"

#include <gtest/gtest.h>

namespace shoal::worker {
namespace {

ClientKey key(const char* text) { return ClientKey::of(*base::IpAddress::parse(text)); }

TEST(ClientHistoryTest, NewClientsStartInTheCollapseBucket) {
  ClientHistory h;
  EXPECT_EQ(h.onConnect(key("192.0.2.1"), 0), ClientBucket::kCollapse);
  // A burst of connections not closed yet says nothing of how they are used.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(h.onConnect(key("192.0.2.1"), 0), ClientBucket::kCollapse) << i;
  }
}

TEST(ClientHistoryTest, OneQueryPerConnectionMakesADontBotherClientAfterThree) {
  ClientHistory h;
  const ClientKey k = key("192.0.2.1");
  int64_t now = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(h.onConnect(k, now), ClientBucket::kCollapse) << i;
    h.onQuery(k, now);
    h.onClose(k, 1);
    now += 30'000;  // rarely: never frequent
  }
  EXPECT_EQ(h.onConnect(k, now), ClientBucket::kDontBother);
  // Using a connection for more queries than it opens brings it back.
  for (int i = 0; i < 3; ++i) h.onQuery(k, now);
  h.onClose(k, 3);
  EXPECT_NE(h.onConnect(k, now + 600'000), ClientBucket::kDontBother);
}

TEST(ClientHistoryTest, FrequentQueriesMakeAKeepActiveClientUntilTheRateDecays) {
  ClientHistory h;
  const ClientKey k = key("2001:db8:1:2::5");
  h.onConnect(k, 0);
  for (int i = 0; i < 20; ++i) h.onQuery(k, i * 1000);  // one a second for 20 s
  h.onClose(k, 20);
  EXPECT_EQ(h.onConnect(k, 20'000), ClientBucket::kKeepActive);
  h.onClose(k, 0);
  // Ten quiet minutes later the rate has decayed below one per 10 s.
  EXPECT_EQ(h.onConnect(k, 620'000), ClientBucket::kCollapse);
}

TEST(ClientHistoryTest, AnIpv6ClientIsItsSlash64) {
  EXPECT_EQ(key("2001:db8:1:2::5"), key("2001:db8:1:2:ffff::1"));
  EXPECT_FALSE(key("2001:db8:1:2::5") == key("2001:db8:1:3::5"));
  EXPECT_EQ(key("2001:db8:1:2::5").address().toString(), "2001:db8:1:2::");
  EXPECT_EQ(key("192.0.2.7").address().toString(), "192.0.2.7");
  EXPECT_FALSE(key("0.0.0.1") == key("::1"));
}

TEST(ClientHistoryTest, TopIsByRateWithTheBucketANewConnectionWouldGet) {
  ClientHistory h;
  const ClientKey busy = key("192.0.2.1"), quiet = key("192.0.2.2");
  h.onConnect(busy, 0);
  h.onConnect(quiet, 0);
  for (int i = 0; i < 30; ++i) h.onQuery(busy, i * 100);
  h.onQuery(quiet, 0);
  const auto top = h.top(10, 3000);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].key, busy);
  EXPECT_EQ(top[0].open, 1u);
  EXPECT_EQ(top[0].queries, 30u);
  EXPECT_EQ(top[0].bucket, ClientBucket::kKeepActive);
  EXPECT_EQ(top[1].key, quiet);
  EXPECT_EQ(h.top(1, 3000).size(), 1u);
}

TEST(ClientHistoryTest, TheTableKeepsTheMostRecentClients) {
  ClientHistory h;
  const ClientKey held = key("198.51.100.1");
  h.onConnect(held, 0);  // stays open: kept even when it is the oldest
  for (uint32_t i = 0; i < ClientHistory::kCapacity + 100; ++i) {
    uint8_t bytes[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                        static_cast<uint8_t>(i)};
    const ClientKey k = ClientKey::of(base::IpAddress::v4(bytes));
    h.onConnect(k, 1 + i);
    h.onClose(k, 1);
  }
  EXPECT_EQ(h.size(), ClientHistory::kCapacity);
  bool found = false;
  for (const auto& e : h.top(ClientHistory::kCapacity, 10'000'000)) found = found || e.key == held;
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace shoal::worker
