// collapse/: tuples parsed from segments, the store of collapsed
// connections, and the whole kernel round trip in a private network
// namespace: a live connection saved in repair mode and closed without a
// FIN, its next segment diverted to our NFQUEUE queue by the nftables
// rules, the socket rebuilt from the saved state, the segment let through,
// and the conversation carrying on with no new handshake. The kernel part
// needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_ADMIN for the rest)
// and is skipped without it.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "collapse/divert.h"
#include "collapse/packet_queue.h"
#include "collapse/store.h"
#include "collapse/tcp_repair.h"
#include "collapse/tuple.h"

namespace shoal::collapse {
namespace {

std::vector<uint8_t> ipv4Segment(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                                 uint8_t proto = 6) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x45;
  p[9] = proto;
  inet_pton(AF_INET, src, &p[12]);
  inet_pton(AF_INET, dst, &p[16]);
  p[20] = static_cast<uint8_t>(sport >> 8);
  p[21] = static_cast<uint8_t>(sport);
  p[22] = static_cast<uint8_t>(dport >> 8);
  p[23] = static_cast<uint8_t>(dport);
  return p;
}

TEST(ConnTuple, FromAnIpv4Segment) {
  const auto t = ConnTuple::ofIncoming(ipv4Segment("198.51.100.7", 40000, "192.0.2.1", 53));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->family, AF_INET);
  EXPECT_EQ(t->remote_port, 40000);
  EXPECT_EQ(t->local_port, 53);
  EXPECT_EQ(t->toText(), "192.0.2.1:53 <- 198.51.100.7:40000");
  uint8_t key[40];
  ASSERT_EQ(t->setKey(key), 16u);
  const uint8_t expected[16] = {198, 51, 100, 7, 0x9c, 0x40, 0, 0, 192, 0, 2, 1, 0, 53, 0, 0};
  EXPECT_EQ(0, std::memcmp(key, expected, sizeof expected));
}

TEST(ConnTuple, FromAnIpv6Segment) {
  std::vector<uint8_t> p(60, 0);
  p[0] = 0x60;
  p[6] = 6;
  inet_pton(AF_INET6, "2001:db8::7", &p[8]);
  inet_pton(AF_INET6, "2001:db8::1", &p[24]);
  p[40] = 0x9c;
  p[41] = 0x40;
  p[43] = 53;
  const auto t = ConnTuple::ofIncoming(p);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->toText(), "[2001:db8::1]:53 <- [2001:db8::7]:40000");
  uint8_t key[40];
  EXPECT_EQ(t->setKey(key), 40u);
}

TEST(ConnTuple, NotATcpSegment) {
  EXPECT_FALSE(ConnTuple::ofIncoming(ipv4Segment("198.51.100.7", 1, "192.0.2.1", 53, 17)));
  auto truncated = ipv4Segment("198.51.100.7", 1, "192.0.2.1", 53);
  truncated.resize(22);
  EXPECT_FALSE(ConnTuple::ofIncoming(truncated));
  auto fragment = ipv4Segment("198.51.100.7", 1, "192.0.2.1", 53);
  fragment[7] = 8;  // offset 64
  EXPECT_FALSE(ConnTuple::ofIncoming(fragment));
  EXPECT_FALSE(ConnTuple::ofIncoming({}));
  const std::vector<uint8_t> garbage = {0x15, 1, 2};
  EXPECT_FALSE(ConnTuple::ofIncoming(garbage));
}

ConnTuple tupleOf(const char* remote, uint16_t port, const char* local = "192.0.2.1",
                  uint16_t local_port = 53) {
  return *ConnTuple::ofIncoming(ipv4Segment(remote, port, local, local_port));
}

