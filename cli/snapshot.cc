#include "cli/snapshot.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "cli/format.h"

namespace shoal::cli {
namespace {

using stats::WorkerState;

double secondsBetween(int64_t from_ms, int64_t to_ms) {
  return static_cast<double>(to_ms - from_ms) / 1000.0;
}

// How well a process slot fits as "the one serving this worker": higher wins.
int rankOf(const WorkerInfo& w) {
  if (w.pid <= 0 || w.state == WorkerState::kEmpty) return 0;
  if (!w.alive) return 1;
  switch (w.state) {
    case WorkerState::kReady: return 5;
    case WorkerState::kStarting: return 4;
    case WorkerState::kDraining: return 3;
    default: return 2;
  }
}

WorkerInfo readSlot(const stats::Segment& segment, size_t index, size_t slot,
                    const PidProbe& alive) {
  const stats::ProcessSlot& s = segment.slot(slot);
  WorkerInfo w;
  w.index = index;
  w.slot = slot;
  w.pid = s.pid.load(std::memory_order_acquire);
  w.state = static_cast<WorkerState>(s.state.load(std::memory_order_acquire));
  w.restarts = s.restarts.load(std::memory_order_relaxed);
  w.started_ms = s.started_ms.load(std::memory_order_relaxed);
  w.alive = w.pid > 0 && alive(w.pid);
  return w;
}

double rate(uint64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

double uptimeOf(const WorkerInfo& w, int64_t now_ms) {
  return w.alive && w.started_ms > 0 ? secondsBetween(w.started_ms, now_ms) : -1;
}

}  // namespace

bool processAlive(int32_t pid) {
  if (pid <= 0) return false;
  return kill(pid, 0) == 0 || errno != ESRCH;
}

std::string stateName(const WorkerInfo& worker) {
  const bool serving = worker.state == WorkerState::kStarting ||
                       worker.state == WorkerState::kReady ||
                       worker.state == WorkerState::kDraining;
  if (serving && !worker.alive) return "dead";
  switch (worker.state) {
    case WorkerState::kEmpty: return "empty";
    case WorkerState::kStarting: return "starting";
    case WorkerState::kReady: return "ready";
    case WorkerState::kDraining: return "draining";
    case WorkerState::kExited: return "exited";
  }
  return "unknown(" + std::to_string(static_cast<uint32_t>(worker.state)) + ")";
}

WorkerInfo currentProcess(const stats::Segment& segment, size_t index, const PidProbe& alive) {
  const WorkerInfo a = readSlot(segment, index, 2 * index, alive);
  const WorkerInfo b = readSlot(segment, index, 2 * index + 1, alive);
  const int ra = rankOf(a), rb = rankOf(b);
  if (ra != rb) return ra > rb ? a : b;
  return b.started_ms > a.started_ms ? b : a;
}

Snapshot takeSnapshot(const stats::Segment& segment, const PidProbe& alive) {
  const stats::Header& h = segment.header();
  Snapshot s;
  s.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  s.steady_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
                   .count();
  s.supervisor_pid = h.supervisor_pid.load(std::memory_order_acquire);
  s.supervisor_alive = s.supervisor_pid > 0 && h.stopped_ms.load() == 0 && alive(s.supervisor_pid);
  s.version = stats::getText(h.version_text);
  s.config_path = stats::getText(h.config_path);
  s.cache_name = stats::getText(h.cache_name);
  s.control_socket = stats::getText(h.control_socket);
  s.started_ms = h.started_ms.load(std::memory_order_relaxed);
  s.upgrades = h.upgrades.load(std::memory_order_relaxed);
  s.reloads = h.reloads.load(std::memory_order_relaxed);
  s.restarts = h.restarts.load(std::memory_order_relaxed);
  s.cache_size = h.cache_size.load(std::memory_order_relaxed);
  s.cache_entries = h.cache_entries.load(std::memory_order_relaxed);
  s.cache_ranges = h.cache_ranges.load(std::memory_order_relaxed);
  s.cache_bytes = h.cache_bytes.load(std::memory_order_relaxed);
  s.cache_capacity = h.cache_capacity.load(std::memory_order_relaxed);
  s.totals = stats::totalsOf(segment);
  const size_t workers =
      std::min<size_t>(h.workers.load(std::memory_order_relaxed), stats::kMaxWorkers);
  for (size_t i = 0; i < workers; ++i) {
    s.workers.push_back(currentProcess(segment, i, alive));
    s.worker_totals.push_back(stats::totalsOfWorker(segment, i));
  }
  return s;
}

std::optional<SampleWindow> sampleWindow(const stats::Header& header, unsigned seconds) {
  const uint64_t seq = header.sample_seq.load(std::memory_order_acquire);
  if (seq < 2) return std::nullopt;
  const uint64_t latest = seq - 1;
  // Sample `seq` (the next one) overwrites the slot of sample seq - kSamples:
  // the oldest one safe to read is the one after it.
  const uint64_t oldest = seq > stats::kSamples - 1 ? seq - (stats::kSamples - 1) : 0;
  const uint64_t from = std::max(latest >= seconds ? latest - seconds : 0, oldest);
  if (from >= latest) return std::nullopt;
  const stats::Sample& a = header.samples[from % stats::kSamples];
  const stats::Sample& b = header.samples[latest % stats::kSamples];
  const auto delta = [](const std::atomic<uint64_t>& later, const std::atomic<uint64_t>& earlier) {
    const uint64_t x = later.load(std::memory_order_relaxed);
    const uint64_t y = earlier.load(std::memory_order_relaxed);
    return x >= y ? x - y : 0;
  };
  SampleWindow w;
  w.requested_s = seconds;
  const int64_t a_ms = a.at_ms.load(std::memory_order_relaxed);
  const int64_t b_ms = b.at_ms.load(std::memory_order_relaxed);
  // A sample a second: trust the clock unless it went backwards.
  w.actual_s = a_ms > 0 && b_ms > a_ms ? secondsBetween(a_ms, b_ms)
                                       : static_cast<double>(latest - from);
  w.queries = delta(b.queries, a.queries);
  w.cache_hits = delta(b.cache_hits, a.cache_hits);
  w.cache_misses = delta(b.cache_misses, a.cache_misses);
  w.upstream_queries = delta(b.upstream_queries, a.upstream_queries);
  w.upstream_timeouts = delta(b.upstream_timeouts, a.upstream_timeouts);
  return w;
}

LatencySummary summarizeLatency(const std::array<uint64_t, stats::kLatencyBuckets>& buckets,
                                uint64_t sum_us) {
  LatencySummary s;
  for (const uint64_t n : buckets) s.count += n;
  if (s.count == 0) return s;
  s.mean_ms = static_cast<double>(sum_us) / static_cast<double>(s.count) / 1000.0;
  s.p50_ms = stats::percentileUs(buckets, 0.50) / 1000.0;
  s.p90_ms = stats::percentileUs(buckets, 0.90) / 1000.0;
  s.p99_ms = stats::percentileUs(buckets, 0.99) / 1000.0;
  return s;
}

std::string rcodeName(size_t rcode) {
  constexpr const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL",
                                    "NXDOMAIN", "NOTIMP", "REFUSED"};
  if (rcode < std::size(kNames)) return kNames[rcode];
  return std::to_string(rcode);
}

StatusReport makeStatusReport(const Snapshot& before, const Snapshot& after) {
  StatusReport r;
  r.now = after;
  r.uptime_s = after.started_ms > 0 ? secondsBetween(after.started_ms, after.wall_ms) : -1;
  r.fill_percent = percentOf(after.cache_bytes, after.cache_capacity);
  r.interval_s = after.steady_s - before.steady_s;
  r.qps = rate(stats::difference(after.totals, before.totals).queries(), r.interval_s);
  for (size_t i = 0; i < after.workers.size(); ++i) {
    WorkerStatus w;
    w.info = after.workers[i];
    w.state = stateName(w.info);
    w.uptime_s = uptimeOf(w.info, after.wall_ms);
    if (i < before.worker_totals.size()) {
      const auto d = stats::difference(after.worker_totals[i], before.worker_totals[i]);
      w.qps = rate(d.queries(), r.interval_s);
    }
    r.workers.push_back(std::move(w));
  }
  return r;
}

StatsReport makeStatsReport(const Snapshot& now, const stats::Header& header, unsigned window_s) {
  StatsReport r;
  r.supervisor_pid = now.supervisor_pid;
  r.supervisor_alive = now.supervisor_alive;
  r.totals = now.totals;
  r.cache_ranges = now.cache_ranges;
  r.requested_window_s = window_s;
  r.window = sampleWindow(header, window_s);
  r.hit = summarizeLatency(now.totals.latency_hit, now.totals.latency_hit_sum_us);
  r.miss = summarizeLatency(now.totals.latency_miss, now.totals.latency_miss_sum_us);
  return r;
}

TopFrame makeTopFrame(const Snapshot& before, const Snapshot& after) {
  TopFrame f;
  f.wall_ms = after.wall_ms;
  f.interval_s = after.steady_s - before.steady_s;
  f.supervisor_pid = after.supervisor_pid;
  f.supervisor_alive = after.supervisor_alive;
  f.version = after.version;
  f.uptime_s = after.started_ms > 0 ? secondsBetween(after.started_ms, after.wall_ms) : -1;
  f.cache_entries = after.cache_entries;
  f.cache_ranges = after.cache_ranges;
  f.fill_percent = percentOf(after.cache_bytes, after.cache_capacity);
  const stats::Totals d = stats::difference(after.totals, before.totals);
  f.qps = rate(d.queries(), f.interval_s);
  f.upstream_qps = rate(d.upstream_queries, f.interval_s);
  f.synthesised_qps = rate(d.synthesised(), f.interval_s);
  f.local_root_qps = rate(d.localRootAnswers(), f.interval_s);
  f.hit_percent = percentOf(d.cache_hits, d.cache_hits + d.cache_misses);
  f.loss_percent = percentOf(d.upstream_timeouts, d.upstream_queries);
  f.hedge_qps = rate(d.hedges_sent, f.interval_s);
  f.hedge_won_percent = percentOf(d.hedges_won, d.hedges_sent);
  f.retry_qps = rate(d.client_retries, f.interval_s);
  f.retry_percent = percentOf(d.client_retries, d.queries_udp);
  f.stale_qps = rate(d.stale_answers, f.interval_s);
  f.prefetch_qps = rate(d.prefetches, f.interval_s);
  f.hit = summarizeLatency(d.latency_hit, d.latency_hit_sum_us);
  f.miss = summarizeLatency(d.latency_miss, d.latency_miss_sum_us);
  for (size_t i = 0; i < after.workers.size(); ++i) {
    const WorkerInfo& info = after.workers[i];
    TopWorker w;
    w.index = info.index;
    w.pid = info.pid;
    w.state = stateName(info);
    w.uptime_s = uptimeOf(info, after.wall_ms);
    w.restarts = info.restarts;
    if (i < before.worker_totals.size()) {
      const auto wd = stats::difference(after.worker_totals[i], before.worker_totals[i]);
      w.qps = rate(wd.queries(), f.interval_s);
      w.hit_percent = percentOf(wd.cache_hits, wd.cache_hits + wd.cache_misses);
      std::array<uint64_t, stats::kLatencyBuckets> all{};
      for (size_t b = 0; b < all.size(); ++b) all[b] = wd.latency_hit[b] + wd.latency_miss[b];
      w.latency = summarizeLatency(all, wd.latency_hit_sum_us + wd.latency_miss_sum_us);
    }
    f.workers.push_back(std::move(w));
  }
  return f;
}

}  // namespace shoal::cli
