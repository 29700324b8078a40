#pragma once
// Reading the stats segment (stats/layout.h) into plain values, and what
// shoalctl derives from them: the status of the supervisor and workers,
// the counters of `stats`, rates over the sample ring, and the frames of
// `top`. Everything after takeSnapshot is pure computation on values, so
// the views are tested without a running shoal.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stats/stats.h"

namespace shoal::cli {

/// Whether a process is alive; injectable so that tests can decide.
using PidProbe = std::function<bool(int32_t pid)>;
/// kill(pid, 0): alive unless it fails with ESRCH (EPERM: alive, not ours).
bool processAlive(int32_t pid);

/// The process currently serving one worker index.
struct WorkerInfo {
  size_t index = 0;
  size_t slot = 0;  // the ProcessSlot read (2 * index or 2 * index + 1)
  int32_t pid = 0;
  stats::WorkerState state = stats::WorkerState::kEmpty;
  bool alive = false;
  uint32_t restarts = 0;
  int64_t started_ms = 0;  // wall clock; 0: unknown
};

/// "starting", "ready", "draining", "exited", "empty"; "dead" when the
/// state says it serves but the process is gone.
std::string stateName(const WorkerInfo& worker);

/// One reading of the whole segment.
struct Snapshot {
  int64_t wall_ms = 0;  // when it was taken (wall clock)
  double steady_s = 0;  // when it was taken (monotonic), for rates
  int32_t supervisor_pid = 0;
  bool supervisor_alive = false;
  std::string version, config_path, cache_name, control_socket;
  int64_t started_ms = 0;
  uint64_t upgrades = 0, reloads = 0, restarts = 0;
  uint64_t cache_size = 0, cache_entries = 0, cache_bytes = 0, cache_capacity = 0;
  uint64_t cache_ranges = 0;  // NSEC/NSEC3 ranges among the entries
  stats::Totals totals;
  std::vector<WorkerInfo> workers;             // one per configured worker index
  std::vector<stats::Totals> worker_totals;    // by worker index (both process slots)
};

/// Picks the process slot that serves worker `index`: an alive process,
/// preferring ready over starting over draining; else the latest started.
WorkerInfo currentProcess(const stats::Segment& segment, size_t index, const PidProbe& alive);

/// Reads the header, the workers and every counter.
Snapshot takeSnapshot(const stats::Segment& segment, const PidProbe& alive);

/// Totals over the last seconds, from the once-a-second samples.
struct SampleWindow {
  unsigned requested_s = 0;
  double actual_s = 0;  // between the two samples used (less when the ring is young)
  uint64_t queries = 0, cache_hits = 0, cache_misses = 0;
  uint64_t upstream_queries = 0, upstream_timeouts = 0;
};
/// The latest sample minus the one `seconds` samples before it (or the
/// oldest one kept); nullopt with fewer than two samples.
std::optional<SampleWindow> sampleWindow(const stats::Header& header, unsigned seconds);

/// Percentiles of a latency histogram, in milliseconds.
struct LatencySummary {
  uint64_t count = 0;
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0;
};
LatencySummary summarizeLatency(const std::array<uint64_t, stats::kLatencyBuckets>& buckets,
                                uint64_t sum_us);

/// "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", else
/// the number ("9").
std::string rcodeName(size_t rcode);

// --- status -------------------------------------------------------------

struct WorkerStatus {
  WorkerInfo info;
  std::string state;
  double uptime_s = -1;  // -1: unknown
  double qps = 0;
};

/// A negative trust anchor (RFC 7646) as the supervisor lists it (nta.list).
struct AnchorInfo {
  std::string name;
  std::string source;                  // "config" or "runtime"
  std::optional<double> expires_in_s;  // runtime anchors only
  std::string reason;
};

/// The local copy of the root zone (RFC 8806) as the supervisor reports it
/// (the local_root request).
struct LocalRootInfo {
  std::string state;  // "disabled", "loading", "ok", "failed", "expired"
  std::optional<uint32_t> serial;
  std::string source;
  std::string transfer;         // how it came: "AXFR", "IXFR (...)"
  std::optional<double> age_s;  // since the serial in use was transferred
  int64_t last_attempt = 0;     // wall seconds; 0: none
  int64_t next_attempt = 0;
  std::string last_error;
  uint64_t rrsets = 0;
  uint64_t ranges = 0;
};

struct StatusReport {
  Snapshot now;
  double uptime_s = -1;
  std::optional<double> fill_percent;  // bytes / capacity
  double interval_s = 0;               // between the two readings
  double qps = 0;
  std::vector<WorkerStatus> workers;
  /// Asked from the supervisor (nta.list over the control socket): the
  /// stats segment does not hold them. nullopt when it could not be asked;
  /// `anchors_error` then says why.
  std::optional<std::vector<AnchorInfo>> negative_anchors;
  std::string anchors_error;
  /// Asked the same way (local_root); nullopt: `local_root_error` says why.
  std::optional<LocalRootInfo> local_root;
  std::string local_root_error;
};
/// From two readings `interval_s` apart (qps between them).
StatusReport makeStatusReport(const Snapshot& before, const Snapshot& after);

// --- stats --------------------------------------------------------------

struct StatsReport {
  int32_t supervisor_pid = 0;
  bool supervisor_alive = false;
  stats::Totals totals;
  unsigned requested_window_s = 0;
  std::optional<SampleWindow> window;
  LatencySummary hit, miss;
  uint64_t cache_ranges = 0;  // NSEC/NSEC3 range entries in the cache now
};
StatsReport makeStatsReport(const Snapshot& now, const stats::Header& header, unsigned window_s);

// --- top ----------------------------------------------------------------

struct TopWorker {
  size_t index = 0;
  int32_t pid = 0;
  std::string state;
  double uptime_s = -1;
  uint32_t restarts = 0;
  double qps = 0;
  std::optional<double> hit_percent;
  LatencySummary latency;  // hits and misses together
};

struct TopFrame {
  int64_t wall_ms = 0;
  double interval_s = 0;
  int32_t supervisor_pid = 0;
  bool supervisor_alive = false;
  std::string version;
  double uptime_s = -1;
  uint64_t cache_entries = 0, cache_ranges = 0;
  std::optional<double> fill_percent;
  double qps = 0, upstream_qps = 0;
  /// Answers synthesised from ranges a second (RFC 8198), and of those
  /// proven by the local root zone (RFC 8806).
  double synthesised_qps = 0, local_root_qps = 0;
  std::optional<double> hit_percent, loss_percent;
  /// Loss hidden from clients, a second: hedges sent (and the share that
  /// won), client retries (and their share of the UDP queries), stale
  /// answers, prefetches.
  double hedge_qps = 0, retry_qps = 0, stale_qps = 0, prefetch_qps = 0;
  std::optional<double> hedge_won_percent, retry_percent;
  LatencySummary hit, miss;
  std::vector<TopWorker> workers;
};
/// The interval between two readings: rates and percentiles of what
/// happened in it (histogram differences).
TopFrame makeTopFrame(const Snapshot& before, const Snapshot& after);

}  // namespace shoal::cli
