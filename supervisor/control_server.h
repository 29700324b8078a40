#pragma once
// The supervisor's end of the control socket (protocol: control/protocol.h).
//
// A Unix stream socket, mode 0660, group control.group. Each connection's
// peer is checked with SO_PEERCRED / SO_PEERGROUPS when it is accepted:
// root, the supervisor's own user and members of the group are served;
// anyone else gets one "permission denied" answer. Requests are read
// without blocking in the supervisor's poll loop; a request is handed to
// the handler, which answers at once or later (reload, restart, upgrade
// answer when done) through answer().

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shoal::supervisor {

class ControlServer {
 public:
  /// Gets a connection id and the request line (not yet parsed).
  using Handler = std::function<void(uint64_t id, const std::string& request)>;

  explicit ControlServer(Handler handler) : handler_(std::move(handler)) {}
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Binds `path` (replacing a stale socket file; creating its directory
  /// if missing) and sets its owner group and mode. `group_name` empty:
  /// only root and our own user. Throws StartupError.
  void listen(const std::string& path, const std::string& group_name);
  /// Takes over a listening socket inherited across an upgrade.
  void adopt(int fd, const std::string& path, const std::string& group_name);
  /// Closes the listening socket and removes the file (not the connections).
  void close();
  /// In a forked worker: closes every descriptor, removes nothing.
  void closeInChild();

  /// The listening descriptor (-1: none), for the upgrade hand-over.
  int listenFd() const { return listen_fd_; }
  const std::string& path() const { return path_; }
  const std::string& group() const { return group_name_; }

  /// Poll entries for the listener and every connection.
  void addPollFds(std::vector<pollfd>& fds) const;
  /// Accepts, reads and writes whatever the poll reported ready.
  void onPoll(const std::vector<pollfd>& fds);
  /// Closes connections that sent no whole request within kRequestTimeoutMs
  /// (`now_ms`: monotonic), so that idle clients cannot use up the slots.
  void sweep(int64_t now_ms);

  /// Sends `line` (one JSON object, no newline) on connection `id` and
  /// closes it once written. Ignored if the client has gone.
  void answer(uint64_t id, const std::string& line);
  /// Detaches connection `id` and returns its descriptor (CLOEXEC cleared),
  /// for an upgrade that answers it from the new image; -1 if gone.
  int release(uint64_t id);
  /// Adopts a connection inherited across an upgrade; returns its id.
  uint64_t adoptConnection(int fd);

 private:
  struct Connection {
    int fd = -1;
    int64_t opened_ms = 0;  // monotonic
    std::string in;
    std::string out;
    std::string refusal;  // not allowed: answered this once the request is read
    bool handed = false;  // the request went to the handler
    bool closing = false;  // close once `out` is written
  };

  void accept();
  void read(uint64_t id, Connection& conn);
  void write(Connection& conn);
  bool allowed(int fd, std::string& refusal) const;
  void setGroup(const std::string& group_name);

  Handler handler_;
  int listen_fd_ = -1;
  std::string path_;
  std::string group_name_;
  gid_t group_ = static_cast<gid_t>(-1);
  std::map<uint64_t, Connection> connections_;
  uint64_t next_id_ = 1;
};

}  // namespace shoal::supervisor
