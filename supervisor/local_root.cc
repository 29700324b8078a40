// The local-root process and the supervisor's side of it (local_root.h).

#include "supervisor/local_root.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "localroot/runner.h"
#include "shmcache/cache.h"
#include "supervisor/privileges.h"
#include "supervisor/sockets.h"
#include "supervisor/supervisor.h"
#include "supervisor/util.h"
#include "worker/clock.h"

namespace shoal::supervisor {
namespace {

using base::logLine;
using base::logError;
using nlohmann::json;

/// The cache counter block the local-root process increments (workers use
/// theirs from 0 up; shmcache keeps 64).
constexpr unsigned kCounterSlot = 63;
/// A status line longer than this is cut (errors of many sources): one
/// write(2) of at most PIPE_BUF octets is never interleaved or split.
constexpr size_t kMaxErrorText = 2048;
constexpr size_t kMaxReportLine = 4096;
/// Restart backoff: a process that lived less than kShortLifeMs before it
/// died waits 1 s, 2 s, 4 s ... up to kMaxBackoffMs before the next try.
constexpr int64_t kShortLifeMs = 600'000;
constexpr int64_t kMaxBackoffMs = 300'000;

json statusJson(const localroot::Status& status) {
  std::string error = status.last_error;
  if (error.size() > kMaxErrorText) error = error.substr(0, kMaxErrorText) + "...";
  return {{"state", localroot::toString(status.state)},
          {"serial", status.serial ? json(*status.serial) : json(nullptr)},
          {"source", status.source},
          {"transfer", status.transfer},
          {"loaded_at", status.loaded_at},
          {"refreshed_at", status.refreshed_at},
          {"last_attempt", status.last_attempt},
          {"next_attempt", status.next_attempt},
          {"last_error", error},
          {"rrsets", status.load.rrsets},
          {"ranges", status.load.ranges},
          {"ranges_lost", status.load.ranges_lost}};
}

void writeReport(int fd, const localroot::Status& status) {
  std::string line = statusJson(status).dump(-1, ' ', false, json::error_handler_t::replace);
  line += '\n';
  // A full pipe (the supervisor busy) only loses this report: the next one
  // says the same and more.
  [[maybe_unused]] const ssize_t written = write(fd, line.data(), line.size());
}

localroot::RunnerOptions runnerOptions(const Loaded& loaded) {
  const auto& config = loaded.config;
  localroot::RunnerOptions options;
  options.sources = config.local_root.sources;
  if (options.sources.empty()) {
    options.sources = localroot::defaultSources(loaded.hints, config.resolver.root_hints.empty(),
                                                config.resolver.ipv4, config.resolver.ipv6);
  }
  options.refresh_min_s = config.local_root.refresh_min.count() / 1000;
  return options;
}

localroot::TransferOptions transferOptions(const config::Config& config) {
  localroot::TransferOptions options;
  options.timeout_ms = static_cast<int>(config.local_root.timeout.count());
  for (const auto& address : config.resolver.outgoing_addresses) {
    auto& source = address.isV4() ? options.source_v4 : options.source_v6;
    if (!source) source = address;
  }
  return options;
}

}  // namespace

int runLocalRootProcess(const Loaded& loaded, shmcache::Cache& cache, int report_fd) {
  const auto& config = loaded.config;
  const localroot::RunnerOptions options = runnerOptions(loaded);
  const localroot::TransferOptions transfer = transferOptions(config);
  const localroot::ApexAnchors anchors = localroot::anchorsFor(loaded.anchors, options.apex);
  const dnssec::Policy policy{config.dnssec.sha1_signatures, config.dnssec.nsec3_max_iterations};
  resolver::RecordCache records(cache, {config.cache.min_ttl, config.cache.max_ttl,
                                        config.cache.max_negative_ttl});
  std::string sources;
  for (const auto& source : options.sources) sources += " " + source.toString();
  logLine("local root: process started; %zu source(s):%s", options.sources.size(),
          sources.c_str());
  localroot::RunnerHooks hooks;
  hooks.query_serial = [&](const base::SocketAddress& source) {
    return localroot::querySerial(source, options.apex, transfer);
  };
  hooks.transfer = [&](const base::SocketAddress& source, const localroot::ZoneData* current) {
    return localroot::transferZone(source, options.apex, transfer, current);
  };
  hooks.verify = [&](const localroot::ZoneData& zone, int64_t now_s) {
    return localroot::verifyZone(zone, anchors, policy, now_s);
  };
  hooks.load = [&](const localroot::VerifiedZone& zone, int64_t now_s) {
    return localroot::loadZone(records, zone, config.cache.max_negative_ttl, now_s);
  };
  hooks.log = [](const std::string& line) { logLine("%s", line.c_str()); };
  hooks.report = [report_fd](const localroot::Status& status) { writeReport(report_fd, status); };
  localroot::Runner runner(options, std::move(hooks));
  for (;;) {
    const int64_t next_s = runner.tick(worker::wallS());
    const int64_t wait_ms = std::max<int64_t>(next_s - worker::wallS(), 0) * 1000;
    // Sleep until then, or until the supervisor closes its end of the pipe
    // (POLLERR on a pipe's write end: no reader left).
    pollfd pfd{report_fd, 0, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(wait_ms, 3'600'000)));
    if (ready > 0 && (pfd.revents & (POLLERR | POLLHUP)) != 0) {
      logLine("local root: the supervisor closed its end of the pipe (stopped, or "
              "re-executed for an upgrade); exiting");
      return 0;
    }
  }
}

