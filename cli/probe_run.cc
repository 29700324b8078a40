#include "cli/probe_run.h"

#include <poll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/sockaddr.h"
#include "cli/fd.h"
#include "cli/signal_fd.h"
#include "config/config.h"
#include "dns/constants.h"

namespace shoal::cli {
namespace {

using Clock = ProbeClock;

/// Descriptors kept free for everything but the queries' sockets.
constexpr uint64_t kSpareFds = 32;
/// The file limit asked for when the hard limit allows more (each query
/// in flight holds a socket).
constexpr rlim_t kWantedFds = 1u << 20;
/// The largest DNS message (TCP; a UDP datagram is at most that too).
constexpr size_t kMaxMessage = 65535;

std::string errorText(int error) { return std::strerror(error); }

uint16_t randomId() {
  uint16_t id = 0;
  for (;;) {
    const ssize_t n = getrandom(&id, sizeof(id), 0);
    if (n == static_cast<ssize_t>(sizeof(id))) return id;
    if (n < 0 && errno != EINTR) throw std::runtime_error("getrandom: " + errorText(errno));
  }
}

struct Target {
  sockaddr_storage address{};
  socklen_t length = 0;
};

// Whether the server can be asked at all: a UDP socket connected to it
// (nothing is sent) fails at once for an address of a family this host
// lacks or without a route to it.
Target reachableTarget(const base::SocketAddress& server) {
  Target target;
  target.length = base::toSockaddr(server.ip, server.port, target.address);
  const Fd fd(socket(target.address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    throw UsageError("cannot ask " + server.toString() + ": " + errorText(errno));
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&target.address), target.length) != 0) {
    throw UsageError("cannot ask " + server.toString() + ": " + errorText(errno));
  }
  return target;
}

// Each query in flight holds a socket: at most timeout / interval + 1 at
// once. Raises the soft file limit as far as needed and allowed.
void reserveSockets(const ProbePlan& plan) {
  const auto interval = std::max(plan.interval, std::chrono::microseconds(1));
  const uint64_t most =
      std::min<uint64_t>(plan.count, static_cast<uint64_t>(plan.timeout / interval) + 1);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < most + kSpareFds && limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = std::min(limit.rlim_max, std::max<rlim_t>(most + kSpareFds, kWantedFds));
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (most + kSpareFds > limit.rlim_cur) {
    throw UsageError(
        "--interval " + formatProbeDuration(plan.interval) + " with --timeout " +
        formatProbeDuration(plan.timeout) + " keeps up to " + std::to_string(most) +
        " queries in flight, each on its own socket, and this process may open " +
        std::to_string(limit.rlim_cur) + " files: use a longer --interval or a shorter --timeout");
  }
}

/// One query in flight: its socket and, over TCP, where the exchange is.
struct Query {
  enum class Stage : uint8_t { kConnecting, kWriting, kReading };
  Fd fd;
  Stage stage = Stage::kReading;
  std::vector<uint8_t> out;  // TCP: the query with its length prefix
  size_t written = 0;
  std::vector<uint8_t> in;  // TCP: what was read so far
};

/// The sockets of a ProbeSession.
class Prober {
 public:
  Prober(const ProbePlan& plan, const Target& target)
      : session_(plan, Clock::now()), target_(target), buffer_(kMaxMessage) {}

  /// Runs until the session is done or a signal arrives on `signals`.
  void run(const SignalFd& signals);
  const ProbeSession& session() const { return session_; }

 private:
  void sendNext();
  void openUdp(uint32_t seq, const std::vector<uint8_t>& wire);
  void openTcp(uint32_t seq, const std::vector<uint8_t>& wire);
  void fail(uint32_t seq, const std::string& why);
  void onUdpReady(uint32_t seq, Query& q);
  void onTcpReady(uint32_t seq, Query& q, short revents);
  void writeTcp(uint32_t seq, Query& q);
  void readTcp(uint32_t seq, Query& q);
  bool wait(const SignalFd& signals);

