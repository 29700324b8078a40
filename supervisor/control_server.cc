#include "supervisor/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/ownership.h"
#include "control/protocol.h"
#include "supervisor/load.h"
#include "supervisor/util.h"

namespace shoal::supervisor {
namespace {

using base::logLine;
using base::logWarning;

constexpr int kMaxConnections = 64;
/// A client has this long to send its request line.
constexpr int64_t kRequestTimeoutMs = 10'000;

/// The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13).
std::vector<gid_t> peerGroups(int fd) {
  std::vector<gid_t> groups(64);
  socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) != 0) {
    if (errno != ERANGE) return {};
    groups.resize(length / sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) != 0) return {};
  }
  groups.resize(length / sizeof(gid_t));
  return groups;
}

}  // namespace

ControlServer::~ControlServer() {
  close();
  for (auto& [id, conn] : connections_) ::close(conn.fd);
}

void ControlServer::setGroup(const std::string& group_name) {
  group_name_ = group_name;
  group_ = static_cast<gid_t>(-1);
  if (group_name.empty()) return;
  const auto gid = groupId(group_name);
  if (!gid) throw StartupError("control.group: no such group \"" + group_name + "\"");
  group_ = *gid;
}

void ControlServer::listen(const std::string& path, const std::string& group_name) {
  const gid_t old_group = group_;
  const std::string old_group_name = group_name_;
  try {
    setGroup(group_name);
  } catch (...) {
    group_ = old_group;
    group_name_ = old_group_name;
    throw;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) throw StartupError("control socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  // systemd's RuntimeDirectory= makes /run/shoal; by hand, make it here.
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      throw StartupError("control socket directory " + dir + ": " + std::strerror(errno));
    }
  }
  // Bind a temporary name and rename it into place: the old socket (a
  // reload that changes the group) serves until the new one replaces it.
  const std::string temporary = path + ".new";
  unlink(temporary.c_str());
  if (temporary.size() >= sizeof address.sun_path) {
    throw StartupError("control socket " + path + ": too long (it needs 4 bytes to spare)");
  }
  std::memcpy(address.sun_path, temporary.c_str(), temporary.size() + 1);
  // We hold the instance lock, so a socket file left here is stale.
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw StartupError("control socket " + path + " exists and is not a socket");
    }
    // Someone else's socket there would take shoalctl's commands.
    if (st.st_uid != geteuid()) {
      throw StartupError("control socket " + path + " exists and is not shoal's: " +
                         base::untrustedBecause(st) + "; remove it");
    }
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw StartupError(std::string("control socket: ") + std::strerror(errno));
  // Nobody else may connect between bind and chmod: bind under a tight umask.
  const mode_t old_mask = umask(0177);
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  umask(old_mask);
  const auto fail = [&](const std::string& what) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    unlink(temporary.c_str());
    group_ = old_group;
    group_name_ = old_group_name;
    throw StartupError("control socket " + path + ": " + what + why);
  };
  if (bound != 0 || ::listen(fd, 16) != 0) fail("");
  if (group_ != static_cast<gid_t>(-1) &&
      chown(temporary.c_str(), static_cast<uid_t>(-1), group_) != 0) {
    fail("setting group " + group_name + ": ");
  }
  if (chmod(temporary.c_str(), group_ != static_cast<gid_t>(-1) ? 0660 : 0600) != 0) {
    fail("chmod: ");
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) fail("rename: ");
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    if (path_ != path) unlink(path_.c_str());
  }
  listen_fd_ = fd;
  path_ = path;
  logLine("control socket %s (group %s)", path.c_str(),
          group_name.empty() ? "none: root and our user only" : group_name.c_str());
}

void ControlServer::adopt(int fd, const std::string& path, const std::string& group_name) {
  setGroup(group_name);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  listen_fd_ = fd;
  path_ = path;
}

void ControlServer::close() {
  if (listen_fd_ < 0) return;
  ::close(listen_fd_);
  listen_fd_ = -1;
  unlink(path_.c_str());
}

void ControlServer::closeInChild() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  for (auto& [id, conn] : connections_) ::close(conn.fd);
  connections_.clear();
}