void Supervisor::startLocalRoot() {
  if (!loaded_.config.local_root.enabled || stopping_) {
    local_root_.restart_at_ms = -1;
    return;
  }
  if (local_root_.pid != 0) return;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    logError("local root: pipe: %s; retrying in 1 s", std::strerror(errno));
    local_root_.restart_at_ms = monotonicMs() + 1000;
    return;
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    logError("local root: fork failed: %s; retrying in 1 s", std::strerror(errno));
    close(fds[0]);
    close(fds[1]);
    local_root_.restart_at_ms = monotonicMs() + 1000;
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    runLocalRootChild(fds[1]);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  local_root_.pid = pid;
  local_root_.report_fd = fds[0];
  local_root_.partial.clear();
  local_root_.started_ms = monotonicMs();
  local_root_.restart_at_ms = -1;
  logLine("local root process started: pid %d", static_cast<int>(pid));
}

void Supervisor::runLocalRootChild(int report_fd) {
  int status = 70;  // EX_SOFTWARE: an exception escaped
  try {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != pid_) _exit(0);
    // Told apart from the workers in ps and top (15 characters at most).
    prctl(PR_SET_NAME, "shoal-localroot");
    // It parses zone transfers from the network: no privilege at all.
    restrictChild(Needs{});
    // Nothing of the supervisor's is ours: above all not the listening
    // sockets (a socket kept open here would stay in its SO_REUSEPORT group
    // after the supervisor closed it, taking a share of the queries).
    close(signal_fd_);
    if (lock_fd_ >= 0) close(lock_fd_);
    control_.closeInChild();
    metrics_.closeInChild();
    for (Slot& slot : slots_) {
      for (auto& socket : slot.sockets) closeListenSocket(socket);
    }
    // The supervisor's signals are blocked in its children: SIGTERM and
    // SIGINT end this process (default action), the others do nothing.
    for (const int signum : {SIGHUP, SIGUSR1}) signal(signum, SIG_IGN);
    sigset_t unblock;
    sigemptyset(&unblock);
    for (const int signum : {SIGTERM, SIGINT}) sigaddset(&unblock, signum);
    sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
    cache_->setCounterSlot(kCounterSlot);
    status = runLocalRootProcess(loaded_, *cache_, report_fd);
  } catch (const std::exception& e) {
    logLine("local root: %s", e.what());
  }
  std::fflush(nullptr);
  _exit(status);  // no destructors: the supervisor's objects are not ours to clean up
}