  ProbeSession session_;
  Target target_;
  std::map<uint32_t, Query> queries_;
  std::vector<uint8_t> buffer_;
};

void Prober::run(const SignalFd& signals) {
  while (!session_.done()) {
    for (const uint32_t seq : session_.expire(Clock::now())) queries_.erase(seq);
    while (session_.sendDue(Clock::now())) sendNext();
    if (session_.done()) break;
    if (!wait(signals)) {
      for (const uint32_t seq : session_.interrupt()) queries_.erase(seq);
    }
  }
}

void Prober::sendNext() {
  const ProbePlan& plan = session_.plan();
  const uint16_t id = randomId();
  const std::vector<uint8_t> wire = buildProbeQuery(plan.name, plan.type, id);
  // The latency counts from here: over TCP the handshake is part of it.
  const uint32_t seq = session_.sent(id, Clock::now());
  if (plan.tcp) {
    openTcp(seq, wire);
  } else {
    openUdp(seq, wire);
  }
}

void Prober::fail(uint32_t seq, const std::string& why) {
  session_.failed(seq, why);
  queries_.erase(seq);
}

void Prober::openUdp(uint32_t seq, const std::vector<uint8_t>& wire) {
  Fd fd(socket(target_.address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail(seq, errorText(errno));
  const auto* address = reinterpret_cast<const sockaddr*>(&target_.address);
  if (connect(fd.get(), address, target_.length) != 0) return fail(seq, errorText(errno));
  if (send(fd.get(), wire.data(), wire.size(), 0) < 0) return fail(seq, errorText(errno));
  queries_[seq].fd = std::move(fd);
}

void Prober::openTcp(uint32_t seq, const std::vector<uint8_t>& wire) {
  Fd fd(socket(target_.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail(seq, errorText(errno));
  Query q;
  q.out = {static_cast<uint8_t>(wire.size() >> 8), static_cast<uint8_t>(wire.size() & 0xFF)};
  q.out.insert(q.out.end(), wire.begin(), wire.end());
  q.stage = Query::Stage::kWriting;
  const auto* address = reinterpret_cast<const sockaddr*>(&target_.address);
  if (connect(fd.get(), address, target_.length) != 0) {
    if (errno != EINPROGRESS) return fail(seq, errorText(errno));
    q.stage = Query::Stage::kConnecting;
  }
  q.fd = std::move(fd);
  queries_[seq] = std::move(q);
}

// Waits for a socket, the next event of the session or a signal; false
// when a signal asks to stop.
bool Prober::wait(const SignalFd& signals) {
  std::vector<pollfd> fds{{signals.fd(), POLLIN, 0}};
  std::vector<uint32_t> seqs;
  for (const auto& [seq, q] : queries_) {
    const bool out = q.stage != Query::Stage::kReading;
    fds.push_back({q.fd.get(), static_cast<short>(out ? POLLOUT : POLLIN), 0});
    seqs.push_back(seq);
  }
  timespec timeout{};
  if (const auto next = session_.nextEvent()) {
    const auto left = std::max(Clock::duration::zero(), *next - Clock::now());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timeout.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    timeout.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  const int ready = ppoll(fds.data(), fds.size(), &timeout, nullptr);
  if (ready < 0 && errno == EINTR) return true;
  if (ready < 0) throw std::runtime_error("ppoll: " + errorText(errno));
  if (fds[0].revents != 0 && signals.read() != 0) return false;
  for (size_t i = 1; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    const auto it = queries_.find(seqs[i - 1]);
    if (it == queries_.end()) continue;
    if (session_.plan().tcp) {
      onTcpReady(it->first, it->second, fds[i].revents);
    } else {
      onUdpReady(it->first, it->second);
    }
  }
  return true;
}

void Prober::onUdpReady(uint32_t seq, Query& q) {
  for (;;) {
    const ssize_t n = recv(q.fd.get(), buffer_.data(), buffer_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // A connected UDP socket reports the ICMP error its query caused.
    if (n < 0) return fail(seq, errorText(errno));
    const std::span<const uint8_t> packet(buffer_.data(), static_cast<size_t>(n));
    if (session_.received(seq, packet, Clock::now())) {
      queries_.erase(seq);
      return;
    }
  }
}

void Prober::onTcpReady(uint32_t seq, Query& q, short revents) {
  if (q.stage == Query::Stage::kConnecting) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(q.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error != 0) return fail(seq, errorText(error));
    if ((revents & POLLOUT) == 0) return;
    q.stage = Query::Stage::kWriting;
  }
  if (q.stage == Query::Stage::kWriting) return writeTcp(seq, q);
  readTcp(seq, q);
}

void Prober::writeTcp(uint32_t seq, Query& q) {
  while (q.written < q.out.size()) {
    const ssize_t n =
        send(q.fd.get(), q.out.data() + q.written, q.out.size() - q.written, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) return fail(seq, errorText(errno));
    q.written += static_cast<size_t>(n);
  }
  q.stage = Query::Stage::kReading;
}

void Prober::readTcp(uint32_t seq, Query& q) {
  for (;;) {
    const ssize_t n = recv(q.fd.get(), buffer_.data(), buffer_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) return fail(seq, errorText(errno));
    if (n == 0) return fail(seq, "connection closed without an answer");
    const auto now = Clock::now();
    q.in.insert(q.in.end(), buffer_.begin(), buffer_.begin() + n);
    // Every complete message: the answer, or one to ignore (another ID).
    while (q.in.size() >= 2) {
      const size_t length = (size_t{q.in[0]} << 8) | q.in[1];
      if (q.in.size() < 2 + length) break;
      if (session_.received(seq, std::span<const uint8_t>(q.in).subspan(2, length), now)) {
        queries_.erase(seq);
        return;
      }
      q.in.erase(q.in.begin(), q.in.begin() + static_cast<std::ptrdiff_t>(2 + length));
    }
  }
}

}  // namespace

ProbePlan probePlanOf(const Invocation& inv) {
  ProbePlan plan;
  const auto name = dns::Name::fromText(inv.name);
  if (!name) throw UsageError("probe: bad NAME '" + inv.name + "'");
  plan.name = *name;
  const auto type = dns::typeFromText(inv.type.empty() ? "A" : inv.type);
  if (!type) throw UsageError("probe: unknown TYPE '" + inv.type + "'");
  plan.type = *type;
  plan.count = inv.count;
  plan.interval = probeDuration(inv.interval_s.value_or(1.0));
  plan.timeout = probeDuration(inv.timeout_s);
  plan.tcp = inv.tcp;
  plan.server = inv.server ? *inv.server : defaultProbeServer(configOf(inv));
  return plan;
}

int runProbe(const Invocation& inv) {
  const ProbePlan plan = probePlanOf(inv);
  const Target target = reachableTarget(plan.server);
  reserveSockets(plan);
  const SignalFd signals({SIGINT, SIGTERM});
  Prober prober(plan, target);
  prober.run(signals);
  const ProbeReport report = prober.session().report();
  const std::string text = inv.json ? probeJson(report) + "\n" : probeText(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return report.lost == 0 && report.answered > 0 ? 0 : 1;
}

}  // namespace shoal::cli
