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

TEST(TupleStore, BoundedAndForgetful) {
  TupleStore store(2, 1000);
  auto a = ConnTuple::ofIncoming(ipv4Segment("198.51.100.7", 1, "192.0.2.1", 53));
  auto b = ConnTuple::ofIncoming(ipv4Segment("198.51.100.7", 2, "192.0.2.1", 53));
  auto c = ConnTuple::ofIncoming(ipv4Segment("198.51.100.7", 3, "192.0.2.1", 53));
  RepairState state;
  state.send_seq = 42;
  EXPECT_TRUE(store.put(*a, state, 0));
  EXPECT_TRUE(store.put(*b, state, 500));
  EXPECT_FALSE(store.put(*c, state, 600));  // full
  auto taken = store.take(*a, 900);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->state.send_seq, 42u);
  EXPECT_FALSE(store.take(*a, 900));  // taken once
  EXPECT_EQ(store.expire(1499), 0u);
  EXPECT_EQ(store.expire(1500), 1u);  // b, collapsed at 500
  EXPECT_EQ(store.size(), 0u);
  EXPECT_TRUE(store.put(*c, state, 2000));
  EXPECT_FALSE(store.take(*c, 3000));  // too old: gone, not returned
  EXPECT_EQ(store.size(), 0u);
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
  ASSERT_TRUE(set->add(*tuple, 60000, &error)) << error;
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

INSTANTIATE_TEST_SUITE_P(Families, KernelRoundTrip, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& param_info) { return param_info.param == AF_INET ? "IPv4" : "IPv6"; });

}  // namespace
}  // namespace shoal::collapse