void Supervisor::readLocalRoot() {
  if (local_root_.report_fd < 0) return;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(local_root_.report_fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) {  // the process closed it: exiting (reap() restarts it)
        close(local_root_.report_fd);
        local_root_.report_fd = -1;
      }
      return;
    }
    local_root_.partial.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = local_root_.partial.find('\n')) != std::string::npos) {
      const std::string line = local_root_.partial.substr(0, newline);
      local_root_.partial.erase(0, newline + 1);
      const json report = json::parse(line, nullptr, false);
      if (report.is_object() && report.contains("state") && report["state"].is_string()) {
        local_root_.status = line;
      } else {
        logLine("local root: unreadable status report ignored");
      }
    }
    if (local_root_.partial.size() > kMaxReportLine) {
      logLine("local root: status report too long; ignored");
      local_root_.partial.clear();
    }
  }
}

bool Supervisor::onLocalRootExit(pid_t pid, int status) {
  if (pid == 0 || pid != local_root_.pid) return false;
  readLocalRoot();  // what it said last
  if (local_root_.report_fd >= 0) close(local_root_.report_fd);
  local_root_.report_fd = -1;
  local_root_.pid = 0;
  if (stopping_) {
    logLine("local root process (pid %d) %s", static_cast<int>(pid), describeStatus(status).c_str());
    return true;
  }
  const int64_t now = monotonicMs();
  local_root_.deaths = now - local_root_.started_ms < kShortLifeMs ? local_root_.deaths + 1 : 1;
  const int64_t delay =
      std::min<int64_t>(kMaxBackoffMs, int64_t{1000} << std::min(local_root_.deaths - 1, 20u));
  local_root_.restart_at_ms = now + delay;
  ++local_root_.restarts;
  logLine("local root process (pid %d) %s; restarting in %lld ms (the cache keeps what it loaded)",
          static_cast<int>(pid), describeStatus(status).c_str(), static_cast<long long>(delay));
  return true;
}

void Supervisor::restartLocalRootIfDue(int64_t now_ms) {
  if (local_root_.pid == 0 && local_root_.restart_at_ms >= 0 && now_ms >= local_root_.restart_at_ms) {
    startLocalRoot();
  }
}

void Supervisor::stopLocalRoot() {
  if (local_root_.pid != 0) kill(local_root_.pid, SIGTERM);
  local_root_.restart_at_ms = -1;
}

void Supervisor::reconfigureLocalRoot(const config::Config& old) {
  const auto& now = loaded_.config;
  const bool same = old.local_root == now.local_root && old.resolver == now.resolver &&
                    old.dnssec == now.dnssec && old.cache.min_ttl == now.cache.min_ttl &&
                    old.cache.max_ttl == now.cache.max_ttl &&
                    old.cache.max_negative_ttl == now.cache.max_negative_ttl;
  if (same) return;
  // A new process with the new settings (and root hints and anchors, read
  // again by the reload); what the old one loaded stays in the cache.
  if (local_root_.pid != 0) {
    logLine("reload: restarting the local root process with the new settings");
    kill(local_root_.pid, SIGTERM);
    // Not a crash: reap() starts the new one after the shortest backoff.
    local_root_.deaths = 0;
    local_root_.started_ms = monotonicMs() - kShortLifeMs;
  } else if (now.local_root.enabled) {
    startLocalRoot();
  } else {
    local_root_.restart_at_ms = -1;
  }
  if (!now.local_root.enabled) local_root_.status.clear();
}

json Supervisor::localRootJson() const {
  if (!loaded_.config.local_root.enabled) return {{"state", "disabled"}};
  json out = json::parse(local_root_.status, nullptr, false);
  if (!out.is_object()) out = {{"state", "loading"}};
  const int64_t now = worker::wallS();
  const auto loaded = out.find("loaded_at");
  const int64_t loaded_at =
      loaded != out.end() && loaded->is_number_integer() ? loaded->get<int64_t>() : 0;
  out["age_s"] = loaded_at > 0 ? json(std::max<int64_t>(now - loaded_at, 0)) : json(nullptr);
  out["pid"] = local_root_.pid;
  out["restarts"] = local_root_.restarts;
  return out;
}

}  // namespace shoal::supervisor
