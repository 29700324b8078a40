#include "localroot/transfer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "base/sockaddr.h"
#include "dns/constants.h"

namespace shoal::localroot {

namespace {

int64_t monotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

/// A query ID nobody on the path can guess (RFC 5452 section 9.2).
uint16_t randomId() {
  uint16_t id = 0;
  if (getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) {
    id = static_cast<uint16_t>(monotonicMs() ^ getpid());
  }
  return id;
}

/// One TCP connection to a source, with the exchange's deadline. Errors
/// are texts for the log; a failed step leaves error() set.
class Connection {
 public:
  Connection(const TransferOptions& options) : options_(options) {
    deadline_ms_ = monotonicMs() + options.deadline_ms;
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool open(const base::SocketAddress& server) {
    const auto& source = server.ip.isV4() ? options_.source_v4 : options_.source_v6;
    fd_ = socket(server.ip.isV4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 0);
    if (fd_ < 0) return failErrno("socket");
    sockaddr_storage address{};
    if (source) {
      const socklen_t length = base::toSockaddr(*source, 0, address);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0) return failErrno("bind");
    }
    const socklen_t length = base::toSockaddr(server.ip, server.port, address);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
      return failErrno("connect");
    }
    if (!wait(POLLOUT, "connect")) return false;
    int so_error = 0;
    socklen_t so_length = sizeof so_error;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &so_length);
    if (so_error != 0) {
      error_ = std::string("connect: ") + std::strerror(so_error);
      return false;
    }
    return true;
  }

  /// Sends one message with its two-octet length (RFC 1035 section 4.2.2).
  bool send(const std::vector<uint8_t>& message) {
    std::vector<uint8_t> framed{static_cast<uint8_t>(message.size() >> 8),
                                static_cast<uint8_t>(message.size())};
    framed.insert(framed.end(), message.begin(), message.end());
    size_t sent = 0;
    while (sent < framed.size()) {
      const ssize_t n = ::send(fd_, framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return failErrno("send");
      } else if (!wait(POLLOUT, "send")) {
        return false;
      }
    }
    return true;
  }

  /// The next message, or nothing (error() says why; "closed" at EOF).
  std::optional<std::vector<uint8_t>> receive() {
    uint8_t prefix[2];
    if (!readExactly(prefix, 2)) return std::nullopt;
    std::vector<uint8_t> message(static_cast<size_t>(prefix[0]) << 8 | prefix[1]);
    if (!readExactly(message.data(), message.size())) return std::nullopt;
    return message;
  }

  const std::string& error() const { return error_; }

 private:
  bool readExactly(uint8_t* out, size_t length) {
    size_t got = 0;
    while (got < length) {
      const ssize_t n = recv(fd_, out + got, length - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
      } else if (n == 0) {
        error_ = "the server closed the connection";
        return false;
      } else if (errno != EAGAIN && errno != EINTR) {
        return failErrno("recv");
      } else if (!wait(POLLIN, "reply")) {
        return false;
      }
    }
    return true;
  }

  /// Waits for `events` within the timeout and the deadline.
  bool wait(short events, const char* what) {
    const int64_t left = deadline_ms_ - monotonicMs();
    if (left <= 0) return pastDeadline(what);
    pollfd pfd{fd_, events, 0};
    const int timeout = static_cast<int>(std::min<int64_t>(left, options_.timeout_ms));
    int ready;
    do {
      ready = poll(&pfd, 1, timeout);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return failErrno("poll");
    if (ready == 0) {
      if (monotonicMs() >= deadline_ms_) return pastDeadline(what);
      error_ = std::string(what) + ": timed out after " + std::to_string(timeout) + " ms";
      return false;
    }
    return true;
  }

  bool pastDeadline(const char* what) {
    error_ = std::string(what) + ": the exchange took longer than " +
             std::to_string(options_.deadline_ms) + " ms";
    return false;
  }

  bool failErrno(const char* call) {
    error_ = std::string(call) + ": " + std::strerror(errno);
    return false;
  }

  const TransferOptions& options_;
  int64_t deadline_ms_ = 0;
  int fd_ = -1;
  std::string error_;
};

}  // namespace

