#pragma once
// The supervisor: owns the shared cache segment and every listening
// socket, forks one worker per slot, reaps dead workers and forks
// replacements on the same sockets (with backoff for a slot that keeps
// dying), and on SIGTERM/SIGINT stops the workers and exits 0. It never
// parses DNS.
//
// Signals reach it through a signalfd (they are blocked and read in the
// main loop): there is no signal handler and no global state. Children
// start with those signals still blocked and unblock them once their own
// handlers are in place (see worker::runWorker).

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "supervisor/load.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace shoal::shmcache {
class Cache;
}

namespace shoal::supervisor {

class Supervisor {
 public:
  /// Takes what loadAll produced; `cold` discards the cache segment.
  Supervisor(Loaded loaded, bool cold);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Opens the segment and the sockets, forks the workers and supervises
  /// them until told to stop. Returns the exit status (0 after a stop on
  /// SIGTERM/SIGINT). Throws StartupError when it cannot start.
  int run();

 private:
  struct Slot {
    pid_t pid = 0;                              // 0: not running
    std::vector<worker::ListenSocket> sockets;  // one per listen address
    int64_t started_ms = 0;                     // monotonic
    int64_t restart_at_ms = -1;                 // monotonic; >= 0: fork then
    unsigned quick_deaths = 0;                  // deaths within kQuickDeathMs in a row
  };

  void lockInstance();
  void openCache();
  void openSockets();
  void blockSignals();
  void spawn(size_t index);
  [[noreturn]] void runChild(size_t index);
  void handleSignals();
  void reap();
  void restartDue();
  void beginStop(int signum);
  void signalWorkers(int signum);
  bool anyAlive() const;
  int pollTimeout() const;

  Loaded loaded_;
  bool cold_;
  worker::WorkerConfig worker_config_;
  std::unique_ptr<shmcache::Cache> cache_;
  std::vector<Slot> slots_;
  int signal_fd_ = -1;
  int lock_fd_ = -1;  // flock held for the supervisor's life: one owner per cache
  pid_t pid_ = 0;
  bool stopping_ = false;
  int64_t kill_at_ms_ = -1;  // stopping: SIGKILL what is left at this time
};

}  // namespace shoal::supervisor
