#pragma once
// What a worker needs from the configuration, as plain values: the
// engine's settings, the hot path's limits, the ACL, TCP limits and the
// source addresses of upstream queries. Built once by the supervisor from
// the validated config::Config (before forking), so the worker never sees
// TOML.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "resolver/answer.h"
#include "resolver/engine.h"

namespace shoal::config {
struct Config;
}

namespace shoal::worker {

struct WorkerConfig {
  resolver::EngineConfig engine;
  resolver::AnswerLimits limits;
  /// Clients allowed to query; everybody else gets REFUSED.
  std::vector<base::IpPrefix> acl_allow;
  /// Source addresses for upstream queries, by family (empty: any).
  std::vector<base::IpAddress> outgoing_v4;
  std::vector<base::IpAddress> outgoing_v6;
  size_t tcp_max_clients = 1000;
  int64_t tcp_idle_timeout_ms = 10000;
  /// Queries in flight per TCP connection before reading pauses (RFC 7766
  /// section 6.2.1.1 lets a server limit pipelining).
  uint32_t tcp_max_pipelined = 100;
  /// On SIGTERM, how long in-flight queries may take to finish.
  int64_t shutdown_grace_ms = 2000;
};

/// Maps every field the worker uses from `config`; `hints` are the root
/// hints the supervisor loaded (built in or from the configured file).
WorkerConfig workerConfigFrom(const config::Config& config, resolver::RootHints hints);

}  // namespace shoal::worker