TEST(TupleStore, BoundedAndForgetful) {
  TupleStore store(2, 10'000);
  const auto a = tupleOf("198.51.100.7", 1);
  const auto b = tupleOf("198.51.100.7", 2);
  const auto c = tupleOf("198.51.100.7", 3);
  RepairState state;
  state.send_seq = 42;
  state.window.rcv_wnd = 65535;
  state.send_wscale = 7;
  state.receive_wscale = 9;
  state.options = RepairState::kSack | RepairState::kTimestamps;
  EXPECT_TRUE(store.put(a, state, 0));
  EXPECT_TRUE(store.put(b, state, 5'000));
  EXPECT_FALSE(store.put(c, state, 6'000));  // full
  auto taken = store.take(a, 9'000);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->state.send_seq, 42u);
  EXPECT_EQ(taken->state.window.rcv_wnd, 65535u);
  EXPECT_EQ(taken->state.send_wscale, 7);
  EXPECT_EQ(taken->state.receive_wscale, 9);
  EXPECT_EQ(taken->state.options, RepairState::kSack | RepairState::kTimestamps);
  EXPECT_EQ(taken->collapsed_ms, 0);
  EXPECT_FALSE(store.take(a, 9'000));  // taken once
  EXPECT_TRUE(store.expire(14'999).empty());
  const auto gone = store.expire(15'000);  // b, collapsed at 5 s
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], b);
  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(store.put(c, state, 20'000));
  EXPECT_FALSE(store.take(c, 30'000));  // too old: gone, not returned
  EXPECT_EQ(store.size(), 0u);
}

// Many entries over several local addresses, both families: every one
// found with its own state after removals moved records around.
TEST(TupleStore, ManyEntriesStayFindable) {
  TupleStore store(100'000, 3'600'000);
  std::vector<ConnTuple> tuples;
  for (uint32_t i = 0; i < 20'000; ++i) {
    const std::string remote = "10." + std::to_string(i / 256 % 256) + "." +
                               std::to_string(i % 256) + ".9";
    tuples.push_back(tupleOf(remote.c_str(), static_cast<uint16_t>(1024 + i % 50'000),
                             i % 3 == 0 ? "192.0.2.1" : "192.0.2.2",
                             i % 2 == 0 ? 53 : 853));
  }
  std::vector<uint8_t> v6(60, 0);
  v6[0] = 0x60;
  v6[6] = 6;
  inet_pton(AF_INET6, "2001:db8::7", &v6[8]);
  inet_pton(AF_INET6, "2001:db8::1", &v6[24]);
  v6[40] = 0x9c;
  v6[43] = 53;
  tuples.push_back(*ConnTuple::ofIncoming(v6));
  for (size_t i = 0; i < tuples.size(); ++i) {
    RepairState s;
    s.send_seq = static_cast<uint32_t>(i);
    ASSERT_TRUE(store.put(tuples[i], s, 1'000));
  }
  EXPECT_EQ(store.size(), tuples.size());
  // Every other one taken (records move), then the rest checked.
  for (size_t i = 0; i < tuples.size(); i += 2) {
    const auto t = store.take(tuples[i], 2'000);
    ASSERT_TRUE(t) << i;
    EXPECT_EQ(t->state.send_seq, i);
  }
  for (size_t i = 1; i < tuples.size(); i += 2) {
    const auto t = store.take(tuples[i], 2'000);
    ASSERT_TRUE(t) << i;
    EXPECT_EQ(t->state.send_seq, i);
  }
  EXPECT_EQ(store.size(), 0u);
  // A put of a tuple held already replaces its entry.
  RepairState s;
  s.send_seq = 7;
  ASSERT_TRUE(store.put(tuples[0], s, 1'000));
  s.send_seq = 8;
  ASSERT_TRUE(store.put(tuples[0], s, 1'000));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.take(tuples[0], 1'000)->state.send_seq, 8u);
}

// The kernel round trip, in a network namespace of this test's own.
class KernelRoundTrip : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      skip_ = "needs root";
      return;
    }
    if (unshare(CLONE_NEWNET) != 0) {
      skip_ = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    // Loopback up, in the new namespace.
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ioctl(s, SIOCSIFFLAGS, &ifr);
    close(s);
    std::string error;
    if (!repairAllowed(&error)) skip_ = error;
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static int listenOn(int family, uint16_t port) {
    const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t length = fillLoopback(family, port, ss);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&ss), length), 0) << std::strerror(errno);
    EXPECT_EQ(listen(fd, 16), 0);
    return fd;
  }
  static socklen_t fillLoopback(int family, uint16_t port, sockaddr_storage& ss) {
    if (family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      return sizeof *in;
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_loopback;
    return sizeof *in6;
  }
  static bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
  }
  static std::string readSome(int fd) {
    if (!readable(fd, 2000)) return "(nothing)";
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "(eof or error)";
  }

  static inline std::string skip_;
};

TEST_P(KernelRoundTrip, CollapseAndRevive) {
  const int family = GetParam();
  constexpr uint16_t kPort = 5353;
  constexpr uint16_t kQueue = 4242;
  std::string error;
  ASSERT_TRUE(DivertRules::install(1, kQueue, &error)) << error;
  auto set = DivertSet::open(0, &error);
  ASSERT_TRUE(set) << error;
  auto queue = PacketQueue::open(kQueue, &error);
  ASSERT_TRUE(queue) << error;

  const int listener = listenOn(family, kPort);
  const int client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage server{};
  const socklen_t server_length = fillLoopback(family, kPort, server);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&server), server_length), 0);
  const int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  ASSERT_EQ(write(client, "query-1", 7), 7);
  EXPECT_EQ(readSome(accepted), "query-1");
  ASSERT_EQ(write(accepted, "answer-1", 8), 8);
  EXPECT_EQ(readSome(client), "answer-1");
  // Let the client's acknowledgement of the answer arrive.
  for (int i = 0; i < 100; ++i) {
    tcp_info info{};
    socklen_t length = sizeof info;
    getsockopt(accepted, IPPROTO_TCP, TCP_INFO, &info, &length);
    if (info.tcpi_unacked == 0) break;
    usleep(1000);
  }

  // Collapse: divert first, then save and close in repair mode.
  const auto tuple = ConnTuple::ofSocket(accepted);
  ASSERT_TRUE(tuple);
  ASSERT_TRUE(set->add(*tuple, &error)) << error;
  const auto state = saveIdle(accepted, &error);
  ASSERT_TRUE(state) << error;
  close(accepted);
  // No FIN reached the client: nothing to read, the connection is open.
  EXPECT_FALSE(readable(client, 50));

  // The client's next query is diverted to the queue, not reset.
  ASSERT_EQ(write(client, "query-2", 7), 7);
  ASSERT_TRUE(readable(queue->fd(), 2000)) << "nothing queued";
  int seen = 0;
  int revived = -1;
  ASSERT_TRUE(queue->receive([&](uint32_t id, std::span<const uint8_t> packet) {
    ++seen;
    const auto from = ConnTuple::ofIncoming(packet);
    if (from && *from == *tuple && revived < 0) {
      revived = restore(*from, *state, 10, &error);
      EXPECT_GE(revived, 0) << error;
      EXPECT_TRUE(set->remove(*from, &error)) << error;
    }
    EXPECT_TRUE(queue->verdict(id, true));
  }));
  EXPECT_GE(seen, 1);
  ASSERT_GE(revived, 0);
  EXPECT_EQ(readSome(revived), "query-2");
  ASSERT_EQ(write(revived, "answer-2", 8), 8);
  EXPECT_EQ(readSome(client), "answer-2");

  // And on: the divert element is gone, segments reach the socket.
  ASSERT_EQ(write(client, "query-3", 7), 7);
  EXPECT_EQ(readSome(revived), "query-3");
  EXPECT_FALSE(readable(queue->fd(), 0));
  // A second flush of the set (a new worker's start) finds it in place.
  EXPECT_TRUE(set->flush(&error)) << error;
  close(revived);
  close(client);
  close(listener);
  DivertRules::remove();
  EXPECT_FALSE(DivertSet::open(0, &error)) << "the rules are gone";
}

// Thousands of elements at once (a sweep that forgets many collapsed
// connections): added one by one, deleted in one call, in chunks that fit
// netlink's messages.
TEST_P(KernelRoundTrip, ManyElementsDeletedAtOnce) {
  const int family = GetParam();
  std::string error;
  ASSERT_TRUE(DivertRules::install(1, 4243, &error)) << error;
  auto set = DivertSet::open(0, &error);
  ASSERT_TRUE(set) << error;
  std::vector<ConnTuple> tuples;
  for (int i = 0; i < 6000; ++i) {
    ConnTuple t;
    t.family = static_cast<uint8_t>(family);
    t.local_port = 53;
    t.remote_port = static_cast<uint16_t>(1024 + i);
    t.local[0] = 10;
    t.remote[0] = 10;
    t.remote[1] = static_cast<uint8_t>(i / 250);
    t.remote[3] = static_cast<uint8_t>(i % 250);
    tuples.push_back(t);
  }
  for (const auto& t : tuples) ASSERT_TRUE(set->add(t, &error)) << error;
  auto count = [&] {
    const std::string cmd = std::string("nft list set ") + (family == AF_INET ? "ip" : "ip6") +
                            " shoal w0 | grep -oE ' \\. 53([^0-9]|$)' | wc -l";
    FILE* p = popen(cmd.c_str(), "r");
    int n = -1;
    if (p != nullptr && std::fscanf(p, "%d", &n) != 1) n = -1;
    if (p != nullptr) pclose(p);
    return n;
  };
  EXPECT_EQ(count(), 6000);
  EXPECT_TRUE(set->removeMany(tuples, &error)) << error;
  EXPECT_EQ(count(), 0);
  DivertRules::remove();
}

INSTANTIATE_TEST_SUITE_P(Families, KernelRoundTrip, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& param_info) { return param_info.param == AF_INET ? "IPv4" : "IPv6"; });

}  // namespace
}  // namespace shoal::collapse
