#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/log.h"
#include "base/ownership.h"
#include "collapse/divert.h"
#include "shmcache/cache.h"
#include "stats/stats.h"
#include "supervisor/notify.h"
#include "supervisor/privileges.h"
#include "supervisor/sockets.h"
#include "supervisor/util.h"
#include "worker/clock.h"

namespace shoal::supervisor {
namespace {

using base::logLine;
using base::logError;
using base::logWarning;

/// Restart policy. A worker that served for a while and died (a crash, a
/// kill -9) is replaced at once: its queries wait in its sockets, and
/// clients retry after 1-5 s, so the replacement must come well within 1 s.
/// Only a worker that dies within kQuickDeathMs of its start (a crash loop:
/// it cannot even start) backs off, from kFirstBackoffMs doubling to
/// kMaxBackoffMs; one that lives longer resets the count.
constexpr int64_t kQuickDeathMs = 1'000;
constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 30'000;
/// Counter blocks in the segment (shmcache keeps 64).
constexpr size_t kCounterSlots = 64;
/// The stats samples (shoalctl stats: the last N seconds).
constexpr int64_t kSampleIntervalMs = 1000;

sigset_t handledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (const int signum : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, signum);
  return set;
}

}  // namespace

Supervisor::Supervisor(Loaded loaded, RunOptions options)
    : loaded_(std::move(loaded)),
      options_(std::move(options)),
      exe_path_(currentExecutable()),
      worker_config_(worker::workerConfigFrom(loaded_.config, loaded_.hints, loaded_.anchors, loaded_.tls,
                                               secrets_)),
      control_([this](uint64_t id, const std::string& line) { onRequest(id, line); }),
      metrics_([this] { return metricsPage(); }),
      pid_(getpid()) {}

