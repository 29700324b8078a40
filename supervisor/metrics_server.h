#pragma once
// The supervisor's Prometheus endpoint ([metrics] listen): HTTP/1.1, GET
// or HEAD /metrics, answered with the page renderMetrics() gives
// (stats/prometheus.h) and the connection closed. Served from the
// supervisor's poll loop like the control socket: a scrape reads the stats
// segment and the cache's server entries, and asks the workers nothing.
//
// Written here rather than with an HTTP library: one request shape, one
// response, no keep-alive, and it must live in the supervisor's own poll
// loop (libmicrohttpd would bring threads into the process that forks the
// workers). Bounded against any client: at most kMaxConnections at once
// (more are closed at once), a request head of at most kMaxRequest octets,
// kTimeoutMs to send it and read the answer; anything else than GET or
// HEAD /metrics gets 404, 405 or 400.

#include <poll.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_prefix.h"

namespace shoal::supervisor {

/// What a request head asks for (pure; for tests and the fuzzer).
struct HttpRequest {
  int status = 400;  // 200: serve the metrics; else the error to answer
  bool head = false;  // HEAD: the headers only
};
/// Parses a request head (up to and without the blank line).
HttpRequest parseHttpRequest(std::string_view head);
/// A whole response: status line, headers, and `body` unless `head_only`.
std::string httpResponse(int status, std::string_view body, bool head_only);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  static constexpr size_t kMaxConnections = 16;
  static constexpr size_t kMaxRequest = 8192;
  static constexpr int64_t kTimeoutMs = 5000;

  explicit MetricsServer(Render render) : render_(std::move(render)) {}
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  /// Listens on every address (replacing what it listened on). Throws
  /// StartupError naming the address that failed; nothing changes then.
  void listen(const std::vector<base::SocketAddress>& addresses);
  /// Closes the listeners and the connections.
  void close();
  /// In a forked child: closes every descriptor.
  void closeInChild();
  const std::vector<base::SocketAddress>& addresses() const { return addresses_; }
  uint64_t scrapes() const { return scrapes_; }

  void addPollFds(std::vector<pollfd>& fds) const;
  void onPoll(const std::vector<pollfd>& fds, int64_t now_ms);
  /// Closes connections older than kTimeoutMs (`now_ms`: monotonic).
  void sweep(int64_t now_ms);

 private:
  struct Connection {
    int fd = -1;
    int64_t opened_ms = 0;
    std::string in;
    std::string out;
    size_t written = 0;
    bool answered = false;
    /// Answered and shut for writing: what the client still sends is read
    /// and dropped until it closes (closing with unread input would reset
    /// the connection, and the client might lose the answer).
    bool draining = false;
  };
  void accept(int listener, int64_t now_ms);
  void read(Connection& conn);
  void write(Connection& conn);
  void drain(Connection& conn);
  void drop(size_t index);

  Render render_;
  std::vector<int> listeners_;
  std::vector<base::SocketAddress> addresses_;
  std::vector<Connection> connections_;
  uint64_t scrapes_ = 0;
};

}  // namespace shoal::supervisor
