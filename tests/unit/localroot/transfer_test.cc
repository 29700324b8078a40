// The network side against a small TCP server on the loopback, in a thread:
// framing, the whole exchange, timeouts and failures.

#include "localroot/transfer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "tests/unit/localroot/test_root.h"

namespace shoal::localroot {
namespace {

using testing_util::recordsOf;

/// Accepts `connections` connections on 127.0.0.1, one after the other,
/// and runs `serve` with each and its query's ID (0 when no query arrived);
/// the query types asked are in qtypes() once it is destroyed.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(int fd, uint16_t id)> serve, int connections = 1,
                         std::vector<uint16_t>* qtypes = nullptr) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    thread_ = std::thread([this, serve, connections, qtypes] {
      for (int i = 0; i < connections; ++i) {
        const int fd = accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) return;
        uint8_t query[512];
        const ssize_t n = recv(fd, query, sizeof query, 0);
        const uint16_t id = n >= 4 ? static_cast<uint16_t>(query[2] << 8 | query[3]) : 0;
        // The question of the root: length prefix, header, the name's one
        // octet, then the type.
        if (qtypes != nullptr && n >= 17) {
          qtypes->push_back(static_cast<uint16_t>(query[15] << 8 | query[16]));
        }
        serve(fd, id);
        close(fd);
      }
    });
  }
  ~OneShotServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  base::SocketAddress address() const {
    return {*base::IpAddress::parse("127.0.0.1"), port_};
  }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

const std::string kSoa =
    ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024052200 1800 900 604800 "
    "86400\n";

/// `records` as one response to `qtype` with `id`, framed for TCP.
std::vector<uint8_t> framed(uint16_t id, uint16_t qtype, const std::vector<dns::Record>& records,
                            uint16_t rcode = 0) {
  std::vector<uint8_t> out(65535);
  dns::MessageWriter writer(out, out.size());
  writer.setId(id);
  writer.setFlags(dns::flag::kQr | dns::flag::kAa);
  writer.setRcode(rcode);
  EXPECT_TRUE(writer.addQuestion(dns::Name(), qtype, dns::rrclass::kIn).ok());
  for (const auto& r : records) {
    EXPECT_TRUE(
        writer.addRr(dns::Section::kAnswer, r.owner, r.type, r.rrclass, r.ttl, r.rdata).ok());
  }
  out.resize(writer.finish());
  out.insert(out.begin(), {static_cast<uint8_t>(out.size() >> 8), static_cast<uint8_t>(out.size())});
  return out;
}

