#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "shmcache/cache.h"
#include "supervisor/notify.h"
#include "supervisor/sockets.h"
#include "worker/clock.h"
#include "base/log.h"

namespace shoal::supervisor {
namespace {

using base::logLine;

/// Restart policy. A worker that served for a while and died (a crash, a
/// kill -9) is replaced at once: its queries wait in its sockets, and
/// clients retry after 1-5 s, so the replacement must come well within 1 s.
/// Only a worker that dies within kQuickDeathMs of its start (a crash loop:
/// it cannot even start) backs off, from kFirstBackoffMs doubling to
/// kMaxBackoffMs; one that lives longer resets the count.
constexpr int64_t kQuickDeathMs = 1'000;
constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 30'000;
/// After SIGTERM, how long workers get before SIGKILL (they bound their own
/// stop to WorkerConfig::shutdown_grace_ms, well below this).
constexpr int64_t kStopTimeoutMs = 5'000;
/// Counter blocks in the segment (shmcache keeps 64).
constexpr size_t kCounterSlots = 64;

int64_t monotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

sigset_t handledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (const int signum : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, signum);
  return set;
}

std::string describeStatus(int status) {
  char text[96];
  if (WIFSIGNALED(status)) {
    const int signum = WTERMSIG(status);
    std::snprintf(text, sizeof text, "killed by signal %d (%s)%s", signum, strsignal(signum),
                  WCOREDUMP(status) ? ", core dumped" : "");
  } else if (WIFEXITED(status)) {
    std::snprintf(text, sizeof text, "exited with status %d", WEXITSTATUS(status));
  } else {
    std::snprintf(text, sizeof text, "ended (status %#x)", static_cast<unsigned>(status));
  }
  return text;
}

/// The STATUS line for systemd: "serving on 127.0.0.1:53 with 2/2 workers".
std::string servingStatus(const config::Config& config, size_t alive, size_t total) {
  std::string text = "serving on";
  for (const auto& address : config.server.listen) text += " " + address.toString();
  return text + " with " + std::to_string(alive) + "/" + std::to_string(total) + " workers";
}

/// Slots with a running worker.
template <typename Slots>
size_t countAlive(const Slots& slots) {
  return static_cast<size_t>(
      std::count_if(slots.begin(), slots.end(), [](const auto& s) { return s.pid != 0; }));
}

}  // namespace

Supervisor::Supervisor(Loaded loaded, bool cold)
    : loaded_(std::move(loaded)),
      cold_(cold),
      worker_config_(worker::workerConfigFrom(loaded_.config, loaded_.hints)),
      pid_(getpid()) {}

Supervisor::~Supervisor() {
  for (Slot& slot : slots_) {
    for (auto& socket : slot.sockets) closeListenSocket(socket);
  }
  if (signal_fd_ >= 0) close(signal_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

int Supervisor::run() {
  const auto& config = loaded_.config;
  logLine("shoal %s starting: config %s, %u worker(s), %zu root server(s)", SHOAL_VERSION,
          config.source.c_str(), config.server.workers, loaded_.hints.servers.size());
  blockSignals();
  // SIGPIPE: a client closing its TCP connection must not kill a worker.
  signal(SIGPIPE, SIG_IGN);
  lockInstance();
  openCache();
  openSockets();
  for (size_t i = 0; i < slots_.size(); ++i) spawn(i);
  notifyReady(servingStatus(config, countAlive(slots_), slots_.size()));
  Watchdog watchdog = Watchdog::fromEnvironment();
  while (!stopping_ || anyAlive()) {
    watchdog.pingIfDue(monotonicMs());
    int timeout = pollTimeout();
    const int64_t ping_in = watchdog.msUntilDue(monotonicMs());
    if (ping_in >= 0 && (timeout < 0 || ping_in < timeout)) timeout = static_cast<int>(ping_in);
    pollfd fd{signal_fd_, POLLIN, 0};
    const int ready = poll(&fd, 1, timeout);
    if (ready < 0 && errno != EINTR)
      throw StartupError(std::string("poll: ") + std::strerror(errno));
    handleSignals();
    reap();
    if (stopping_ && kill_at_ms_ >= 0 && monotonicMs() >= kill_at_ms_ && anyAlive()) {
      logLine("workers still running %lld ms after SIGTERM: killing them",
              static_cast<long long>(kStopTimeoutMs));
      signalWorkers(SIGKILL);
      kill_at_ms_ = -1;
    }
    if (!stopping_) restartDue();
  }
  logLine("stopped");
  return 0;
}

void Supervisor::lockInstance() {
  // Two supervisors on one cache segment would rebuild it under each other
  // (and, with SO_REUSEPORT, even share the listening ports): the second
  // one must refuse to start. The lock lives beside the shm object and is
  // released by the kernel when the supervisor dies.
  const std::string path = "/dev/shm" + loaded_.config.cache.name + ".lock";
  lock_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd_ < 0) throw StartupError(path + ": " + std::strerror(errno));
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
    logLine("cannot record the pid in %s: %s", path.c_str(), std::strerror(errno));
  }
}

