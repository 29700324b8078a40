#pragma once
// Signals read from a file descriptor instead of handled: the given signals
// are blocked and delivered to a signalfd that a poll loop watches (top,
// probe). No handler, no global; the signal mask is restored on
// destruction.

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace shoal::cli {

class SignalFd {
 public:
  /// Blocks `signals` and opens a non-blocking signalfd for them. Throws
  /// std::runtime_error when either fails.
  explicit SignalFd(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (const int s : signals) sigaddset(&set, s);
    if (sigprocmask(SIG_BLOCK, &set, &old_) != 0) throw std::runtime_error("sigprocmask failed");
    fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd_ < 0) {
      const int error = errno;
      sigprocmask(SIG_SETMASK, &old_, nullptr);
      throw std::runtime_error(std::string("signalfd: ") + std::strerror(error));
    }
  }
  ~SignalFd() {
    close(fd_);
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  int fd() const { return fd_; }
  /// The signal read, or 0 when none is pending.
  int read() const {
    signalfd_siginfo info{};
    const ssize_t n = ::read(fd_, &info, sizeof(info));
    return n == static_cast<ssize_t>(sizeof(info)) ? static_cast<int>(info.ssi_signo) : 0;
  }

 private:
  int fd_ = -1;
  sigset_t old_{};
};

}  // namespace shoal::cli
