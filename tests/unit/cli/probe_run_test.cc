// shoalctl probe end to end: the binary against a fake DNS server on
// 127.0.0.1 (UDP and TCP on one port) whose answers each test chooses:
// every query answered, a stray reply first, some dropped, over TCP, a
// dead port, the configuration's listen address, and arguments that get
// exit code 2.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "tests/unit/cli/test_util.h"

namespace shoal::cli {
namespace {

using nlohmann::json;
using testing_util::Outcome;
using testing_util::shoalctl;
using Packet = std::vector<uint8_t>;

/// An answer to `query`: its ID (xor `id_xor`) and question (with `type`
/// instead, when given), `flags` (QR and RA always), one record when
/// NOERROR.
Packet answerTo(const dns::Message& query, uint16_t flags, uint16_t rcode = 0,
                uint16_t id_xor = 0, std::optional<uint16_t> type = {}) {
  std::array<uint8_t, 512> buffer{};
  dns::MessageWriter w(buffer, buffer.size());
  w.setId(static_cast<uint16_t>(query.header().id ^ id_xor));
  w.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kRa | dns::flag::kRd | flags));
  w.setRcode(rcode);
  const dns::Question& q = *query.question();
  const uint16_t qtype = type.value_or(q.type);
  EXPECT_TRUE(w.addQuestion(q.name, qtype, q.qclass).ok());
  if (rcode == 0) {
    const uint8_t a[4] = {192, 0, 2, 10};
    EXPECT_TRUE(w.addRr(dns::Section::kAnswer, q.name, qtype, q.qclass, 60, a).ok());
  }
  const size_t length = w.finish();
  return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(length)};
}

/// A DNS server on 127.0.0.1: for the k-th query (from 0, UDP and TCP
/// counted together) it sends what `behaviour` returns, in order (nothing:
/// the query is dropped). It records what it received.
class FakeDns {
 public:
  using Behaviour = std::function<std::vector<Packet>(uint64_t k, const dns::Message& query)>;