Supervisor::~Supervisor() {
  for (Slot& slot : slots_) {
    for (auto& socket : slot.sockets) closeListenSocket(socket);
  }
  if (signal_fd_ >= 0) close(signal_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

void applyLogOptions(const config::LogSection& log) {
  base::LogOptions options;
  options.json = log.format == "json";
  options.level = log.level == "error"     ? base::LogLevel::kError
                  : log.level == "warning" ? base::LogLevel::kWarning
                  : log.level == "debug"   ? base::LogLevel::kDebug
                                           : base::LogLevel::kInfo;
  base::setLogOptions(options);
}

int Supervisor::run() {
  const auto& config = loaded_.config;
  applyLogOptions(config.log);  // before the first line; the workers inherit it
  logLine("shoal %s %s: config %s, %u worker(s), %zu root server(s)", SHOAL_VERSION,
          options_.inherited.empty() ? "starting" : "taking over after an upgrade",
          config.source.c_str(), config.server.workers, loaded_.hints.servers.size());
  blockSignals();
  // SIGPIPE: a client closing its TCP connection must not kill a worker.
  signal(SIGPIPE, SIG_IGN);
  // First of all: nothing is opened as root (supervisor/privileges.h).
  dropPrivileges(config);
  if (options_.inherited.empty()) {
    lockInstance();
    openCache();
    openStats();
    openRateTable();
    openSockets();
    applyDivert(config);
    control_.listen(config.control.socket, config.control.group);
    publishHeader();
    for (size_t i = 0; i < slots_.size(); ++i) spawn(i);
  } else {
    adopt();  // the segments, sockets and workers of the previous image
    // The config may have changed with the binary: rules made anew (the
    // upgrade's rollout replaces every worker, and their collapsed
    // connections with them, anyway).
    applyDivert(config);
  }
  if (!config.metrics.listen.empty()) {
    // Not fatal: the resolver serves without its metrics rather than not
    // at all (a reload can bind them once the address is free).
    try {
      metrics_.listen(config.metrics.listen);
      std::string where;
      for (const auto& a : config.metrics.listen) where += " http://" + a.toString() + "/metrics";
      logLine("metrics:%s", where.c_str());
    } catch (const StartupError& e) {
      logError("%s: serving without metrics", e.what());
    }
  }
  startLocalRoot();
  notifyReady(servingStatus());
  Watchdog watchdog = Watchdog::fromEnvironment();
  std::vector<pollfd> fds;
  while (!stopping_ || anyAlive()) {
    watchdog.pingIfDue(monotonicMs());
    int timeout = pollTimeout();
    const int64_t ping_in = watchdog.msUntilDue(monotonicMs());
    if (ping_in >= 0 && (timeout < 0 || ping_in < timeout)) timeout = static_cast<int>(ping_in);
    fds.clear();
    fds.push_back({signal_fd_, POLLIN, 0});
    control_.addPollFds(fds);
    metrics_.addPollFds(fds);
    if (local_root_.report_fd >= 0) fds.push_back({local_root_.report_fd, POLLIN, 0});
    const int ready = poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno != EINTR)
      throw StartupError(std::string("poll: ") + std::strerror(errno));
    handleSignals();
    reap();
    if (ready > 0) {
      control_.onPoll(fds);
      metrics_.onPoll(fds, monotonicMs());
    }
    readLocalRoot();
    control_.sweep(monotonicMs());
    metrics_.sweep(monotonicMs());
    if (stopping_ && kill_at_ms_ >= 0 && monotonicMs() >= kill_at_ms_ && anyAlive()) {
      logLine("workers still running %lld ms after SIGTERM: killing them",
              static_cast<long long>(kStopTimeoutMs));
      signalWorkers(SIGKILL);
      kill_at_ms_ = -1;
    }
    if (!stopping_) {
      restartDue();
      stepRollout();
      killHung();
    }
    if (monotonicMs() >= next_sample_ms_) sample();
  }
  sample();
  metrics_.close();
  if (divert_installed_) collapse::DivertRules::remove();
  if (rate_table_) limits::RateTable::remove(loaded_.config.cache.name + ".limits");
  stats_->header().stopped_ms.store(worker::wallMs());
  control_.close();
  logLine("stopped");
  return 0;
}

void Supervisor::lockInstance() {
  // Two supervisors on one cache segment would rebuild it under each other
  // (and, with SO_REUSEPORT, even share the listening ports): the second
  // one must refuse to start. The lock lives beside the shm object and is
  // released by the kernel when the supervisor dies.
  const std::string path = "/dev/shm" + loaded_.config.cache.name + ".lock";
  lock_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (lock_fd_ < 0) throw StartupError(path + ": " + std::strerror(errno));
  // /dev/shm is everyone's: a lock file someone else made is refused.
  if (const std::string why = base::untrustedBecause(lock_fd_); !why.empty()) {
    throw StartupError("lock file " + path + " exists and is not shoal's: " + why +
                       "; remove it or change [cache] name");
  }
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = pread(lock_fd_, pid, sizeof pid - 1, 0);
    throw StartupError("cache " + loaded_.config.cache.name + " is in use by another shoal" +
                       (n > 0 ? std::string(" (pid ") + std::string(pid, static_cast<size_t>(n)) + ")"
                              : std::string()) +
                       "; stop it or give this one another [cache] name");
  }
  const std::string me = std::to_string(getpid());
  if (ftruncate(lock_fd_, 0) != 0 || pwrite(lock_fd_, me.data(), me.size(), 0) < 0) {
    logWarning("cannot record the pid in %s: %s", path.c_str(), std::strerror(errno));
  }
}

void Supervisor::openCache() {
  const auto& c = loaded_.config.cache;
  shmcache::Options options;
  options.name = c.name;
  options.size = c.size;
  options.stripes = c.stripes;
  options.max_partitions = c.max_ecs_partitions;
  options.discard = options_.cold;
  options.prefault = c.prefault;
  auto cache = shmcache::Cache::open(options, worker::wallS());
  if (!cache.ok()) {
    std::string why = shmcache::toString(cache.error());
    struct stat st {};
    if (cache.error() == shmcache::Error::kUntrusted &&
        lstat(("/dev/shm" + c.name).c_str(), &st) == 0) {
      why = "the existing segment /dev/shm" + c.name + " is not shoal's: " +
            (S_ISREG(st.st_mode) ? base::untrustedBecause(st) : std::string("not a file")) +
            "; remove it or change [cache] name";
    }
    throw StartupError("cache " + c.name + ": " + why);
  }
  cache_ = std::move(*cache);
  logLine("cache %s: %zu MiB in %u stripes%s", c.name.c_str(), cache_->segmentSize() >> 20,
          cache_->stripeCount(), options_.cold ? " (cold start: emptied)" : "");
  loadAnchors();
}