SerialResult querySerial(const base::SocketAddress& server, const dns::Name& apex,
                         const TransferOptions& options) {
  Connection connection(options);
  const uint16_t id = randomId();
  if (!connection.open(server) || !connection.send(buildQuery(apex, dns::rrtype::kSoa, id))) {
    return {std::nullopt, connection.error()};
  }
  auto message = connection.receive();
  if (!message) return {std::nullopt, connection.error()};
  SerialAnswer answer = readSerialAnswer(*message, apex, id);
  if (!answer.error.empty()) return {std::nullopt, std::move(answer.error)};
  return {answer.serial, {}};
}

namespace {

TransferResult fullTransfer(const base::SocketAddress& server, const dns::Name& apex,
                            const TransferOptions& options) {
  Connection connection(options);
  const uint16_t id = randomId();
  if (!connection.open(server) || !connection.send(buildQuery(apex, dns::rrtype::kAxfr, id))) {
    return {std::nullopt, connection.error(), "AXFR"};
  }
  AxfrReader reader(apex, id, options.max_bytes);
  for (;;) {
    auto message = connection.receive();
    if (!message) return {std::nullopt, connection.error(), "AXFR"};
    switch (reader.consume(*message)) {
      case AxfrReader::Step::kMore:
        continue;
      case AxfrReader::Step::kError:
        return {std::nullopt, reader.error(), "AXFR"};
      case AxfrReader::Step::kDone: {
        ZoneData zone = reader.take();
        zone.source = server.toString();
        return {std::move(zone), {}, "AXFR"};
      }
    }
  }
}

/// IXFR; `up_to_date` set when the server says `current` is its version.
TransferResult incrementalTransfer(const base::SocketAddress& server, const ZoneData& current,
                                   const TransferOptions& options, bool& up_to_date) {
  Connection connection(options);
  const uint16_t id = randomId();
  if (!connection.open(server) || !connection.send(buildIxfrQuery(current, id))) {
    return {std::nullopt, connection.error(), "IXFR"};
  }
  IxfrReader reader(current, id, options.max_bytes);
  for (;;) {
    auto message = connection.receive();
    if (!message) return {std::nullopt, connection.error(), "IXFR"};
    switch (reader.consume(*message)) {
      case IxfrReader::Step::kMore:
        continue;
      case IxfrReader::Step::kError:
        return {std::nullopt, reader.error(), "IXFR"};
      case IxfrReader::Step::kDone:
        break;
    }
    break;
  }
  if (reader.kind() == IxfrReader::Kind::kUpToDate) {
    up_to_date = true;
    return {std::nullopt,
            "its IXFR answer says serial " + std::to_string(reader.serial()) +
                " is current, not newer than the one held",
            "IXFR"};
  }
  TransferResult result{reader.take(), {}, {}, reader.kind() == IxfrReader::Kind::kIncremental};
  result.zone->source = server.toString();
  if (result.incremental) {
    const auto count = [](size_t n, const char* what) {
      return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
    };
    result.method = "IXFR (" + count(reader.steps(), "step") + ", " +
                    count(reader.deleted(), "record") + " deleted, " +
                    std::to_string(reader.added()) + " added)";
  } else {
    result.method = "IXFR answered with the whole zone";
  }
  return result;
}

}  // namespace

TransferResult transferZone(const base::SocketAddress& server, const dns::Name& apex,
                            const TransferOptions& options, const ZoneData* current) {
  if (current == nullptr || current->records.empty()) return fullTransfer(server, apex, options);
  bool up_to_date = false;
  TransferResult incremental = incrementalTransfer(server, *current, options, up_to_date);
  if (incremental.zone || up_to_date) return incremental;
  TransferResult full = fullTransfer(server, apex, options);
  full.method = "AXFR (IXFR failed: " + incremental.error + ")";
  return full;
}

}  // namespace shoal::localroot
