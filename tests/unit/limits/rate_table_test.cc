// The shared rate-limit table (limits/rate_table.h): token buckets per key,
// refilled by time, shared by processes, and an existing object that is
// not ours refused.

#include "limits/rate_table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace shoal::limits {
namespace {

/// Times in the tests: the table's own clock (take() runs on it), from a
/// base after any table's epoch (tables are made after SetUp), plus offsets.
int64_t base_ms = 0;
int64_t at(int64_t offset_ms) { return base_ms + offset_ms; }

class RateTableTest : public ::testing::Test {
 protected:
  void SetUp() override { base_ms = RateTable::monotonicMs() + 10'000; }
  void TearDown() override { RateTable::remove(name_); }
  const std::string name_ = "/shoal-test-rate-" + std::to_string(getpid());
};


int taken(RateTable& table, uint64_t key, int tries, uint32_t rate, uint32_t burst, int64_t now) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += table.take(key, rate, burst, now) ? 1 : 0;
  return n;
}

TEST_F(RateTableTest, ABurstThenTheRate) {
  auto table = RateTable::create(name_, 1024);
  const int64_t t0 = at(0);
  EXPECT_EQ(taken(*table, 7, 100, 10, 30, t0), 30);  // the burst, then empty
  EXPECT_EQ(taken(*table, 7, 100, 10, 30, t0 + 500), 5);  // 10/s for 0.5 s
  EXPECT_EQ(taken(*table, 7, 100, 10, 30, t0 + 600), 1);
  // A quiet spell refills up to the burst, no more.
  EXPECT_EQ(taken(*table, 7, 100, 10, 30, t0 + 60'000), 30);
}

TEST_F(RateTableTest, BurstZeroMeansOneSecondsWorth) {
  auto table = RateTable::create(name_, 1024);
  EXPECT_EQ(taken(*table, 9, 100, 25, 0, at(0)), 25);
}

TEST_F(RateTableTest, SlowRatesRefillWithoutRoundingLoss) {
  // 1 query/s, asked every 10 ms: one a second gets through.
  auto table = RateTable::create(name_, 1024);
  const int64_t now = at(0);
  EXPECT_TRUE(table->take(3, 1, 1, now));
  int allowed = 0;
  for (int i = 1; i <= 1000; ++i) allowed += table->take(3, 1, 1, now + 10 * i) ? 1 : 0;
  EXPECT_EQ(allowed, 10);  // 10 s
}

TEST_F(RateTableTest, KeysHaveTheirOwnBuckets) {
  auto table = RateTable::create(name_, 1024);
  const int64_t now = at(0);
  EXPECT_EQ(taken(*table, 11, 50, 5, 5, now), 5);
  EXPECT_EQ(taken(*table, 12, 50, 5, 5, now), 5);
  EXPECT_EQ(taken(*table, 11, 50, 5, 5, now), 0);
}

TEST_F(RateTableTest, TheLiveClockLimits) {
  // The clock the workers pass (a regression: the wall clock once went in
  // against a monotonic epoch, and every bucket was always full).
  auto table = RateTable::create(name_, 1024);
  int allowed = 0;
  for (int i = 0; i < 200; ++i) {
    allowed += table->take(77, 20, 20, RateTable::monotonicMs()) ? 1 : 0;
  }
  EXPECT_GE(allowed, 20);
  EXPECT_LE(allowed, 25);  // the burst, and what a slow machine refills meanwhile
}

TEST_F(RateTableTest, ATimeFromAnotherClockIsClampedNotWrapped) {
  auto table = RateTable::create(name_, 1024);
  const int64_t wall_ms = 1'800'000'000'000;  // Unix time in ms: far past 40 bits of epoch
  EXPECT_EQ(taken(*table, 5, 100, 10, 10, wall_ms), 10);
  EXPECT_EQ(taken(*table, 5, 100, 10, 10, wall_ms), 0);
}

TEST_F(RateTableTest, ZeroRateIsNoLimit) {
  auto table = RateTable::create(name_, 16);
  EXPECT_EQ(taken(*table, 1, 1000, 0, 0, 1), 1000);
}

TEST_F(RateTableTest, AFullNeighbourhoodGivesWayToNewKeys) {
  // 16 slots, many keys: every new key still gets its burst (the stalest
  // slot is taken over), so a flood of prefixes cannot lock others out.
  auto table = RateTable::create(name_, 16);
  for (uint64_t key = 1; key <= 200; ++key) {
    EXPECT_EQ(taken(*table, key, 10, 1, 3, at(static_cast<int64_t>(key))), 3) << key;
  }
}

TEST_F(RateTableTest, ProcessesShareTheBuckets) {
  // Workers are forked after the table is made: one limit for them all.
  auto table = RateTable::create(name_, 1024);
  const int64_t now = at(0);
  int total = 0;
  for (int child = 0; child < 4; ++child) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      const int n = taken(*table, 42, 40, 10, 50, now);
      _exit(write(fds[1], &n, sizeof n) == sizeof n ? 0 : 1);
    }
    close(fds[1]);
    int n = 0;
    ASSERT_EQ(read(fds[0], &n, sizeof n), static_cast<ssize_t>(sizeof n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    total += n;
  }
  EXPECT_EQ(total, 50);  // the burst, once, across the four processes
}

TEST_F(RateTableTest, AnObjectThatIsNotOursIsRefused) {
  const int fd = shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0666);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 0666), 0);
  close(fd);
  EXPECT_THROW((void)RateTable::create(name_, 16), std::runtime_error);
  struct stat st {};
  EXPECT_EQ(stat(("/dev/shm" + name_).c_str(), &st), 0);  // kept
}

TEST_F(RateTableTest, SlotsMustBeAPowerOfTwo) {
  EXPECT_THROW((void)RateTable::create(name_, 1000), std::runtime_error);
}

}  // namespace
}  // namespace shoal::limits
