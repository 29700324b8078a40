#include "supervisor/metrics_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/sockaddr.h"
#include "supervisor/load.h"

namespace shoal::supervisor {
namespace {

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

}  // namespace

HttpRequest parseHttpRequest(std::string_view head) {
  HttpRequest r;
  const size_t end = head.find_first_of("\r\n");
  const std::string_view line = head.substr(0, end);
  // METHOD SP TARGET SP HTTP/1.x
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return r;
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return r;
  if (const size_t query = target.find('?'); query != std::string_view::npos) {
    target = target.substr(0, query);  // Prometheus may add parameters
  }
  if (target != "/metrics") {
    r.status = 404;
    return r;
  }
  if (method != "GET" && method != "HEAD") {
    r.status = 405;
    return r;
  }
  r.head = method == "HEAD";
  r.status = 200;
  return r;
}

std::string httpResponse(int status, std::string_view body, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  out += status == 200 ? "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                       : "Content-Type: text/plain; charset=utf-8\r\n";
  if (status == 405) out += "Allow: GET, HEAD\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

MetricsServer::~MetricsServer() { close(); }

void MetricsServer::listen(const std::vector<base::SocketAddress>& addresses) {
  // Addresses listened on already keep their socket (a reload that keeps
  // them must not fail to bind them again); the new ones are bound first,
  // so that a failure changes nothing.
  std::vector<int> kept(addresses.size(), -1);
  for (size_t i = 0; i < addresses.size(); ++i) {
    for (size_t j = 0; j < addresses_.size(); ++j) {
      if (addresses_[j] == addresses[i]) kept[i] = listeners_[j];
    }
  }
  std::vector<int> opened;
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (kept[i] >= 0) continue;
    const auto& address = addresses[i];
    sockaddr_storage ss{};
    const socklen_t length = base::toSockaddr(address.ip, address.port, ss);
    const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0;
    if (ok && ss.ss_family == AF_INET6) {
      ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0;
    }
    ok = ok && bind(fd, reinterpret_cast<const sockaddr*>(&ss), length) == 0 &&
         ::listen(fd, 64) == 0;
    if (!ok) {
      const std::string error = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      for (const int o : opened) ::close(o);
      throw StartupError("metrics.listen: " + address.toString() + ": " + error);
    }
    kept[i] = fd;
    opened.push_back(fd);
  }
  for (const int fd : listeners_) {
    if (std::find(kept.begin(), kept.end(), fd) == kept.end()) ::close(fd);
  }
  listeners_ = std::move(kept);
  addresses_ = addresses;
}

void MetricsServer::close() {
  for (const int fd : listeners_) ::close(fd);
  listeners_.clear();
  addresses_.clear();
  for (auto& conn : connections_) ::close(conn.fd);
  connections_.clear();
}

void MetricsServer::closeInChild() { close(); }

void MetricsServer::addPollFds(std::vector<pollfd>& fds) const {
  for (const int fd : listeners_) fds.push_back({fd, POLLIN, 0});
  for (const auto& conn : connections_) {
    const bool out = conn.answered && !conn.draining;
    fds.push_back({conn.fd, static_cast<short>(out ? POLLOUT : POLLIN), 0});
  }
}

void MetricsServer::onPoll(const std::vector<pollfd>& fds, int64_t now_ms) {
  for (const pollfd& p : fds) {
    if (p.revents == 0) continue;
    for (const int fd : listeners_) {
      if (fd == p.fd) accept(fd, now_ms);
    }
    for (size_t i = 0; i < connections_.size(); ++i) {
      Connection& conn = connections_[i];
      if (conn.fd != p.fd) continue;
      if (conn.draining) {
        drain(conn);
      } else if (conn.answered) {
        write(conn);
      } else {
        read(conn);
      }
      if (conn.fd < 0) drop(i);
      break;
    }
  }
}

void MetricsServer::accept(int listener, int64_t now_ms) {
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= kMaxConnections) {
      // Full: the oldest connection still sending its request goes (a slow
      // or idle client must not keep scrapes out); if all are being
      // answered, the new one is refused.
      size_t oldest = connections_.size();
      for (size_t i = 0; i < connections_.size(); ++i) {
        if (!connections_[i].answered &&
            (oldest == connections_.size() || connections_[i].opened_ms < connections_[oldest].opened_ms)) {
          oldest = i;
        }
      }
      if (oldest == connections_.size()) {
        ::close(fd);
        continue;
      }
      ::close(connections_[oldest].fd);
      drop(oldest);
    }
    Connection conn;
    conn.fd = fd;
    conn.opened_ms = now_ms;
    connections_.push_back(std::move(conn));
  }
}

void MetricsServer::read(Connection& conn) {
  char buf[2048];
  bool eof = false;
  for (;;) {
    const ssize_t n = recv(conn.fd, buf, sizeof buf, 0);
    if (n == 0) {
      eof = true;  // the client shut its side: answer what came, if whole
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      ::close(conn.fd);
      conn.fd = -1;
      return;
    }
    conn.in.append(buf, static_cast<size_t>(n));
    if (conn.in.size() > kMaxRequest) break;
  }
  size_t end = conn.in.find("\r\n\r\n");
  if (end == std::string::npos) end = conn.in.find("\n\n");
  if (end == std::string::npos && conn.in.size() <= kMaxRequest) {
    if (eof) {  // it will never be whole
      ::close(conn.fd);
      conn.fd = -1;
    }
    return;  // more to come
  }
  HttpRequest request;
  if (end == std::string::npos) {
    request.status = 431;
  } else {
    request = parseHttpRequest(std::string_view(conn.in).substr(0, end));
  }
  if (request.status == 200) {
    ++scrapes_;
    conn.out = httpResponse(200, render_(), request.head);
  } else {
    conn.out = httpResponse(request.status, std::string(reason(request.status)) + "\n", request.head);
  }
  conn.in.clear();
  conn.answered = true;
  write(conn);
}

void MetricsServer::write(Connection& conn) {
  while (conn.written < conn.out.size()) {
    const ssize_t n = send(conn.fd, conn.out.data() + conn.written, conn.out.size() - conn.written,
                           MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      break;
    }
    conn.written += static_cast<size_t>(n);
  }
  if (conn.written == conn.out.size() && shutdown(conn.fd, SHUT_WR) == 0) {
    conn.draining = true;
    conn.out.clear();
    drain(conn);
    return;
  }
  ::close(conn.fd);
  conn.fd = -1;
}

void MetricsServer::drain(Connection& conn) {
  char buf[2048];
  for (;;) {
    const ssize_t n = recv(conn.fd, buf, sizeof buf, 0);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    break;  // the client closed (or failed): done
  }
  ::close(conn.fd);
  conn.fd = -1;
}

void MetricsServer::drop(size_t index) {
  connections_.erase(connections_.begin() + static_cast<std::ptrdiff_t>(index));
}

void MetricsServer::sweep(int64_t now_ms) {
  for (size_t i = connections_.size(); i-- > 0;) {
    if (now_ms - connections_[i].opened_ms >= kTimeoutMs) {
      ::close(connections_[i].fd);
      drop(i);
    }
  }
}

}  // namespace shoal::supervisor