  explicit FakeDns(Behaviour behaviour) : behaviour_(std::move(behaviour)) {
    for (int attempt = 0; attempt < 50 && tcp_ < 0; ++attempt) bindBoth();
    EXPECT_GE(tcp_, 0) << "no port free for UDP and TCP";
    EXPECT_EQ(pipe(stop_), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDns() {
    (void)!write(stop_[1], "x", 1);
    thread_.join();
    for (const int fd : {udp_, tcp_, stop_[0], stop_[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  FakeDns(const FakeDns&) = delete;
  FakeDns& operator=(const FakeDns&) = delete;

  uint16_t port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

  struct Seen {
    uint16_t id;
    uint16_t flags;
    uint16_t source_port;
    bool tcp;
  };
  std::vector<Seen> seen() const {
    const std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void bindBoth() {
    udp_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(a);
    bind(udp_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    getsockname(udp_, reinterpret_cast<sockaddr*>(&a), &length);
    port_ = ntohs(a.sin_port);
    const int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(tcp, 64) == 0) {
      tcp_ = tcp;
      return;
    }
    close(tcp);
    close(udp_);
    udp_ = -1;
  }

  std::vector<Packet> handle(std::span<const uint8_t> wire, uint16_t source_port, bool tcp) {
    const auto query = dns::Message::parse(wire);
    if (!query || !query->question()) return {};
    {
      const std::lock_guard lock(mutex_);
      seen_.push_back({query->header().id, query->header().flags, source_port, tcp});
    }
    return behaviour_(next_++, *query);
  }

  void serveUdp() {
    std::array<uint8_t, 65535> buffer{};
    sockaddr_in from{};
    socklen_t length = sizeof(from);
    const ssize_t n =
        recvfrom(udp_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from),
                 &length);
    if (n <= 0) return;
    for (const Packet& p :
         handle({buffer.data(), static_cast<size_t>(n)}, ntohs(from.sin_port), false)) {
      sendto(udp_, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&from), length);
    }
  }

  // One connection at a time: the probe writes its query at once.
  void serveTcp() {
    sockaddr_in from{};
    socklen_t length = sizeof(from);
    const int client = accept4(tcp_, reinterpret_cast<sockaddr*>(&from), &length, SOCK_CLOEXEC);
    if (client < 0) return;
    Packet in;
    std::array<uint8_t, 4096> buffer{};
    while (in.size() < 2 || in.size() < 2u + ((size_t{in[0]} << 8) | in[1])) {
      const ssize_t n = read(client, buffer.data(), buffer.size());
      if (n <= 0) break;
      in.insert(in.end(), buffer.begin(), buffer.begin() + n);
    }
    if (in.size() >= 2) {
      for (const Packet& p :
           handle(std::span<const uint8_t>(in).subspan(2), ntohs(from.sin_port), true)) {
        const uint8_t prefix[2] = {static_cast<uint8_t>(p.size() >> 8),
                                   static_cast<uint8_t>(p.size() & 0xFF)};
        (void)!write(client, prefix, 2);
        (void)!write(client, p.data(), p.size());
      }
    }
    close(client);
  }

  void serve() {
    for (;;) {
      pollfd fds[3] = {{stop_[0], POLLIN, 0}, {udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
      if (poll(fds, 3, -1) < 0) continue;
      if (fds[0].revents != 0) return;
      if (fds[1].revents != 0) serveUdp();
      if (fds[2].revents != 0) serveTcp();
    }
  }

  Behaviour behaviour_;
  int udp_ = -1, tcp_ = -1;
  uint16_t port_ = 0;
  int stop_[2] = {-1, -1};
  uint64_t next_ = 0;  // the server thread's
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

std::vector<Packet> answerWithAd(uint64_t, const dns::Message& q) {
  return {answerTo(q, dns::flag::kAd)};
}

json probeJson(const Outcome& run) {
  const json j = json::parse(run.out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << run.out << run.err;
  return j.is_object() ? j : json::object();
}

TEST(ProbeRun, EveryQueryAnsweredOverUdp) {
  FakeDns dns(answerWithAd);
  const Outcome run = shoalctl("probe www.example.com --server " + dns.server() +
                               " --count 5 --interval 10ms --json");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(run.err.empty()) << run.err;
  const json j = probeJson(run);
  EXPECT_EQ(j["name"], "www.example.com.");
  EXPECT_EQ(j["type"], "A");
  EXPECT_EQ(j["server"], dns.server());
  EXPECT_EQ(j["transport"], "udp");
  EXPECT_EQ(j["sent"], 5);
  EXPECT_EQ(j["answered"], 5);
  EXPECT_EQ(j["answer_percent"], 100.0);
  EXPECT_EQ(j["lost"], 0);
  EXPECT_EQ(j["rcodes"], json({{"NOERROR", 5}}));
  EXPECT_EQ(j["ad_set"], 5);
  EXPECT_EQ(j["mismatched"], 0);
  EXPECT_EQ(j["latency_ms"]["count"], 5);
  EXPECT_GT(j["latency_ms"]["max"].get<double>(), 0);
  EXPECT_LE(j["latency_ms"]["min"].get<double>(), j["latency_ms"]["p50"].get<double>());
  // what the server saw: RD and AD set, random IDs, a socket per query
  const auto seen = dns.seen();
  ASSERT_EQ(seen.size(), 5u);
  std::set<uint16_t> ids, ports;
  for (const auto& s : seen) {
    EXPECT_NE(s.flags & dns::flag::kRd, 0);
    EXPECT_NE(s.flags & dns::flag::kAd, 0);
    EXPECT_FALSE(s.tcp);
    ids.insert(s.id);
    ports.insert(s.source_port);
  }
  EXPECT_GT(ids.size(), 1u);
  EXPECT_GT(ports.size(), 1u);
}

TEST(ProbeRun, TextReport) {
  FakeDns dns([](uint64_t k, const dns::Message& q) -> std::vector<Packet> {
    return {answerTo(q, 0, k == 0 ? dns::rcode::kNxDomain : dns::rcode::kNoError)};
  });
  const Outcome run =
      shoalctl("probe Www.Example.Com aaaa --server " + dns.server() + " --count 3 --interval 1ms");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.rfind("probe Www.Example.Com. AAAA at " + dns.server() +
                              " over udp: 3 queries, one every 1ms, timeout 5s\n",
                          0),
            0u)
      << run.out;
  EXPECT_NE(run.out.find("\nanswered    3 (100.0%)\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\nrcodes      NOERROR 2  NXDOMAIN 1\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\nAD          set in 0 of 3 answers\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\nlatency ms  min "), std::string::npos) << run.out;
}

TEST(ProbeRun, StrayRepliesAreIgnored) {
  // another ID, then another question, then the answer
  FakeDns dns([](uint64_t, const dns::Message& q) -> std::vector<Packet> {
    return {answerTo(q, 0, 0, 0x5555), answerTo(q, 0, 0, 0, dns::rrtype::kAaaa),
            answerTo(q, dns::flag::kTc, 0)};
  });
  const Outcome run = shoalctl("probe www.example.com --server " + dns.server() +
                               " --count 3 --interval 1ms --json");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const json j = probeJson(run);
  EXPECT_EQ(j["answered"], 3);
  EXPECT_EQ(j["mismatched"], 6);
  EXPECT_EQ(j["truncated"], 3);
}

TEST(ProbeRun, DroppedQueriesAreLostAfterTheTimeout) {
  FakeDns dns([](uint64_t k, const dns::Message& q) -> std::vector<Packet> {
    if (k % 2 == 1) return {};
    return {answerTo(q, 0, dns::rcode::kServFail)};
  });
  const Outcome run = shoalctl("probe www.example.com --server " + dns.server() +
                               " --count 4 --interval 1ms --timeout 200ms --json");
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  const json j = probeJson(run);
  EXPECT_EQ(j["sent"], 4);
  EXPECT_EQ(j["answered"], 2);
  EXPECT_EQ(j["lost"], 2);
  EXPECT_EQ(j["timeouts"], 2);
  EXPECT_EQ(j["answer_percent"], 50.0);
  EXPECT_EQ(j["rcodes"], json({{"SERVFAIL", 2}}));
  const Outcome text = shoalctl("probe www.example.com --server " + dns.server() +
                                " --count 2 --interval 1ms --timeout 200ms");
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("\nlost        1 (no answer within 200ms: 1)\n"), std::string::npos)
      << text.out;
}

TEST(ProbeRun, OverTcp) {
  // over TCP too: a stray message first on the same connection
  FakeDns dns([](uint64_t, const dns::Message& q) -> std::vector<Packet> {
    return {answerTo(q, 0, 0, 1), answerTo(q, dns::flag::kAd)};
  });
  const Outcome run = shoalctl("probe www.example.com txt --server " + dns.server() +
                               " --count 3 --interval 1ms --tcp --json");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const json j = probeJson(run);
  EXPECT_EQ(j["transport"], "tcp");
  EXPECT_EQ(j["type"], "TXT");
  EXPECT_EQ(j["answered"], 3);
  EXPECT_EQ(j["ad_set"], 3);
  EXPECT_EQ(j["mismatched"], 3);
  const auto seen = dns.seen();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& s : seen) EXPECT_TRUE(s.tcp);
}

TEST(ProbeRun, TcpClosedWithoutAnAnswer) {
  FakeDns dns([](uint64_t, const dns::Message&) -> std::vector<Packet> { return {}; });
  const Outcome run = shoalctl("probe www.example.com --server " + dns.server() +
                               " --count 2 --interval 1ms --tcp --json");
  EXPECT_EQ(run.exit_code, 1);
  const json j = probeJson(run);
  EXPECT_EQ(j["lost"], 2);
  EXPECT_EQ(j["errors"], json({{"connection closed without an answer", 2}}));
}

// A port nobody listens on: taken from a socket that is then closed.
uint16_t deadPort(int type) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(a);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(ProbeRun, ADeadPortLosesEveryQuery) {
  for (const bool tcp : {false, true}) {
    const std::string server = "127.0.0.1:" + std::to_string(deadPort(tcp ? SOCK_STREAM
                                                                             : SOCK_DGRAM));
    const Outcome run = shoalctl("probe www.example.com --server " + server +
                                 " --count 3 --interval 1ms --json" + (tcp ? " --tcp" : ""));
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    const json j = probeJson(run);
    EXPECT_EQ(j["sent"], 3) << tcp;
    EXPECT_EQ(j["answered"], 0) << tcp;
    EXPECT_EQ(j["lost"], 3) << tcp;
    // the ICMP port unreachable (UDP) or the RST (TCP) of loopback
    EXPECT_EQ(j["errors"], json({{"Connection refused", 3}})) << tcp;
    EXPECT_TRUE(j["latency_ms"].is_null());
  }
}

TEST(ProbeRun, AsksTheFirstListenAddressOfTheConfiguration) {
  FakeDns dns(answerWithAd);
  char dir[] = "/tmp/shoal-probe-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/shoal.toml";
  {
    std::ofstream file(path);
    file << "[server]\nlisten = [\"0.0.0.0:" << dns.port() << "\", \"[::1]:" << dns.port()
         << "\"]\n";
  }
  const Outcome run = shoalctl("--config " + path + " probe example.com --count 1 --json");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(probeJson(run)["server"], dns.server());
  EXPECT_EQ(dns.seen().size(), 1u);
  std::remove(path.c_str());
  rmdir(dir);
  const Outcome missing = shoalctl("--config /nonexistent/shoal.toml probe example.com");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/shoal.toml"), std::string::npos) << missing.err;
}

TEST(ProbeRun, CtrlCStopsAndReports) {
  FakeDns dns(answerWithAd);
  const std::string out = "/tmp/shoalctl-probe-int-" + std::to_string(getpid()) + ".out";
  const std::string server = dns.server();  // no allocation after fork (the server's thread)
  const pid_t child = fork();
  if (child == 0) {
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, STDOUT_FILENO);
    execl(SHOALCTL_PATH, "shoalctl", "probe", "www.example.com", "--server", server.c_str(),
          "--count", "1000", "--interval", "20ms", "--json", static_cast<char*>(nullptr));
    _exit(127);
  }
  // the queries flow: the signalfd is in place (it is opened before the first send)
  for (int i = 0; i < 60'000 && dns.seen().size() < 3; ++i) usleep(1000);
  ASSERT_GE(dns.seen().size(), 3u);
  kill(child, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const json j = json::parse(testing_util::slurp(out), nullptr, false);
  std::remove(out.c_str());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["interrupted"], true);
  EXPECT_GE(j["sent"].get<int>(), 2);
  EXPECT_LT(j["sent"].get<int>(), 1000);
  EXPECT_EQ(j["answered"], j["sent"]);
  EXPECT_EQ(j["lost"], 0);
}

TEST(ProbeRun, BadArgumentsExitWith2) {
  for (const char* bad :
       {"probe", "probe bad..name", "probe www.example.com BOGUS", "probe x --count 0",
        "probe x --count 100001", "probe x --count -1", "probe x --interval 0",
        "probe x --interval 2h", "probe x --interval soon", "probe x --timeout 0",
        "probe x --timeout 61s", "probe x --server 300.1.1.1", "probe x --server 127.0.0.1:0",
        "probe x --server host.example", "probe x A extra", "status --tcp", "top --count 3"}) {
    const Outcome run = shoalctl(bad);
    EXPECT_EQ(run.exit_code, 2) << bad;
    EXPECT_EQ(run.err.rfind("shoalctl: ", 0), 0u) << bad << ": " << run.err;
    EXPECT_NE(run.err.find("Usage:"), std::string::npos) << bad;
    EXPECT_TRUE(run.out.empty()) << bad;
  }
}

TEST(ProbeRun, AServerThatCannotBeAskedExitsWith2) {
  // connect() to a broadcast address without SO_BROADCAST: EACCES, nothing sent
  const Outcome broadcast = shoalctl("probe x --server 255.255.255.255 --count 1");
  EXPECT_EQ(broadcast.exit_code, 2) << broadcast.out << broadcast.err;
  EXPECT_EQ(broadcast.err.rfind("shoalctl: cannot ask 255.255.255.255:53: ", 0), 0u)
      << broadcast.err;
  EXPECT_TRUE(broadcast.out.empty()) << broadcast.out;
  // more queries in flight than sockets this process may open
  const Outcome fds = shoalctl(
      "probe x --server 127.0.0.1 --count 1000 --interval 1ms --timeout 5s", "ulimit -n 256; ");
  EXPECT_EQ(fds.exit_code, 2) << fds.out << fds.err;
  EXPECT_NE(fds.err.find("keeps up to 1000 queries in flight"), std::string::npos) << fds.err;
  EXPECT_TRUE(fds.out.empty()) << fds.out;
}

}  // namespace
}  // namespace shoal::cli
