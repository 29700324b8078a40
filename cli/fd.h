#pragma once
// A file descriptor owned by one object and closed with it (the control
// socket's client, the probe's sockets). Movable, not copyable.

#include <unistd.h>

#include <utility>

namespace shoal::cli {

class Fd {
 public:
  /// Owns `fd`; -1 owns nothing.
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace shoal::cli