void Supervisor::openStats() {
  const auto& config = loaded_.config;
  gid_t group = static_cast<gid_t>(-1);
  if (!config.control.group.empty()) {
    const auto gid = groupId(config.control.group);
    if (!gid) throw StartupError("control.group: no such group \"" + config.control.group + "\"");
    group = *gid;
  }
  try {
    // Counters survive an upgrade (keep), not a stop and start.
    stats_ = stats::Segment::create(stats::segmentName(config.cache.name),
                                    !options_.inherited.empty(),
                                    group != static_cast<gid_t>(-1) ? 0640 : 0600, group);
  } catch (const std::exception& e) {
    throw StartupError(e.what());
  }
}

void Supervisor::openRateTable() {
  const auto& config = loaded_.config;
  if (config.limits.rate != 0 && !rate_table_) {
    // 2^18 buckets (4 MiB): past that many active prefixes the least
    // recently refilled give way (limits/rate_table.h).
    constexpr size_t kRateSlots = size_t{1} << 18;
    try {
      rate_table_ = limits::RateTable::create(config.cache.name + ".limits", kRateSlots);
    } catch (const std::exception& e) {
      throw StartupError(e.what());
    }
    logLine("rate limit: %u queries/s per /%u or /%u, %zu buckets", config.limits.rate,
            config.limits.rate_ipv4_prefix, config.limits.rate_ipv6_prefix, rate_table_->slots());
  }
  worker_config_.rate_table = config.limits.rate != 0 ? rate_table_.get() : nullptr;
}

void Supervisor::publishHeader() {
  stats::Header& h = stats_->header();
  const auto& config = loaded_.config;
  stats::setText(h.version_text, SHOAL_VERSION);
  stats::setText(h.config_path, config.source);
  stats::setText(h.cache_name, config.cache.name);
  stats::setText(h.control_socket, config.control.socket);
  h.workers.store(static_cast<uint32_t>(slots_.size()));
  if (h.started_ms.load() == 0) h.started_ms.store(worker::wallMs());
  h.cache_size.store(cache_->segmentSize());
  h.supervisor_pid.store(getpid());
  h.stopped_ms.store(0);
}

void Supervisor::sample() {
  next_sample_ms_ = monotonicMs() + kSampleIntervalMs;
  if (!anchor_expiry_.empty()) expireAnchors();
  if (!stats_) return;
  stats::Header& h = stats_->header();
  uint64_t entries = 0, bytes = 0, ranges = 0;
  for (const auto& fill : cache_->fill()) {
    entries += fill.live_entries;
    bytes += fill.live_bytes;
    ranges += fill.range_entries;
  }
  h.cache_entries.store(entries);
  h.cache_ranges.store(ranges);
  h.cache_bytes.store(bytes);
  h.cache_capacity.store(cache_->arenaBytesPerStripe() * cache_->stripeCount());
  const stats::Totals t = stats::totalsOf(*stats_);
  const uint64_t seq = h.sample_seq.load();
  stats::Sample& s = h.samples[seq % stats::kSamples];
  s.at_ms.store(0);  // readers skip a sample being written
  s.queries.store(t.queries());
  s.cache_hits.store(t.cache_hits);
  s.cache_misses.store(t.cache_misses);
  s.upstream_queries.store(t.upstream_queries);
  s.upstream_timeouts.store(t.upstream_timeouts);
  s.at_ms.store(worker::wallMs(), std::memory_order_release);
  h.sample_seq.store(seq + 1, std::memory_order_release);
}

std::string Supervisor::servingStatus() const {
  // The STATUS line for systemd: "serving on 127.0.0.1:53 with 2/2 workers"
  // ("serving on 127.0.0.1:53, tls 127.0.0.1:853 with ..." with TLS).
  std::string text = "serving on";
  for (const auto& address : loaded_.config.server.listen) text += " " + address.toString();
  const auto& tls = loaded_.config.server.tls_listen;
  for (size_t i = 0; i < tls.size(); ++i) text += (i == 0 ? ", tls " : " ") + tls[i].toString();
  const auto& https = loaded_.config.server.https_listen;
  for (size_t i = 0; i < https.size(); ++i) {
    text += (i == 0 ? ", https " : " ") + https[i].toString();
  }
  const size_t alive = static_cast<size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.pid != 0; }));
  return text + " with " + std::to_string(alive) + "/" + std::to_string(slots_.size()) +
         " workers";
}

