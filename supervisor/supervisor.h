#pragma once
// The supervisor: owns the shared cache segment, the stats segment, every
// listening socket and the control socket; forks one worker per slot,
// reaps dead workers and forks replacements on the same sockets (with
// backoff for a slot that keeps dying), replaces workers one at a time on
// request (restart, reload, upgrade), and on SIGTERM/SIGINT stops the
// workers and exits 0. It never parses DNS packets.
//
// Signals reach it through a signalfd (they are blocked and read in the
// main loop): there is no signal handler and no global state. Children
// start with those signals still blocked and unblock them once their own
// handlers are in place (see worker::runWorker).
//
// The implementation is split by concern:
//   supervisor.cc  start-up, the main loop, forking, reaping, stopping
//   rollout.cc     replacing workers one by one; reload (config diff)
//   upgrade.cc     re-executing the binary with the sockets; adoption
//   commands.cc    control requests (status, servers, cache, ...)
//   anchors.cc     negative trust anchors at run time (nta.*), their expiry
//   local_root.cc  the local-root process (RFC 8806): start, reports, restart

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "stats/prometheus.h"
#include "supervisor/control_server.h"
#include "supervisor/metrics_server.h"
#include "supervisor/load.h"
#include "supervisor/local_root.h"
#include "worker/journal.h"
#include "worker/worker.h"
#include "limits/rate_table.h"
#include "worker/worker_config.h"

namespace shoal::shmcache {
class Cache;
}
namespace shoal::stats {
class Segment;
}

