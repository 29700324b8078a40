#pragma once
// A worker process: one libuv loop serving clients on the sockets the
// supervisor opened for its slot, answering cache hits on the hot path and
// driving a resolver::Engine for the misses.
//
// The supervisor forks, then calls runWorker in the child; it returns when
// the worker has stopped (SIGTERM or SIGINT: stop reading, let in-flight
// queries finish within WorkerConfig::shutdown_grace_ms, close) and the
// child exits with its value.

#include <span>
#include <string>

#include "worker/worker_config.h"

namespace shoal::shmcache {
class Cache;
}
namespace shoal::stats {
struct ProcessSlot;
}

namespace shoal::worker {
struct Journal;
}

namespace shoal::worker {

/// The sockets of one listen address for one worker slot, already bound
/// (non-blocking, SO_REUSEPORT); the TCP one is listening. A DNS-over-TLS
/// address (`tls`) has only its TCP listener (udp_fd is -1). The
/// supervisor keeps its own copies open, so a worker may close them.
struct ListenSocket {
  int udp_fd = -1;
  int tcp_fd = -1;
  bool tls = false;     // server.tls_listen: connections speak TLS (RFC 7858)
  bool https = false;   // server.https_listen (tls too): HTTP/2 inside TLS (RFC 8484)
  std::string address;  // for logs, e.g. "127.0.0.1:53"
};

/// Runs the worker of `slot` until it is told to stop. `cache` is the
/// segment the supervisor opened (inherited across fork); `stats` is this
/// process's slot in the stats segment (its counters, histograms and
/// state: the worker marks itself ready once it serves, draining when told
/// to stop). `journal` (worker/journal.h; may be null) is the slot's
/// journal: the worker answers what a dead predecessor left in it, then
/// receives into it. Returns the exit status: 0 after a clean stop,
/// non-zero if the loop could not start. Never throws for network input;
/// allocation failure aborts.
int runWorker(const WorkerConfig& config, std::span<const ListenSocket> sockets,
              shmcache::Cache& cache, stats::ProcessSlot& stats, Journal* journal,
              unsigned slot);

}  // namespace shoal::worker
