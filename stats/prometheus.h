#pragma once
// The stats segment in Prometheus' text exposition format (version 0.0.4),
// for the supervisor's /metrics endpoint (supervisor/metrics_server.h).
// Pure: a reading of the segment and the upstream servers' figures in, the
// page out; nothing here asks a worker anything.
//
// Conventions (https://prometheus.io/docs/practices/naming/): every name
// starts with shoal_, counters end in _total, durations are in seconds,
// sizes in bytes; labels have a small, bounded set of values (transport,
// rcode, path, result, kind, scope, worker index), and upstream servers
// are bounded by `top_servers` (the busiest by queries, the rest summed
// into server="other"). The names are listed in docs/operations.md.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "stats/stats.h"

namespace shoal::stats {

/// One upstream server's figures (resolver::ServerRow, as the supervisor
/// reads it from the cache: counters kept while the server's entry lives).
struct ServerMetrics {
  std::string address;
  uint64_t queries = 0, replies = 0, timeouts = 0, hedges = 0;
  double srtt_seconds = 0;  // 0 before the first reply
  double rto_seconds = 0;
  /// Loss over the last minute and five: queries, and the share lost
  /// (nullopt without queries in the window).
  std::optional<double> loss_1m, loss_5m;
  bool backed_off = false;
};

/// The worker processes as the supervisor sees them.
struct WorkerMetrics {
  unsigned index = 0;
  bool up = false;  // serving
  uint64_t restarts = 0;
};

std::string renderPrometheus(const Segment& segment, std::span<const WorkerMetrics> workers,
                             std::span<const ServerMetrics> servers, size_t top_servers);

}  // namespace shoal::stats
