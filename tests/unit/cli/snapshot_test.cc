#include "cli/snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "tests/unit/cli/test_util.h"

namespace shoal::cli {
namespace {

using testing_util::StatsFixture;

TEST(Rcodes, NamedAndNumeric) {
  EXPECT_EQ(rcodeName(0), "NOERROR");
  EXPECT_EQ(rcodeName(1), "FORMERR");
  EXPECT_EQ(rcodeName(2), "SERVFAIL");
  EXPECT_EQ(rcodeName(3), "NXDOMAIN");
  EXPECT_EQ(rcodeName(4), "NOTIMP");
  EXPECT_EQ(rcodeName(5), "REFUSED");
  EXPECT_EQ(rcodeName(6), "6");
  EXPECT_EQ(rcodeName(15), "15");
}

TEST(Latency, PercentilesInterpolateInsideBuckets) {
  std::array<uint64_t, stats::kLatencyBuckets> buckets{};
  EXPECT_EQ(summarizeLatency(buckets, 0).count, 0u);
  EXPECT_EQ(summarizeLatency(buckets, 0).p99_ms, 0);
  buckets[4] = 90;   // [8, 16) us
  buckets[10] = 10;  // [512, 1024) us
  const LatencySummary s = summarizeLatency(buckets, 100'000);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.mean_ms, 1.0);
  EXPECT_NEAR(s.p50_ms, (8 + 8 * 50.0 / 90) / 1000, 1e-9);
  EXPECT_NEAR(s.p90_ms, 16.0 / 1000, 1e-9);
  EXPECT_NEAR(s.p99_ms, (512 + 512 * 0.9) / 1000, 1e-9);
}

using SampleWindowTest = StatsFixture;

TEST_F(SampleWindowTest, NeedsTwoSamples) {
  EXPECT_FALSE(sampleWindow(segment_->header(), 10).has_value());
  writeSample(0);
  EXPECT_FALSE(sampleWindow(segment_->header(), 10).has_value());
  writeSample(1);
  const auto w = sampleWindow(segment_->header(), 10);
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(w->actual_s, 1);
  EXPECT_EQ(w->requested_s, 10u);
}

TEST_F(SampleWindowTest, LatestMinusNSecondsBefore) {
  for (uint64_t k = 0; k <= 20; ++k) writeSample(k);
  const auto w = sampleWindow(segment_->header(), 10);
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(w->actual_s, 10);
  EXPECT_EQ(w->queries, 1000u);
  EXPECT_EQ(w->cache_hits, 800u);
  EXPECT_EQ(w->cache_misses, 200u);
  EXPECT_EQ(w->upstream_queries, 100u);
  EXPECT_EQ(w->upstream_timeouts, 10u);
}

TEST_F(SampleWindowTest, YoungRingReportsTheWindowItHas) {
  for (uint64_t k = 0; k <= 20; ++k) writeSample(k);
  const auto w = sampleWindow(segment_->header(), 300);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->requested_s, 300u);
  EXPECT_DOUBLE_EQ(w->actual_s, 20);
  EXPECT_EQ(w->queries, 2000u);
}

TEST_F(SampleWindowTest, WrappedRingNeverReadsTheSlotBeingRewritten) {
  for (uint64_t k = 0; k < 1000; ++k) writeSample(k);
  const auto longest = sampleWindow(segment_->header(), stats::kSamples - 1);
  ASSERT_TRUE(longest.has_value());
  // Sample 1000 goes where 400 was: 401 is the oldest safe one.
  EXPECT_DOUBLE_EQ(longest->actual_s, 999 - 401);
  EXPECT_EQ(longest->queries, 100u * (999 - 401));
  const auto recent = sampleWindow(segment_->header(), 60);
  ASSERT_TRUE(recent.has_value());
  EXPECT_DOUBLE_EQ(recent->actual_s, 60);
  EXPECT_EQ(recent->cache_hits, 80u * 60);
}

using SnapshotTest = StatsFixture;

TEST_F(SnapshotTest, ReadsTheHeaderAndWorkers) {
  fillHeader(2);
  const Snapshot s = takeSnapshot(*segment_, processAlive);
  EXPECT_EQ(s.supervisor_pid, getpid());
  EXPECT_TRUE(s.supervisor_alive);
  EXPECT_EQ(s.version, "0.1.0");
  EXPECT_EQ(s.config_path, "/etc/shoal/shoal.toml");
  EXPECT_EQ(s.cache_entries, 1234u);
  ASSERT_EQ(s.workers.size(), 2u);
  ASSERT_EQ(s.worker_totals.size(), 2u);
  EXPECT_EQ(s.workers[1].index, 1u);
  EXPECT_EQ(s.workers[1].restarts, 1u);
  EXPECT_EQ(stateName(s.workers[0]), "ready");
}

TEST_F(SnapshotTest, SupervisorGone) {
  fillHeader(1);
  segment_->header().supervisor_pid = testing_util::deadPid();
  const Snapshot s = takeSnapshot(*segment_, processAlive);
  EXPECT_FALSE(s.supervisor_alive);
  EXPECT_EQ(stateName(s.workers[0]), "ready");  // this process stands in for the worker
}

TEST_F(SnapshotTest, CurrentProcessPrefersTheLiveReadyOne) {
  const std::set<int32_t> alive = {100, 200};
  const PidProbe probe = [&](int32_t pid) { return alive.count(pid) > 0; };
  auto set = [&](size_t slot, int32_t pid, stats::WorkerState state, int64_t started) {
    segment_->slot(slot).pid = pid;
    segment_->slot(slot).state = static_cast<uint32_t>(state);
    segment_->slot(slot).started_ms = started;
  };
  // A crashed predecessor in slot a, its successor in slot b.
  set(0, 99, stats::WorkerState::kReady, 1);
  set(1, 100, stats::WorkerState::kReady, 2);
  EXPECT_EQ(currentProcess(*segment_, 0, probe).pid, 100);
  // A rolling restart: the old one drains while the new one is ready.
  set(2, 200, stats::WorkerState::kDraining, 1);
  set(3, 100, stats::WorkerState::kReady, 2);
  EXPECT_EQ(currentProcess(*segment_, 1, probe).slot, 3u);
  set(3, 100, stats::WorkerState::kStarting, 2);
  EXPECT_EQ(stateName(currentProcess(*segment_, 1, probe)), "starting");
  // Both gone: the latest started, shown dead.
  set(4, 98, stats::WorkerState::kExited, 5);
  set(5, 97, stats::WorkerState::kReady, 6);
  const WorkerInfo gone = currentProcess(*segment_, 2, probe);
  EXPECT_EQ(gone.pid, 97);
  EXPECT_FALSE(gone.alive);
  EXPECT_EQ(stateName(gone), "dead");
  // Never used.
  EXPECT_EQ(stateName(currentProcess(*segment_, 3, probe)), "empty");
}

TEST_F(SnapshotTest, StatusRatesBetweenTwoReadings) {
  fillHeader(2);
  Snapshot before = takeSnapshot(*segment_, processAlive);
  segment_->slot(0).counters.queries_udp += 300;
  segment_->slot(2).counters.queries_tcp += 100;
  segment_->slot(3).counters.queries_udp += 100;  // worker 1's other generation
  Snapshot after = takeSnapshot(*segment_, processAlive);
  before.steady_s = 10;
  after.steady_s = 10.5;
  after.wall_ms = 2'010'000;
  const StatusReport r = makeStatusReport(before, after);
  EXPECT_DOUBLE_EQ(r.interval_s, 0.5);
  EXPECT_DOUBLE_EQ(r.qps, 1000);
  ASSERT_EQ(r.workers.size(), 2u);
  EXPECT_DOUBLE_EQ(r.workers[0].qps, 600);
  EXPECT_DOUBLE_EQ(r.workers[1].qps, 400);
  EXPECT_DOUBLE_EQ(r.workers[0].uptime_s, 10);
  EXPECT_DOUBLE_EQ(r.uptime_s, 1010);
  EXPECT_DOUBLE_EQ(r.fill_percent.value_or(0), 25);
}

TEST_F(SnapshotTest, TopFrameUsesHistogramDifferences) {
  fillHeader(1);
  stats::WorkerCounters& c = segment_->slot(0).counters;
  // Old history that must not show in the frame: slow hits.
  for (int i = 0; i < 1000; ++i) c.latency_hit.record(5000);
  Snapshot before = takeSnapshot(*segment_, processAlive);
  c.queries_udp += 200;
  c.cache_hits += 150;
  c.cache_misses += 50;
  c.upstream_queries += 40;
  c.upstream_timeouts += 2;
  for (int i = 0; i < 150; ++i) c.latency_hit.record(10);
  for (int i = 0; i < 50; ++i) c.latency_miss.record(20'000);
  Snapshot after = takeSnapshot(*segment_, processAlive);
  before.steady_s = 1;
  after.steady_s = 3;
  const TopFrame f = makeTopFrame(before, after);
  EXPECT_DOUBLE_EQ(f.interval_s, 2);
  EXPECT_DOUBLE_EQ(f.qps, 100);
  EXPECT_DOUBLE_EQ(f.upstream_qps, 20);
  EXPECT_DOUBLE_EQ(f.hit_percent.value_or(0), 75);
  EXPECT_DOUBLE_EQ(f.loss_percent.value_or(0), 5);
  EXPECT_EQ(f.hit.count, 150u);
  EXPECT_GE(f.hit.p99_ms, 0.008);  // 10 us lies in [8, 16)
  EXPECT_LT(f.hit.p99_ms, 0.016);
  EXPECT_EQ(f.miss.count, 50u);
  EXPECT_GE(f.miss.p50_ms, 16.384);  // [16384, 32768) us
  ASSERT_EQ(f.workers.size(), 1u);
  EXPECT_DOUBLE_EQ(f.workers[0].qps, 100);
  EXPECT_DOUBLE_EQ(f.workers[0].hit_percent.value_or(0), 75);
  EXPECT_EQ(f.workers[0].latency.count, 200u);
  EXPECT_LT(f.workers[0].latency.p50_ms, 0.016);
  EXPECT_GE(f.workers[0].latency.p99_ms, 16.384);
}

TEST_F(SnapshotTest, IdleFrameHasNoRates) {
  fillHeader(1);
  Snapshot before = takeSnapshot(*segment_, processAlive);
  Snapshot after = before;
  after.steady_s = before.steady_s + 1;
  const TopFrame f = makeTopFrame(before, after);
  EXPECT_EQ(f.qps, 0);
  EXPECT_FALSE(f.hit_percent.has_value());
  EXPECT_FALSE(f.loss_percent.has_value());
}

TEST_F(SnapshotTest, StatsReportCombinesTotalsAndWindow) {
  fillHeader(1);
  for (uint64_t k = 0; k <= 30; ++k) writeSample(k);
  segment_->slot(0).counters.answers_by_rcode[3] += 7;
  segment_->slot(1).counters.answers_by_rcode[3] += 1;
  const StatsReport r = makeStatsReport(takeSnapshot(*segment_, processAlive),
                                        segment_->header(), 15);
  EXPECT_EQ(r.totals.answers_by_rcode[3], 8u);
  ASSERT_TRUE(r.window.has_value());
  EXPECT_DOUBLE_EQ(r.window->actual_s, 15);
  EXPECT_EQ(r.window->queries, 1500u);
}

}  // namespace
}  // namespace shoal::cli