void Supervisor::openSockets() {
  const auto& server = loaded_.config.server;
  slots_.resize(server.workers);
  for (Slot& slot : slots_) {
    for (const auto& address : server.listen) {
      slot.sockets.push_back(openListenSocket(address, false));
    }
    for (const auto& address : server.tls_listen) {
      slot.sockets.push_back(openListenSocket(address, true));
    }
    for (const auto& address : server.https_listen) {
      slot.sockets.push_back(openListenSocket(address, true, true));
    }
  }
  std::string addresses;
  for (const auto& address : server.listen) addresses += " " + address.toString();
  logLine("listening on%s (udp and tcp, %zu socket(s) each)", addresses.c_str(), slots_.size());
  logTls();
}

void Supervisor::logTls() const {
  const auto& server = loaded_.config.server;
  if (!loaded_.tls) return;
  const std::pair<const char*, const std::vector<base::SocketAddress>*> kinds[] = {
      {"DNS over TLS", &server.tls_listen}, {"DNS over HTTPS", &server.https_listen}};
  for (const auto& [what, list] : kinds) {
    if (list->empty()) continue;
    std::string addresses;
    for (const auto& address : *list) addresses += " " + address.toString();
    logLine("%s on%s (%zu socket(s) each), certificate %s", what, addresses.c_str(),
            slots_.size(), loaded_.tls->description().c_str());
  }
}

void Supervisor::blockSignals() {
  const sigset_t set = handledSignals();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    throw StartupError(std::string("sigprocmask: ") + std::strerror(errno));
  }
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) throw StartupError(std::string("signalfd: ") + std::strerror(errno));
}

void Supervisor::spawn(size_t index, bool replay) {
  Slot& slot = slots_[index];
  const size_t process_slot = 2 * index + slot.generation;
  if (journals_.size() <= process_slot) journals_.resize(process_slot + 1, nullptr);
  if (journals_[process_slot] == nullptr) {
    journals_[process_slot] = worker::mapJournal();  // zeroed
    if (journals_[process_slot] == nullptr) {
      logLine("worker %zu: no memory for its journal; it runs without one", index);
    }
  } else if (!replay) {
    journals_[process_slot]->owner.store(0);  // nothing to replay: a fresh start
  }
  stats::ProcessSlot& stats = stats_->slot(process_slot);
  stats.state.store(static_cast<uint32_t>(stats::WorkerState::kStarting));
  stats.worker.store(static_cast<uint32_t>(index));
  stats.restarts.store(slot.restarts);
  stats.started_ms.store(worker::wallMs());
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    logError("worker %zu: fork failed: %s; retrying in 1 s", index, std::strerror(errno));
    stats.state.store(static_cast<uint32_t>(stats::WorkerState::kExited));
    slot.restart_at_ms = monotonicMs() + 1000;
    return;
  }
  if (pid == 0) runChild(index);
  stats.pid.store(pid);
  slot.pid = pid;
  slot.hang_killed = false;
  slot.started_ms = monotonicMs();
  slot.restart_at_ms = -1;
  logLine("worker %zu started: pid %d", index, static_cast<int>(pid));
}

void Supervisor::runChild(size_t index) {
  int status = 70;  // EX_SOFTWARE: an exception escaped
  try {
    // Follow the supervisor if it dies (SIGKILL included).
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != pid_) _exit(0);
    restrictChild(workerNeedsOf(loaded_.config));
    close(signal_fd_);
    control_.closeInChild();
    metrics_.closeInChild();
    if (local_root_.report_fd >= 0) close(local_root_.report_fd);
    // Reload is the supervisor's business: a hangup of the session must
    // not kill the workers (SIGHUP's default action) once they unblock it.
    signal(SIGHUP, SIG_IGN);
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (i == index) continue;
      for (auto& socket : slots_[i].sockets) {
        // A socket shared with our slot (never: each slot has its own) stays.
        closeListenSocket(socket);
      }
    }
    const Slot& slot = slots_[index];
    const unsigned process_slot = static_cast<unsigned>(2 * index + slot.generation);
    cache_->setCounterSlot(process_slot % kCounterSlots);
    worker::Journal* journal =
        process_slot < journals_.size() ? journals_[process_slot] : nullptr;
    status = worker::runWorker(worker_config_, slot.sockets, *cache_, stats_->slot(process_slot),
                               journal, static_cast<unsigned>(index));
  } catch (const std::exception& e) {
    logLine("worker %zu: %s", index, e.what());
  }
  std::fflush(nullptr);
  _exit(status);  // no destructors: the supervisor's objects are not ours to clean up
}

