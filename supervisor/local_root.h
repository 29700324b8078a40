#pragma once
// The local-root process (RFC 8806; docs/local-root.md): one child of the
// supervisor, beside the workers, that transfers, verifies and loads the
// root zone into the shared cache for all of them, and refreshes it
// (localroot/runner.h).
//
// Why a process and not a thread of the supervisor: its network I/O must
// never block the supervisor's loop, and a thread would make every later
// fork of a worker a hazard (a lock held by the thread, OpenSSL's or
// libc's, stays locked forever in the child). It also parses zone data
// from the network: a crash there costs a restart of that process, not
// the supervisor.
//
// It reports its status to the supervisor as JSON lines on a pipe (one
// line per change, each written with one write(2) below PIPE_BUF); the
// supervisor keeps the last one for `status` and `local_root` requests
// (control/protocol.h). It exits when the supervisor goes away: the pipe's
// read end closes (also across an upgrade's exec, the end being
// close-on-exec), and PR_SET_PDEATHSIG.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace shoal::shmcache {
class Cache;
}

namespace shoal::supervisor {

struct Loaded;

/// The supervisor's view of the local-root process.
struct LocalRootChild {
  pid_t pid = 0;           // 0: not running
  int report_fd = -1;      // read end of its status pipe (non-blocking)
  std::string partial;     // a status line not complete yet
  std::string status;      // its last status: one JSON object; empty: none yet
  int64_t started_ms = 0;  // monotonic
  int64_t restart_at_ms = -1;  // monotonic; >= 0: fork it again then
  unsigned deaths = 0;     // deaths in a row (each after a short life)
  uint64_t restarts = 0;
};

/// The body of the local-root process: runs the refresh state machine
/// until the supervisor goes away. Returns the exit status.
int runLocalRootProcess(const Loaded& loaded, shmcache::Cache& cache, int report_fd);

}  // namespace shoal::supervisor