void ControlServer::addPollFds(std::vector<pollfd>& fds) const {
  if (listen_fd_ >= 0) fds.push_back({listen_fd_, POLLIN, 0});
  for (const auto& [id, conn] : connections_) {
    short events = 0;
    if (!conn.handed) events |= POLLIN;
    if (!conn.out.empty()) events |= POLLOUT;
    fds.push_back({conn.fd, events, 0});
  }
}

void ControlServer::onPoll(const std::vector<pollfd>& fds) {
  for (const pollfd& p : fds) {
    if (p.revents == 0) continue;
    if (p.fd == listen_fd_) {
      accept();
      continue;
    }
    const auto it = std::find_if(connections_.begin(), connections_.end(),
                                 [&p](const auto& entry) { return entry.second.fd == p.fd; });
    if (it == connections_.end()) continue;
    if ((p.revents & POLLOUT) != 0) write(it->second);
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !it->second.handed) {
      read(it->first, it->second);
    }
  }
  // Drop the connections that are done.
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->second.closing && it->second.out.empty()) {
      ::close(it->second.fd);
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void ControlServer::sweep(int64_t now_ms) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (!it->second.handed && now_ms - it->second.opened_ms > kRequestTimeoutMs) {
      ::close(it->second.fd);
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void ControlServer::accept() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error the next poll shows again
    if (connections_.size() >= kMaxConnections) {
      ::close(fd);
      continue;
    }
    Connection conn;
    conn.fd = fd;
    conn.opened_ms = monotonicMs();
    std::string refusal;
    if (!allowed(fd, refusal)) {
      // Answered once its request is read: closing with unread data would
      // reset the connection before the client reads why.
      logWarning("control: refused %s", refusal.c_str());
      conn.refusal = "permission denied: " + refusal;
    }
    connections_.emplace(next_id_++, std::move(conn));
  }
}

bool ControlServer::allowed(int fd, std::string& refusal) const {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    refusal = "cannot read the peer's credentials";
    return false;
  }
  if (cred.uid == 0 || cred.uid == geteuid()) return true;
  if (group_ != static_cast<gid_t>(-1)) {
    if (cred.gid == group_) return true;
    for (const gid_t g : peerGroups(fd)) {
      if (g == group_) return true;
    }
  }
  refusal = "uid " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) +
            ") is neither root, shoal's user, nor in the control group" +
            (group_name_.empty() ? std::string(" (control.group is not set)")
                                 : " " + group_name_);
  return false;
}

void ControlServer::read(uint64_t id, Connection& conn) {
  char buffer[1024];
  for (;;) {
    const ssize_t n = ::read(conn.fd, buffer, sizeof buffer);
    if (n > 0) {
      conn.in.append(buffer, static_cast<size_t>(n));
      const auto newline = conn.in.find('\n');
      if (newline != std::string::npos) {
        conn.handed = true;
        const std::string request = conn.in.substr(0, newline);
        conn.in.clear();
        if (!conn.refusal.empty()) {
          answer(id, failureAnswer(conn.refusal));
          return;
        }
        handler_(id, request);  // may call answer() at once
        return;
      }
      if (conn.in.size() > control::kMaxRequest) {
        conn.handed = true;
        answer(id, failureAnswer("request longer than " + std::to_string(control::kMaxRequest) +
                             " bytes"));
        return;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // End of file or error before a whole request: nothing to answer.
    conn.handed = true;
    conn.closing = true;
    return;
  }
}

void ControlServer::write(Connection& conn) {
  while (!conn.out.empty()) {
    const ssize_t n = send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      conn.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EAGAIN) return;
    conn.out.clear();  // the client went away
    conn.closing = true;
    return;
  }
}

void ControlServer::answer(uint64_t id, const std::string& line) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  it->second.out += line + "\n";
  it->second.closing = true;
  write(it->second);
  if (it->second.out.empty()) {
    ::close(it->second.fd);
    connections_.erase(it);
  }
}

int ControlServer::release(uint64_t id) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return -1;
  const int fd = it->second.fd;
  connections_.erase(it);
  fcntl(fd, F_SETFD, 0);
  return fd;
}

uint64_t ControlServer::adoptConnection(int fd) {
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  Connection conn;
  conn.fd = fd;
  conn.handed = true;
  const uint64_t id = next_id_++;
  connections_.emplace(id, std::move(conn));
  return id;
}

}  // namespace shoal::supervisor
