#include "resolver/sentinel.h"

#include <gtest/gtest.h>

#include <array>

namespace shoal::resolver {
namespace {

dns::Name N(const char* text) { return *dns::Name::fromText(text); }

TEST(Sentinel, ReadsIsTaAndNotTaLabels) {
  auto is = sentinelOf(N("root-key-sentinel-is-ta-20326.example.com"));
  ASSERT_TRUE(is);
  EXPECT_TRUE(is->is_ta);
  EXPECT_EQ(is->key_tag, 20326);
  auto nt = sentinelOf(N("ROOT-Key-Sentinel-NOT-ta-00042.example.com"));
  ASSERT_TRUE(nt);
  EXPECT_FALSE(nt->is_ta);
  EXPECT_EQ(nt->key_tag, 42);
}

TEST(Sentinel, OnlyFiveDigitsInTheLeftmostLabelCount) {
  EXPECT_FALSE(sentinelOf(N("root-key-sentinel-is-ta-2032.example.com")));
  EXPECT_FALSE(sentinelOf(N("root-key-sentinel-is-ta-203266.example.com")));
  EXPECT_FALSE(sentinelOf(N("root-key-sentinel-is-ta-2032x.example.com")));
  EXPECT_FALSE(sentinelOf(N("root-key-sentinel-is-ta-99999.example.com")));  // > 65535
  EXPECT_FALSE(sentinelOf(N("root-key-sentinel-maybe-20326.example.com")));
  EXPECT_FALSE(sentinelOf(N("www.root-key-sentinel-is-ta-20326.example.com")));
  EXPECT_FALSE(sentinelOf(N(".")));
  EXPECT_TRUE(mayBeSentinel(N("root-key-sentinel-maybe.example.com")));  // the hot path's cheap check
  EXPECT_FALSE(mayBeSentinel(N("www.example.com")));
}

TEST(Sentinel, FailsWhenTheAnswerContradictsTheAnchors) {
  const std::array<uint16_t, 2> anchors{20326, 38696};
  EXPECT_FALSE(sentinelFails({true, 20326}, anchors));
  EXPECT_TRUE(sentinelFails({true, 19036}, anchors));
  EXPECT_TRUE(sentinelFails({false, 38696}, anchors));
  EXPECT_FALSE(sentinelFails({false, 19036}, anchors));
}

}  // namespace
}  // namespace shoal::resolver
