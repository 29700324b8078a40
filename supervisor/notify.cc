#include "supervisor/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/log.h"

namespace shoal::supervisor {
namespace {

/// sd_notify returns 0 when NOTIFY_SOCKET is unset (nothing to do) and a
/// negative errno when sending failed: worth a log line, never fatal.
void send(const std::string& message) {
  const int rc = sd_notify(0, message.c_str());
  if (rc < 0) base::logWarning("sd_notify: %s", std::strerror(-rc));
}

/// STATUS is one line: newlines would start a new assignment.
std::string statusAssignment(const std::string& status) {
  std::string line = status;
  std::replace(line.begin(), line.end(), '\n', ' ');
  return "STATUS=" + line;
}

}  // namespace

void notifyReady(const std::string& status) { send("READY=1\n" + statusAssignment(status)); }

void notifyReloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u +
                        static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void notifyStopping() { send("STOPPING=1\nSTATUS=stopping"); }

void notifyStatus(const std::string& status) { send(statusAssignment(status)); }

Watchdog Watchdog::fromEnvironment() {
  Watchdog watchdog;
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is us.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog.interval_ms_ = std::max<int64_t>(1, static_cast<int64_t>(usec / 2000));
    base::logLine("systemd watchdog: %llu ms, pinging every %lld ms",
                  static_cast<unsigned long long>(usec / 1000),
                  static_cast<long long>(watchdog.interval_ms_));
  }
  return watchdog;
}

int64_t Watchdog::msUntilDue(int64_t now_ms) const {
  if (!enabled()) return -1;
  return std::max<int64_t>(0, next_ms_ - now_ms);
}

void Watchdog::pingIfDue(int64_t now_ms) {
  if (!enabled() || now_ms < next_ms_) return;
  send("WATCHDOG=1");
  next_ms_ = now_ms + interval_ms_;
}

}  // namespace shoal::supervisor