void sendAll(int fd, const std::vector<uint8_t>& data) {
  EXPECT_EQ(send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

TransferOptions quick() {
  TransferOptions options;
  options.timeout_ms = 300;
  return options;
}

TEST(TransferTest, AxfrOverTcp) {
  const auto soa = recordsOf(kSoa);
  const auto data = recordsOf(". 518400 IN NS a.root-servers.net.\n"
                              "com. 172800 IN NS a.gtld-servers.net.\n");
  OneShotServer server([&](int fd, uint16_t id) {
    // Two messages, the second one sent in two pieces.
    sendAll(fd, framed(id, dns::rrtype::kAxfr, {soa[0], data[0]}));
    const auto second = framed(id, dns::rrtype::kAxfr, {data[1], soa[0]});
    sendAll(fd, {second.begin(), second.begin() + 5});
    sendAll(fd, {second.begin() + 5, second.end()});
  });
  const TransferResult result = transferZone(server.address(), dns::Name(), quick());
  ASSERT_TRUE(result.zone) << result.error;
  EXPECT_EQ(result.zone->records.size(), 3u);
  EXPECT_EQ(result.zone->source, server.address().toString());
}

ZoneData heldZone() {
  ZoneData zone;
  zone.records = recordsOf(kSoa + ". 518400 IN NS a.root-servers.net.\n"
                                  "com. 172800 IN NS a.gtld-servers.net.\n");
  return zone;
}

const std::string kNewSoa =
    ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024052201 1800 900 604800 "
    "86400\n";

TEST(TransferTest, IxfrFromTheZoneHeld) {
  const ZoneData held = heldZone();
  const auto old_soa = recordsOf(kSoa);
  const auto new_soa = recordsOf(kNewSoa);
  const auto net = recordsOf("net. 172800 IN NS a.gtld-servers.net.\n");
  std::vector<uint16_t> qtypes;
  {
    OneShotServer server(
        [&](int fd, uint16_t id) {
          sendAll(fd, framed(id, dns::rrtype::kIxfr,
                             {new_soa[0], old_soa[0], new_soa[0], net[0], new_soa[0]}));
        },
        1, &qtypes);
    const TransferResult result = transferZone(server.address(), dns::Name(), quick(), &held);
    ASSERT_TRUE(result.zone) << result.error;
    EXPECT_TRUE(result.incremental);
    EXPECT_EQ(result.method, "IXFR (1 step, 1 record deleted, 2 added)");
    EXPECT_EQ(result.zone->records.size(), 4u);
    EXPECT_EQ(result.zone->source, server.address().toString());
  }
  EXPECT_EQ(qtypes, std::vector<uint16_t>{dns::rrtype::kIxfr});
}

TEST(TransferTest, IxfrRefusedFallsBackToAxfr) {
  const ZoneData held = heldZone();
  const auto new_soa = recordsOf(kNewSoa);
  std::vector<uint16_t> qtypes;
  int connection = 0;
  {
    OneShotServer server(
        [&](int fd, uint16_t id) {
          if (connection++ == 0) {
            sendAll(fd, framed(id, dns::rrtype::kIxfr, {}, dns::rcode::kNotImp));
          } else {
            sendAll(fd, framed(id, dns::rrtype::kAxfr, {new_soa[0], new_soa[0]}));
          }
        },
        2, &qtypes);
    const TransferResult result = transferZone(server.address(), dns::Name(), quick(), &held);
    ASSERT_TRUE(result.zone) << result.error;
    EXPECT_FALSE(result.incremental);
    EXPECT_EQ(result.method, "AXFR (IXFR failed: the server answered NOTIMP)");
    EXPECT_EQ(result.zone->records.size(), 1u);
  }
  EXPECT_EQ(qtypes, (std::vector<uint16_t>{dns::rrtype::kIxfr, dns::rrtype::kAxfr}));
}

TEST(TransferTest, IxfrSayingUpToDateIsNoZone) {
  const ZoneData held = heldZone();
  const auto old_soa = recordsOf(kSoa);
  OneShotServer server(
      [&](int fd, uint16_t id) { sendAll(fd, framed(id, dns::rrtype::kIxfr, old_soa)); });
  const TransferResult result = transferZone(server.address(), dns::Name(), quick(), &held);
  EXPECT_FALSE(result.zone);
  EXPECT_EQ(result.error,
            "its IXFR answer says serial 2024052200 is current, not newer than the one held");
}

TEST(TransferTest, SoaSerialOverTcp) {
  const auto soa = recordsOf(kSoa);
  OneShotServer server(
      [&](int fd, uint16_t id) { sendAll(fd, framed(id, dns::rrtype::kSoa, soa)); });
  const SerialResult result = querySerial(server.address(), dns::Name(), quick());
  ASSERT_TRUE(result.serial) << result.error;
  EXPECT_EQ(*result.serial, 2024052200u);
}

TEST(TransferTest, ASilentServerTimesOut) {
  OneShotServer server([](int fd, uint16_t) {
    char byte;
    recv(fd, &byte, 1, 0);  // until the client gives up and closes
  });
  const TransferResult result = transferZone(server.address(), dns::Name(), quick());
  EXPECT_FALSE(result.zone);
  EXPECT_EQ(result.error, "reply: timed out after 300 ms");
}

TEST(TransferTest, TheWholeExchangeHasADeadline) {
  const auto soa = recordsOf(kSoa);
  OneShotServer server([&](int fd, uint16_t id) {
    // A message, then a trickle: each read progresses, the whole never ends.
    sendAll(fd, framed(id, dns::rrtype::kAxfr, soa));
    const auto more = framed(id, dns::rrtype::kAxfr, recordsOf(". 518400 IN NS a.root-servers.net.\n"));
    for (const uint8_t octet : more) {
      if (send(fd, &octet, 1, MSG_NOSIGNAL) != 1) return;
      usleep(100'000);
    }
  });
  TransferOptions options = quick();
  options.deadline_ms = 400;
  const TransferResult result = transferZone(server.address(), dns::Name(), options);
  EXPECT_FALSE(result.zone);
  EXPECT_EQ(result.error, "reply: the exchange took longer than 400 ms");
}

TEST(TransferTest, ClosedConnectionAndRefusal) {
  const auto soa = recordsOf(kSoa);
  {
    OneShotServer server([&](int fd, uint16_t id) {
      sendAll(fd, framed(id, dns::rrtype::kAxfr, soa));  // and no closing SOA
    });
    const TransferResult result = transferZone(server.address(), dns::Name(), quick());
    EXPECT_FALSE(result.zone);
    EXPECT_EQ(result.error, "the server closed the connection");
  }
  {
    OneShotServer server([&](int fd, uint16_t) {
      sendAll(fd, framed(0, dns::rrtype::kAxfr, soa));  // the wrong ID (almost surely)
    });
    const TransferResult result = transferZone(server.address(), dns::Name(), quick());
    EXPECT_FALSE(result.zone);
    EXPECT_NE(result.error.find("another ID"), std::string::npos) << result.error;
  }
  // Nobody listens on the port any more: refused.
  base::SocketAddress gone;
  {
    OneShotServer server([](int, uint16_t) {});
    gone = server.address();
    const TransferResult served = transferZone(gone, dns::Name(), quick());
    EXPECT_FALSE(served.zone);
  }
  const TransferResult result = transferZone(gone, dns::Name(), quick());
  EXPECT_FALSE(result.zone);
  EXPECT_EQ(result.error, "connect: Connection refused");
}

}  // namespace
}  // namespace shoal::localroot
