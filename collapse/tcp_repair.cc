#include "collapse/tcp_repair.h"

#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <linux/sockios.h>

namespace shoal::collapse {
namespace {

bool fail(std::string* error, const char* what) {
  if (error != nullptr) *error = std::string(what) + ": " + std::strerror(errno);
  return false;
}

bool setInt(int fd, int option, int value) {
  return setsockopt(fd, IPPROTO_TCP, option, &value, sizeof value) == 0;
}

bool getU32(int fd, int option, uint32_t* value) {
  socklen_t length = sizeof *value;
  return getsockopt(fd, IPPROTO_TCP, option, value, &length) == 0 && length == sizeof *value;
}

bool queueSeq(int fd, int queue, uint32_t* seq) {
  return setInt(fd, TCP_REPAIR_QUEUE, queue) && getU32(fd, TCP_QUEUE_SEQ, seq);
}

}  // namespace

bool repairAllowed(std::string* error) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(error, "socket");
  const bool ok = setInt(fd, TCP_REPAIR, TCP_REPAIR_ON);
  if (!ok) fail(error, "TCP_REPAIR (needs CAP_NET_ADMIN)");
  ::close(fd);
  return ok;
}

std::optional<RepairState> saveIdle(int fd, std::string* error) {
  tcp_info info{};
  socklen_t info_length = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_length) != 0) {
    fail(error, "TCP_INFO");
    return std::nullopt;
  }
  int unread = 0;
  int unsent = 0;
  if (ioctl(fd, SIOCINQ, &unread) != 0 || ioctl(fd, SIOCOUTQ, &unsent) != 0) {
    fail(error, "SIOCINQ/SIOCOUTQ");
    return std::nullopt;
  }
  if (info.tcpi_state != TCP_ESTABLISHED || unread != 0 || unsent != 0 || info.tcpi_unacked != 0) {
    if (error != nullptr) *error = "not idle";
    return std::nullopt;
  }
  if (!setInt(fd, TCP_REPAIR, TCP_REPAIR_ON)) {
    fail(error, "TCP_REPAIR");
    return std::nullopt;
  }
  RepairState state;
  socklen_t window_length = sizeof state.window;
  uint32_t mss = 0;
  const bool ok =
      queueSeq(fd, TCP_SEND_QUEUE, &state.send_seq) &&
      queueSeq(fd, TCP_RECV_QUEUE, &state.receive_seq) && getU32(fd, TCP_MAXSEG, &mss) &&
      getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &state.window, &window_length) == 0 &&
      ((info.tcpi_options & TCPI_OPT_TIMESTAMPS) == 0 ||
       getU32(fd, TCP_TIMESTAMP, &state.timestamp));
  if (!ok) {
    fail(error, "reading the connection's state");
    setInt(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
    return std::nullopt;
  }
  state.mss = static_cast<uint16_t>(mss);
  if ((info.tcpi_options & TCPI_OPT_SACK) != 0) state.options |= RepairState::kSack;
  if ((info.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0) state.options |= RepairState::kTimestamps;
  if ((info.tcpi_options & TCPI_OPT_WSCALE) != 0) {
    state.options |= RepairState::kWindowScale;
    state.send_wscale = info.tcpi_snd_wscale;
    state.receive_wscale = info.tcpi_rcv_wscale;
  }
  return state;
}

bool leaveRepair(int fd) { return setInt(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP); }

int restore(const ConnTuple& tuple, const RepairState& state, uint32_t elapsed_ms,
            std::string* error) {
  const int fd = socket(tuple.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail(error, "socket");
    return -1;
  }
  auto bail = [&](const char* what) {
    fail(error, what);
    ::close(fd);
    return -1;
  };
  // In repair mode the kernel lets the socket bind the listener's address
  // and port (it forces address reuse) and connect without a handshake.
  if (!setInt(fd, TCP_REPAIR, TCP_REPAIR_ON)) return bail("TCP_REPAIR");
  sockaddr_storage local{};
  sockaddr_storage remote{};
  const socklen_t local_length = tuple.localAddress(local);
  const socklen_t remote_length = tuple.remoteAddress(remote);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local), local_length) != 0) return bail("bind");
  if (!setInt(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) ||
      !setInt(fd, TCP_QUEUE_SEQ, static_cast<int>(state.send_seq)) ||
      !setInt(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) ||
      !setInt(fd, TCP_QUEUE_SEQ, static_cast<int>(state.receive_seq))) {
    return bail("TCP_QUEUE_SEQ");
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&remote), remote_length) != 0) {
    return bail("connect");
  }
  tcp_repair_opt options[4];
  unsigned count = 0;
  options[count++] = {TCPOPT_MAXSEG, state.mss};
  if ((state.options & RepairState::kWindowScale) != 0) {
    options[count++] = {TCPOPT_WINDOW, static_cast<uint32_t>(state.send_wscale) |
                                           static_cast<uint32_t>(state.receive_wscale) << 16};
  }
  if ((state.options & RepairState::kSack) != 0) options[count++] = {TCPOPT_SACK_PERMITTED, 0};
  if ((state.options & RepairState::kTimestamps) != 0) options[count++] = {TCPOPT_TIMESTAMP, 0};
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, options,
                 static_cast<socklen_t>(count * sizeof options[0])) != 0) {
    return bail("TCP_REPAIR_OPTIONS");
  }
  // Our timestamps must not go back (the client's PAWS check): the clock
  // resumes where it was plus the time spent collapsed.
  if ((state.options & RepairState::kTimestamps) != 0 &&
      !setInt(fd, TCP_TIMESTAMP, static_cast<int>(state.timestamp + elapsed_ms))) {
    return bail("TCP_TIMESTAMP");
  }
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &state.window, sizeof state.window) != 0) {
    return bail("TCP_REPAIR_WINDOW");
  }
  // Out of repair mode without a window probe: the segment that woke the
  // connection is delivered next and acknowledged as usual.
  if (!setInt(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP)) return bail("TCP_REPAIR off");
  return fd;
}

}  // namespace shoal::collapse