void Supervisor::handleSignals() {
  signalfd_siginfo info{};
  while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    const int signum = static_cast<int>(info.ssi_signo);
    switch (signum) {
      case SIGTERM:
      case SIGINT:
        beginStop(signum);
        break;
      case SIGHUP: {
        if (stopping_) break;
        std::string error;
        logLine("SIGHUP: reloading %s", loaded_.config.source.c_str());
        if (!reload(0, error)) logError("reload failed, nothing changed: %s", error.c_str());
        break;
      }
      case SIGUSR1:
        signalWorkers(SIGUSR1);  // each logs its counters
        break;
      default:  // SIGCHLD: reap() runs after every wake-up
        break;
    }
  }
}

void Supervisor::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    const std::string how = describeStatus(status);
    // A worker told to stop (replaced or retired): expected.
    const auto retired = std::find_if(retiring_.begin(), retiring_.end(),
                                      [pid](const Retiring& r) { return r.pid == pid; });
    if (retired != retiring_.end()) {
      logLine("worker %zu (pid %d, %s) %s", retired->index, static_cast<int>(pid),
              retired->kill_at_ms >= 0 ? "replaced" : "being replaced", how.c_str());
      const size_t process_slot = 2 * retired->index + retired->generation;
      if (process_slot < stats::kProcessSlots &&
          stats_->slot(process_slot).pid.load() == pid) {
        stats_->slot(process_slot).state.store(static_cast<uint32_t>(stats::WorkerState::kExited));
      }
      retiring_.erase(retired);
      onRolloutChildExit(pid);
      continue;
    }
    if (onLocalRootExit(pid, status)) continue;
    const auto it =
        std::find_if(slots_.begin(), slots_.end(), [pid](const Slot& s) { return s.pid == pid; });
    if (it == slots_.end()) continue;
    const size_t index = static_cast<size_t>(it - slots_.begin());
    Slot& slot = *it;
    slot.pid = 0;
    stats_->slot(2 * index + slot.generation)
        .state.store(static_cast<uint32_t>(stats::WorkerState::kExited));
    if (stopping_) {
      logLine("worker %zu (pid %d) %s", index, static_cast<int>(pid), how.c_str());
      continue;
    }
    if (rollout_ && rollout_->current == index && rollout_->waiting_exit == 0) {
      logLine("worker %zu (pid %d, starting as a replacement) %s", index,
              static_cast<int>(pid), how.c_str());
      onSuccessorDied(index);
      continue;
    }
    const int64_t now = monotonicMs();
    const int64_t lived = now - slot.started_ms;
    slot.quick_deaths = lived < kQuickDeathMs ? slot.quick_deaths + 1 : 0;
    ++slot.restarts;
    int64_t delay = 0;
    if (slot.quick_deaths > 1) {
      delay = std::min<int64_t>(kMaxBackoffMs,
                                kFirstBackoffMs << std::min(slot.quick_deaths - 2, 10u));
    }
    slot.restart_at_ms = now + delay;
    if (delay == 0) {
      logWarning("worker %zu (pid %d) %s after %lld ms; restarting now", index,
              static_cast<int>(pid), how.c_str(), static_cast<long long>(lived));
    } else {
      logError("worker %zu (pid %d) %s after %lld ms; crash loop: restarting in %lld ms", index,
              static_cast<int>(pid), how.c_str(), static_cast<long long>(lived),
              static_cast<long long>(delay));
    }
    notifyStatus(servingStatus() + "; worker " + std::to_string(index) + " " + how +
                 ", restarting");
  }
}

