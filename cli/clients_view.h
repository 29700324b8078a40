#pragma once
// shoalctl clients: the TCP clients the workers hold or have seen lately,
// with the bucket each falls in (keep-active, collapse, dont-bother), read
// from the stats segment (each worker rewrites its busiest clients there
// every second).

#include <cstdint>
#include <string>
#include <vector>

#include "cli/snapshot.h"
#include "stats/stats.h"

namespace shoal::cli {

struct ClientLine {
  std::string prefix;  // "192.0.2.1/32", "2001:db8:1:2::/64"
  std::string bucket;  // what its next connection would get
  uint64_t open = 0, connections = 0, queries = 0;
  double rate = 0;          // queries per second over about a minute
  int64_t last_ms = 0;      // wall clock
  unsigned workers = 0;     // workers that know it
};

struct ClientsReport {
  int64_t now_ms = 0;
  bool supervisor_alive = false;
  int32_t supervisor_pid = 0;
  // Connections accepted by bucket, over the segment's life.
  uint64_t keep_active = 0, collapse = 0, dont_bother = 0;
  std::vector<ClientLine> clients;  // busiest first
};

/// Merges the live workers' tables (a client on several workers is one
/// line: its counts summed, the bucket of the worker that saw it most).
ClientsReport makeClientsReport(const stats::Segment& segment, const Snapshot& snapshot);
std::string clientsText(const ClientsReport& report);
std::string clientsJson(const ClientsReport& report);

}  // namespace shoal::cli
