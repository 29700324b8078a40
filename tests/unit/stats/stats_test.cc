// The stats segment: creation, keeping counters across a re-create (an
// upgrade), read-only attach, totals and percentiles.

#include "stats/stats.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace shoal::stats {
namespace {

class StatsSegmentTest : public ::testing::Test {
 protected:
  void SetUp() override { shm_unlink(name_.c_str()); }
  void TearDown() override { shm_unlink(name_.c_str()); }
  const std::string name_ = "/shoal-test-stats-" + std::to_string(getpid());
};

TEST(HistogramTest, BucketsArePowersOfTwoOfMicroseconds) {
  Histogram h{};
  h.record(0);     // bucket 0: < 1 us
  h.record(1);     // bucket 1: [1, 2)
  h.record(3);     // bucket 2: [2, 4)
  h.record(1000);  // bucket 10: [512, 1024)
  h.record(uint64_t{1} << 40);  // the last bucket takes everything above
  EXPECT_EQ(h.buckets[0].get(), 1u);
  EXPECT_EQ(h.buckets[1].get(), 1u);
  EXPECT_EQ(h.buckets[2].get(), 1u);
  EXPECT_EQ(h.buckets[10].get(), 1u);
  EXPECT_EQ(h.buckets[kLatencyBuckets - 1].get(), 1u);
  EXPECT_EQ(h.sum_us.get(), 1004u + (uint64_t{1} << 40));
}

TEST(PercentileTest, InterpolatesInsideTheBucket) {
  std::array<uint64_t, kLatencyBuckets> buckets{};
  EXPECT_EQ(percentileUs(buckets, 0.5), 0.0);
  buckets[11] = 100;  // [1024, 2048) us
  EXPECT_DOUBLE_EQ(percentileUs(buckets, 0.5), 1024.0 + 512.0);
  EXPECT_DOUBLE_EQ(percentileUs(buckets, 1.0), 2048.0);
  buckets[1] = 100;  // half the samples at [1, 2) us
  EXPECT_LT(percentileUs(buckets, 0.25), 2.0);
  EXPECT_GE(percentileUs(buckets, 0.99), 1024.0);
}

TEST_F(StatsSegmentTest, CountersSurviveAKeepingRecreateNotAFreshOne) {
  {
    auto segment = Segment::create(name_, false, 0600, static_cast<gid_t>(-1));
    ++segment->slot(3).counters.queries_udp;
    segment->slot(3).counters.cache_hits += 5;
  }
  {
    auto kept = Segment::create(name_, true, 0600, static_cast<gid_t>(-1));
    EXPECT_EQ(kept->slot(3).counters.queries_udp.get(), 1u);
    EXPECT_EQ(totalsOf(*kept).cache_hits, 5u);
    EXPECT_EQ(totalsOfWorker(*kept, 1).cache_hits, 5u);  // slots 2 and 3 are worker 1
    EXPECT_EQ(totalsOfWorker(*kept, 0).cache_hits, 0u);
  }
  auto fresh = Segment::create(name_, false, 0600, static_cast<gid_t>(-1));
  EXPECT_EQ(totalsOf(*fresh).queries(), 0u);
}

TEST_F(StatsSegmentTest, ReadOnlyAttachSeesTheWritersCounters) {
  auto writer = Segment::create(name_, false, 0600, static_cast<gid_t>(-1));
  auto reader = Segment::attachReadOnly(name_);
  writer->slot(0).counters.queries_tcp += 7;
  EXPECT_EQ(totalsOf(*reader).queries_tcp, 7u);
}

TEST_F(StatsSegmentTest, AttachFailsClearlyWhenMissingOrForeign) {
  try {
    (void)Segment::attachReadOnly(name_);
    FAIL() << "attached a missing segment";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not running"), std::string::npos) << e.what();
  }
  // Another layout (here: garbage of the right size) is refused, not read.
  {
    auto segment = Segment::create(name_, false, 0600, static_cast<gid_t>(-1));
    segment->header().magic = 42;
  }
  EXPECT_THROW((void)Segment::attachReadOnly(name_), std::runtime_error);
}

// Issue 15: a stats segment someone else could write is refused, and kept.
TEST_F(StatsSegmentTest, AnUntrustedSegmentIsRefusedAndKept) {
  const int fd = shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "planted", 7), 7);
  ASSERT_EQ(fchmod(fd, 0666), 0);
  close(fd);
  try {
    (void)Segment::create(name_, false, 0600, static_cast<gid_t>(-1));
    FAIL() << "an other-writable stats segment was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not shoal's: mode 0666: writable by others"),
              std::string::npos)
        << e.what();
  }
  char text[8] = {};
  const int again = shm_open(name_.c_str(), O_RDONLY, 0);
  ASSERT_GE(again, 0);
  EXPECT_EQ(read(again, text, 7), 7);
  close(again);
  EXPECT_STREQ(text, "planted");
}

TEST(TotalsTest, DifferenceNeverWrapsBelowZero) {
  Totals a, b;
  a.cache_hits = 10;
  b.cache_hits = 25;
  b.latency_hit[3] = 4;
  const Totals d = difference(b, a);
  EXPECT_EQ(d.cache_hits, 15u);
  EXPECT_EQ(d.latency_hit[3], 4u);
  EXPECT_EQ(difference(a, b).cache_hits, 0u);  // counters restarted: no huge rate
}

TEST(TotalsTest, AddSumsEveryCounter) {
  // A counter added to WorkerCounters but forgotten in Totals (or in
  // Totals::add) is never shown: give every counter its own value and
  // check that each one arrives.
  static_assert(sizeof(WorkerCounters) == sizeof(Totals), "Totals mirrors WorkerCounters");
  constexpr size_t kWords = sizeof(Totals) / sizeof(uint64_t);
  WorkerCounters counters{};
  auto* word = reinterpret_cast<Counter*>(&counters);
  uint64_t expected = 0;
  for (size_t i = 0; i < kWords; ++i) {
    word[i].set(uint64_t{1} << (i % 60));
    expected += uint64_t{1} << (i % 60);
  }
  Totals totals;
  totals.add(counters);
  const auto* sum = reinterpret_cast<const uint64_t*>(&totals);
  uint64_t got = 0;
  for (size_t i = 0; i < kWords; ++i) got += sum[i];
  EXPECT_EQ(got, expected);
  EXPECT_EQ(totals.tls_handshakes, counters.tls_handshakes.get());
  EXPECT_EQ(totals.tls_handshake_failures, counters.tls_handshake_failures.get());
}

}  // namespace
}  // namespace shoal::stats