void Supervisor::restartDue() {
  const int64_t now = monotonicMs();
  restartLocalRootIfDue(now);
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].pid == 0 && slots_[i].restart_at_ms >= 0 && slots_[i].restart_at_ms <= now) {
      spawn(i, /*replay=*/true);
      notifyStatus(servingStatus());
    }
  }
  for (Retiring& r : retiring_) {
    if (r.kill_at_ms >= 0 && r.kill_at_ms <= now) {
      logLine("worker %zu (pid %d) still draining %lld ms after it was told to stop: killing it",
              r.index, static_cast<int>(r.pid), static_cast<long long>(kStopTimeoutMs));
      kill(r.pid, SIGKILL);
      r.kill_at_ms = -1;  // once
    }
  }
}

void Supervisor::killHung() {
  const int64_t limit = loaded_.config.server.hang_timeout.count();
  if (limit == 0) return;
  const int64_t now = monotonicMs();
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    if (slot.pid == 0 || slot.hang_killed) continue;
    const auto& process = stats_->slot(2 * i + slot.generation);
    // Only a worker that has served: one starting is the rollout's business.
    if (static_cast<stats::WorkerState>(process.state.load()) != stats::WorkerState::kReady) {
      continue;
    }
    const int64_t heartbeat = process.heartbeat_ms.load();
    if (heartbeat == 0) continue;  // a build that does not report (after an upgrade)
    const int64_t silent = now - heartbeat;
    if (silent <= limit) continue;
    logError("worker %zu (pid %d) is hung: its loop has not turned for %lld ms; killing it", i,
            static_cast<int>(slot.pid), static_cast<long long>(silent));
    kill(slot.pid, SIGKILL);
    slot.hang_killed = true;  // reap() restarts it
  }
}

void Supervisor::beginStop(int signum) {
  if (stopping_) {
    logLine("%s again: killing the workers now", strsignal(signum));
    signalWorkers(SIGKILL);
    return;
  }
  stopping_ = true;
  stopLocalRoot();
  if (rollout_) finishRollout(false, "shoal is stopping");
  notifyStopping();
  control_.close();
  kill_at_ms_ = monotonicMs() + kStopTimeoutMs;
  size_t alive = retiring_.size();
  for (const Slot& slot : slots_) alive += slot.pid != 0 ? 1 : 0;
  logLine("%s: stopping %zu worker(s)", strsignal(signum), alive);
  signalWorkers(SIGTERM);
}

void Supervisor::signalWorkers(int signum) {
  for (const Slot& slot : slots_) {
    if (slot.pid != 0) kill(slot.pid, signum);
  }
  for (const Retiring& r : retiring_) kill(r.pid, signum);
}

bool Supervisor::anyAlive() const {
  return !retiring_.empty() ||
         std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.pid != 0; });
}

int Supervisor::pollTimeout() const {
  int64_t next = next_sample_ms_;
  auto consider = [&next](int64_t at) {
    if (at >= 0 && (next < 0 || at < next)) next = at;
  };
  if (stopping_) {
    consider(kill_at_ms_);
  } else {
    for (const Slot& slot : slots_) {
      if (slot.pid == 0) consider(slot.restart_at_ms);
    }
    for (const Retiring& r : retiring_) consider(r.kill_at_ms);
    consider(local_root_.restart_at_ms);
    // Waiting for a successor to report ready: look often.
    if (rollout_ && rollout_->current && rollout_->waiting_exit == 0) {
      consider(monotonicMs() + 10);
    }
  }
  return static_cast<int>(std::clamp<int64_t>(next - monotonicMs(), 0, 60'000));
}

void Supervisor::applyDivert(const config::Config& config) {
  if (!config.server.tcp_collapse) {
    if (divert_installed_) collapse::DivertRules::remove();
    divert_installed_ = false;
    return;
  }
  std::string error;
  divert_installed_ =
      collapse::DivertRules::install(config.server.workers, config.server.tcp_collapse_queue, &error);
  if (divert_installed_) {
    logLine("tcp_collapse: divert rules installed (nftables tables ip shoal and ip6 shoal, NFQUEUE "
            "%u..%u)",
            config.server.tcp_collapse_queue,
            config.server.tcp_collapse_queue + config.server.workers - 1);
  } else {
    logWarning("tcp_collapse unavailable (%s): idle connections are closed instead", error.c_str());
  }
}

}  // namespace shoal::supervisor
