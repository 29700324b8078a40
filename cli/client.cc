#include "cli/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "cli/fd.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;

int msLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::string timeoutText(const std::string& path, int timeout_ms) {
  return "no answer from shoal on " + path + " within " + std::to_string(timeout_ms / 1000) +
         " s";
}

void connectTo(int fd, const std::string& path, int timeout_ms) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    throw ClientError("control socket path too long (" + std::to_string(path.size()) +
                      " bytes): " + path);
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  // A Unix socket's connect() waits for room in the listen backlog at most
  // SO_SNDTIMEO.
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) return;
  const int error = errno;
  if (error == EACCES || error == EPERM) {
    throw ClientError("permission denied on " + path +
                      ": you must be root or in the control group");
  }
  if (error == EAGAIN || error == ETIMEDOUT) throw ClientError(timeoutText(path, timeout_ms));
  std::string text = "cannot connect to " + path + ": " + std::strerror(error);
  if (error == ECONNREFUSED || error == ENOENT) text += "; is shoal running?";
  throw ClientError(text);
}

// Sends the request; a peer that closed early (it refused us and said why)
// is not an error here: the answer is read next.
void sendAll(int fd, const std::string& data, const std::string& path) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return;
    if (n < 0) throw ClientError("sending to " + path + ": " + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
}

std::string readAnswer(int fd, const std::string& path, Clock::time_point deadline,
                       int timeout_ms) {
  std::string answer;
  char buffer[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, msLeft(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw ClientError("waiting for shoal on " + path + ": " + std::strerror(errno));
    if (ready == 0) throw ClientError(timeoutText(path, timeout_ms));
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != ECONNRESET) {
      throw ClientError("reading from " + path + ": " + std::strerror(errno));
    }
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
    if (const size_t end = answer.find('\n'); end != std::string::npos) {
      answer.resize(end);
      return answer;
    }
    if (answer.size() > kMaxAnswer) throw ClientError("the answer from shoal is too long");
  }
  if (answer.empty()) throw ClientError("shoal closed the connection on " + path +
                                        " without answering");
  return answer;
}

}  // namespace

std::string exchange(const std::string& path, const std::string& request, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw ClientError(std::string("socket: ") + std::strerror(errno));
  connectTo(fd.get(), path, timeout_ms);
  sendAll(fd.get(), request + "\n", path);
  return readAnswer(fd.get(), path, deadline, timeout_ms);
}

}  // namespace shoal::cli