void Supervisor::openCache() {
  const auto& c = loaded_.config.cache;
  shmcache::Options options;
  options.name = c.name;
  options.size = c.size;
  options.stripes = c.stripes;
  options.max_partitions = c.max_ecs_partitions;
  options.discard = cold_;
  options.prefault = c.prefault;
  auto cache = shmcache::Cache::open(options, worker::wallS());
  if (!cache.ok()) {
    throw StartupError("cache " + c.name + ": " + shmcache::toString(cache.error()));
  }
  cache_ = std::move(*cache);
  logLine("cache %s: %zu MiB in %u stripes%s", c.name.c_str(), cache_->segmentSize() >> 20,
          cache_->stripeCount(), cold_ ? " (cold start: emptied)" : "");
}

void Supervisor::openSockets() {
  const auto& server = loaded_.config.server;
  slots_.resize(server.workers);
  for (Slot& slot : slots_) {
    for (const auto& address : server.listen) slot.sockets.push_back(openListenSocket(address));
  }
  std::string addresses;
  for (const auto& address : server.listen) addresses += " " + address.toString();
  logLine("listening on%s (udp and tcp, %zu socket(s) each)", addresses.c_str(), slots_.size());
}

void Supervisor::blockSignals() {
  const sigset_t set = handledSignals();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    throw StartupError(std::string("sigprocmask: ") + std::strerror(errno));
  }
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) throw StartupError(std::string("signalfd: ") + std::strerror(errno));
}

void Supervisor::spawn(size_t index) {
  Slot& slot = slots_[index];
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    logLine("worker %zu: fork failed: %s; retrying in 1 s", index, std::strerror(errno));
    slot.restart_at_ms = monotonicMs() + 1000;
    return;
  }
  if (pid == 0) runChild(index);
  slot.pid = pid;
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
    close(signal_fd_);
    // Reload is the supervisor's business: a hangup of the session must
    // not kill the workers (SIGHUP's default action) once they unblock it.
    signal(SIGHUP, SIG_IGN);
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (i == index) continue;
      for (auto& socket : slots_[i].sockets) closeListenSocket(socket);
    }
    cache_->setCounterSlot(static_cast<unsigned>(index % kCounterSlots));
    status = worker::runWorker(worker_config_, slots_[index].sockets, *cache_,
                               static_cast<unsigned>(index));
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
      case SIGHUP:
        logLine("SIGHUP: configuration reload is not supported yet; ignored");
        break;
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
    const auto it =
        std::find_if(slots_.begin(), slots_.end(), [pid](const Slot& s) { return s.pid == pid; });
    if (it == slots_.end()) continue;
    const size_t index = static_cast<size_t>(it - slots_.begin());
    Slot& slot = *it;
    slot.pid = 0;
    const std::string how = describeStatus(status);
    if (stopping_) {
      logLine("worker %zu (pid %d) %s", index, static_cast<int>(pid), how.c_str());
      continue;
    }
    const int64_t now = monotonicMs();
    const int64_t lived = now - slot.started_ms;
    slot.quick_deaths = lived < kQuickDeathMs ? slot.quick_deaths + 1 : 0;
    int64_t delay = 0;
    if (slot.quick_deaths > 1) {
      delay = std::min<int64_t>(kMaxBackoffMs,
                                kFirstBackoffMs << std::min(slot.quick_deaths - 2, 10u));
    }
    slot.restart_at_ms = now + delay;
    if (delay == 0) {
      logLine("worker %zu (pid %d) %s after %lld ms; restarting now", index,
              static_cast<int>(pid), how.c_str(), static_cast<long long>(lived));
    } else {
      logLine("worker %zu (pid %d) %s after %lld ms; crash loop: restarting in %lld ms", index,
              static_cast<int>(pid), how.c_str(), static_cast<long long>(lived),
              static_cast<long long>(delay));
    }
    notifyStatus(servingStatus(loaded_.config, countAlive(slots_), slots_.size()) + "; worker " +
                 std::to_string(index) + " " + how + ", restarting");
  }
}

void Supervisor::restartDue() {
  const int64_t now = monotonicMs();
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].pid == 0 && slots_[i].restart_at_ms >= 0 && slots_[i].restart_at_ms <= now) {
      spawn(i);
      notifyStatus(servingStatus(loaded_.config, countAlive(slots_), slots_.size()));
    }
  }
}

void Supervisor::beginStop(int signum) {
  if (stopping_) {
    logLine("%s again: killing the workers now", strsignal(signum));
    signalWorkers(SIGKILL);
    return;
  }
  stopping_ = true;
  notifyStopping();
  kill_at_ms_ = monotonicMs() + kStopTimeoutMs;
  size_t alive = 0;
  for (const Slot& slot : slots_) alive += slot.pid != 0 ? 1 : 0;
  logLine("%s: stopping %zu worker(s)", strsignal(signum), alive);
  signalWorkers(SIGTERM);
}

void Supervisor::signalWorkers(int signum) {
  for (const Slot& slot : slots_) {
    if (slot.pid != 0) kill(slot.pid, signum);
  }
}

bool Supervisor::anyAlive() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.pid != 0; });
}

int Supervisor::pollTimeout() const {
  int64_t next = -1;
  auto consider = [&next](int64_t at) {
    if (at >= 0 && (next < 0 || at < next)) next = at;
  };
  if (stopping_) {
    consider(kill_at_ms_);
  } else {
    for (const Slot& slot : slots_) {
      if (slot.pid == 0) consider(slot.restart_at_ms);
    }
  }
  if (next < 0) return -1;
  return static_cast<int>(std::clamp<int64_t>(next - monotonicMs(), 0, 60'000));
}

}  // namespace shoal::supervisor
