#pragma once
// systemd service notifications (sd_notify(3)) for the supervisor: READY,
// STATUS, STOPPING and the watchdog keep-alive. Every call is a no-op when
// systemd did not ask for notifications (NOTIFY_SOCKET unset), so shoal
// behaves the same in a terminal, under a test and under systemd. Only the
// supervisor calls these: workers inherit the environment but never notify
// (systemd accepts messages from the main pid only, NotifyAccess=main).

#include <cstdint>
#include <string>

namespace shoal::supervisor {

/// READY=1 with a STATUS line: the service is up (sockets open, workers forked).
void notifyReady(const std::string& status);

/// STOPPING=1: a graceful stop has begun.
void notifyStopping();

/// RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload wants); a
/// READY=1 must follow when the reload is over.
void notifyReloading();

/// STATUS=text: shown by `systemctl status`.
void notifyStatus(const std::string& status);

/// The watchdog as systemd configured it (WatchdogSec=, i.e. WATCHDOG_USEC and
/// WATCHDOG_PID). Plain value, no global state: the supervisor's loop owns it.
class Watchdog {
 public:
  /// Reads the environment once; disabled when systemd does not watch this pid.
  static Watchdog fromEnvironment();

  bool enabled() const { return interval_ms_ > 0; }
  /// Ping interval: half of what systemd waits for, as sd_watchdog_enabled(3) advises.
  int64_t intervalMs() const { return interval_ms_; }

  /// Milliseconds until the next ping is due (0: now), or -1 when disabled.
  int64_t msUntilDue(int64_t now_ms) const;

  /// Sends WATCHDOG=1 when a ping is due at `now_ms` (monotonic).
  void pingIfDue(int64_t now_ms);

 private:
  int64_t interval_ms_ = 0;
  int64_t next_ms_ = 0;
};

}  // namespace shoal::supervisor