namespace shoal::supervisor {

/// What the supervisor needs besides the configuration.
struct RunOptions {
  std::string config_path;         // empty: built-in defaults
  bool cold = false;               // discard the cache segment at start
  std::string user;                // --user: overrides server.user (start and reloads)
  std::vector<std::string> argv;   // the command line, to re-execute on upgrade
  std::string inherited;           // SHOAL_UPGRADE: state from the previous image
};

/// After an upgrade: the state the previous image left in the environment
/// (SHOAL_UPGRADE), removed from it; empty on a normal start.
std::string takeInheritedState();

/// [log] level and format for this process and the workers it forks.
void applyLogOptions(const config::LogSection& log);

class Supervisor {
 public:
  Supervisor(Loaded loaded, RunOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// Opens the segments and the sockets (or takes them over after an
  /// upgrade), forks the workers and supervises them until told to stop.
  /// Returns the exit status (0 after a stop on SIGTERM/SIGINT). Throws
  /// StartupError when it cannot start.
  int run();

 private:
  /// server.tcp_collapse: installs (or, off, removes) the divert rules for
  /// the configured workers (collapse/divert.h). Failing is not fatal: the
  /// workers then close idle connections, as they say in the log.
  void applyDivert(const config::Config& config);
  struct Slot {
    pid_t pid = 0;                              // 0: not running
    unsigned generation = 0;                    // which of its two stats slots (0/1)
    std::vector<worker::ListenSocket> sockets;  // one per listen address
    int64_t started_ms = 0;                     // monotonic
    int64_t restart_at_ms = -1;                 // monotonic; >= 0: fork then
    unsigned quick_deaths = 0;                  // deaths within kQuickDeathMs in a row
    unsigned restarts = 0;                      // replacements after a death
    bool hang_killed = false;                   // killed as hung, not reaped yet
  };
  /// A worker being replaced (or whose slot a reload removed): no longer
  /// in its slot; its exit is expected, not a crash. During a rollout the
  /// old worker is tracked here from the moment its successor is forked,
  /// and told to stop (SIGTERM) once the successor serves.
  struct Retiring {
    pid_t pid = 0;
    size_t index = 0;
    unsigned generation = 0;
    int64_t kill_at_ms = -1;  // monotonic: SIGKILL then if still running; -1: not due
  };
  /// Workers being replaced one at a time: start the successor on the
  /// slot's sockets, wait until it serves, tell the old one to drain, wait
  /// for it to exit, go on with the next slot.
  struct Rollout {
    std::string what;                 // "restart", "reload", "upgrade"
    std::vector<size_t> queue;        // slot indexes still to replace
    std::optional<size_t> current;    // the slot being replaced
    pid_t old_pid = 0;                // its old worker (0: none)
    unsigned old_generation = 0;
    pid_t waiting_exit = 0;           // the old worker, draining
    int64_t deadline_ms = 0;          // for the current step
    std::vector<uint64_t> clients;    // control connections to answer when done
    struct Replaced {
      size_t index;
      pid_t old_pid;
      pid_t new_pid;
    };
    std::vector<Replaced> replaced;   // the answer's "workers"
    std::string extra_json;           // a JSON object: more fields for the answer (reload, upgrade)
  };

  // supervisor.cc
  void lockInstance();
  void openCache();
  void openStats();
  /// The shared rate-limit table ([limits] rate; limits/rate_table.h),
  /// made when the config first needs it; the workers' config points at it.
  void openRateTable();
  void openSockets();
  /// Logs the TLS addresses and the certificate (at start and on reload).
  void logTls() const;
  void blockSignals();
  /// Forks the worker of slot `index`. `replay`: a crash restart, whose
  /// worker answers what its dead predecessor left in the slot's journal;
  /// any other start gets an empty journal.
  void spawn(size_t index, bool replay = false);
  [[noreturn]] void runChild(size_t index);
  void handleSignals();
  void reap();
  void restartDue();
  /// Kills ready workers whose heartbeat is older than server.hang_timeout.
  void killHung();
  void beginStop(int signum);
  void signalWorkers(int signum);
  bool anyAlive() const;
  int pollTimeout() const;
  void sample();
  void publishHeader();
  std::string servingStatus() const;

  // rollout.cc
  /// Starts replacing `indexes` (all slots if empty); answers `client`
  /// (0: none) when done. Refused (false, `error`) while another runs.
  bool startRollout(const std::string& what, std::vector<size_t> indexes, uint64_t client,
                    std::string& error);
  void stepRollout();
  void finishRollout(bool ok, const std::string& error);
  /// An expected exit (a retiring worker): true if the rollout cared.
  bool onRolloutChildExit(pid_t pid);
  /// The successor being started on slot `index` died before it served.
  void onSuccessorDied(size_t index);
  /// Tracks `pid` as retiring without telling it anything yet.
  void track(pid_t pid, size_t index, unsigned generation);
  /// Tells a tracked worker to stop (SIGTERM; SIGKILL after kStopTimeoutMs).
  void tell(pid_t pid);
  /// track() then tell().
  void retire(pid_t pid, size_t index, unsigned generation);
  /// Re-reads the config file; false and `error` when it is bad (nothing
  /// changed). Applies it to the supervisor's state and starts a rollout.
  bool reload(uint64_t client, std::string& error);
  /// Makes the slots match `config`: opens new listen sockets (all before
  /// changing anything), closes removed ones, adds or retires slots.
  void reconcile(const config::Config& config);

  // upgrade.cc
  /// Checks the new binary, then re-executes it with the sockets. Returns
  /// only on failure (`error`).
  void upgrade(uint64_t client, std::string& error);
  /// After an upgrade: takes over what the previous image passed on.
  void adopt();
  /// Closes the TLS listeners adopted from the previous image (when the
  /// config has no TLS any more and reconcile could not apply it).
  void dropTlsSockets();

  // commands.cc
  void onRequest(uint64_t id, const std::string& line);
  std::string statusJson() const;
  std::string serversJson();
  /// The Prometheus page (supervisor/metrics_server.h, stats/prometheus.h).
  std::string metricsPage();
  std::vector<stats::ServerMetrics> serverMetrics();
  /// The server rows of the last scrape, and when they were read
  /// (monotonic; -1: never): reused for kMetricsServersMs.
  static constexpr int64_t kMetricsServersMs = 5000;
  std::vector<stats::ServerMetrics> metrics_servers_;
  int64_t metrics_servers_at_ms_ = -1;
  std::string cacheStatsJson() const;

  // anchors.cc
  /// nta.add, nta.remove: the answer line.
  std::string addAnchor(const nlohmann::json& request);
  std::string removeAnchor(const nlohmann::json& request);
  /// nta.list's "anchors": the configuration's, then the runtime ones.
  nlohmann::json anchorsJson() const;
  /// The anchor of dnssec.negative_trust_anchors at or above `name`, or "".
  std::string configAnchorCovering(const std::string& name) const;
  /// Reads the runtime anchors already in the cache (at start, after an
  /// upgrade), to flush their subtree when they expire.
  void loadAnchors();
  /// Flushes the subtree of every runtime anchor that has expired (from
  /// sample(), once a second).
  void expireAnchors();

  // local_root.cc
  /// Forks the local-root process when local_root.enabled (no-op if it runs).
  void startLocalRoot();
  [[noreturn]] void runLocalRootChild(int report_fd);
  /// Reads its status reports (non-blocking; from the main loop).
  void readLocalRoot();
  /// Its exit: true if `pid` was it (then a restart is scheduled).
  bool onLocalRootExit(pid_t pid, int status);
  void restartLocalRootIfDue(int64_t now_ms);
  /// SIGTERM to it, no restart (shoal is stopping).
  void stopLocalRoot();
  /// After a reload: a new process if its settings changed (`old`: before).
  void reconfigureLocalRoot(const config::Config& old);
  /// The "local_root" object of status and local_root answers.
  nlohmann::json localRootJson() const;

  Loaded loaded_;
  RunOptions options_;
  std::string exe_path_;  // the binary we were started from (re-executed on upgrade)
  /// Drawn once at start (worker_config.h): the workers' shared secrets.
  worker::Secrets secrets_ = worker::Secrets::generate();
  worker::WorkerConfig worker_config_;
  std::unique_ptr<shmcache::Cache> cache_;
  std::unique_ptr<stats::Segment> stats_;
  std::unique_ptr<limits::RateTable> rate_table_;
  std::vector<Slot> slots_;
  std::vector<Retiring> retiring_;
  /// One journal per process slot (2 per worker slot), mapped before the
  /// fork that first needs it so that every later child shares it.
  std::vector<worker::Journal*> journals_;
  std::optional<Rollout> rollout_;
  ControlServer control_;
  MetricsServer metrics_;
  int signal_fd_ = -1;
  int lock_fd_ = -1;  // flock held for the supervisor's life: one owner per cache
  pid_t pid_ = 0;
  bool stopping_ = false;
  /// The nftables divert rules of server.tcp_collapse are in place (ours,
  /// or a predecessor's after an upgrade): removed when shoal stops.
  bool divert_installed_ = false;
  int64_t kill_at_ms_ = -1;      // stopping: SIGKILL what is left at this time
  int64_t next_sample_ms_ = 0;   // monotonic
  uint64_t upgrade_client_ = 0;  // after an upgrade: the shoalctl to answer
  /// The runtime negative trust anchors this supervisor knows of (added,
  /// or found at start) and when they expire (wall-clock seconds).
  std::map<std::string, int64_t> anchor_expiry_;
  LocalRootChild local_root_;
};

}  // namespace shoal::supervisor
