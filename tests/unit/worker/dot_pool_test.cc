// worker/dot_pool.h over real loopback sockets: a DNS-over-TLS server made
// of our own server session (worker/tls.h) in the same libuv loop, with
// knobs to hold queries, answer them in any order, or hang up. Checks that
// queries share a connection and are matched by ID, that a connection the
// server closed is resumed with its ticket, that a reused connection
// breaking sends its queries again, and that failures reach every token.

#include "worker/dot_pool.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "tests/unit/worker/tls_files.h"
#include "worker/clock.h"

namespace shoal::worker {
namespace {

/// A DNS message of 12 octets with `id` (the pool reads only the ID).
std::vector<uint8_t> message(uint16_t id, bool response = false) {
  std::vector<uint8_t> m(12, 0);
  m[0] = static_cast<uint8_t>(id >> 8);
  m[1] = static_cast<uint8_t>(id);
  if (response) m[2] = 0x80;
  return m;
}

uint16_t idOf(std::span<const uint8_t> m) { return static_cast<uint16_t>(m[0] << 8 | m[1]); }

class Server;

/// One accepted connection of the test server.
struct ServerConn {
  uv_tcp_t handle{};
  Server* server = nullptr;
  std::unique_ptr<TlsSession> tls;
  std::vector<uint8_t> plain;
  bool closing = false;
};

/// A DNS-over-TLS server on 127.0.0.1: answers each query at once
/// (`answer_at_once`), or holds it for answer(); can hang up on the Nth
/// query it reads.
class Server {
 public:
  Server(uv_loop_t& loop, const TlsContext& context) : loop_(loop), context_(context) {
    uv_tcp_init(&loop_, &listener_);
    listener_.data = this;
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", 0, &address);
    EXPECT_EQ(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&address), 0), 0);
    EXPECT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, onConnection), 0);
    int length = sizeof address;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  void close() {
    hangUpAll();
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }

  /// Sends the reply to the held query with `id`.
  void answer(uint16_t id) {
    const auto it = held_.find(id);
    ASSERT_NE(it, held_.end());
    ServerConn* conn = it->second;
    held_.erase(it);
    reply(*conn, id);
  }
  void hangUpAll() {
    const std::set<ServerConn*> all = conns_;  // hangUp() erases from conns_
    for (ServerConn* conn : all) hangUp(*conn);
  }

  uint16_t port = 0;
  bool answer_at_once = true;
  int hang_up_on_query = 0;  // > 0: the query with this number (from 1) hangs up instead
  int accepted = 0;
  int resumed = 0;
  int queries = 0;
  std::vector<uint16_t> ids;  // in the order read
  size_t open() const { return conns_.size(); }
  size_t held() const { return held_.size(); }

 private:
  static void onConnection(uv_stream_t* listener, int status) {
    auto& self = *static_cast<Server*>(listener->data);
    if (status < 0) return;
    auto* conn = new ServerConn;
    conn->server = &self;
    uv_tcp_init(&self.loop_, &conn->handle);
    conn->handle.data = conn;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&conn->handle)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&conn->handle), onClosed);
      return;
    }
    conn->tls = TlsSession::create(self.context_, send, conn);
    self.conns_.insert(conn);
    ++self.accepted;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->handle), onAlloc, onRead);
  }
  static void onAlloc(uv_handle_t* /*handle*/, size_t /*suggested*/, uv_buf_t* buf) {
    static char buffer[65536];
    *buf = uv_buf_init(buffer, sizeof buffer);
  }
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto& conn = *static_cast<ServerConn*>(stream->data);
    Server& self = *conn.server;
    if (conn.closing || nread == 0) return;
    if (nread < 0) {
      self.hangUp(conn);
      return;
    }
    conn.tls->setInput({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
    std::vector<uint8_t> out(16384);
    for (;;) {
      const auto r = conn.tls->read(out);
      if (r.event == TlsSession::Event::kHandshakeDone) {
        if (conn.tls->resumed()) ++self.resumed;
        continue;
      }
      if (r.event != TlsSession::Event::kData) break;
      conn.plain.insert(conn.plain.end(), out.begin(), out.begin() + static_cast<long>(r.length));
      self.takeQueries(conn);
      if (conn.closing) return;
    }
  }
  void takeQueries(ServerConn& conn) {
    while (conn.plain.size() >= 2) {
      const size_t length = static_cast<size_t>(conn.plain[0]) << 8 | conn.plain[1];
      if (conn.plain.size() < 2 + length) return;
      const uint16_t id = idOf(std::span<const uint8_t>(conn.plain).subspan(2));
      conn.plain.erase(conn.plain.begin(), conn.plain.begin() + static_cast<long>(2 + length));
      ++queries;
      ids.push_back(id);
      if (queries == hang_up_on_query) {
        hangUp(conn);
        return;
      }
      if (answer_at_once) {
        reply(conn, id);
      } else {
        held_[id] = &conn;
      }
    }
  }
  void reply(ServerConn& conn, uint16_t id) {
    if (conn.closing) return;
    std::vector<uint8_t> framed = {0, 12};
    const auto m = message(id, true);
    framed.insert(framed.end(), m.begin(), m.end());
    conn.tls->write(framed);
  }
  void hangUp(ServerConn& conn) {
    if (conn.closing) return;
    conn.closing = true;
    conns_.erase(&conn);
    for (auto it = held_.begin(); it != held_.end();) {
      it = it->second == &conn ? held_.erase(it) : std::next(it);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&conn.handle), onClosed);
  }
  static bool send(void* context, std::span<const uint8_t> data) {
    auto& conn = *static_cast<ServerConn*>(context);
    if (conn.closing) return false;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                               static_cast<unsigned>(data.size()));
    // Small test messages: the loopback socket takes them whole.
    return uv_try_write(reinterpret_cast<uv_stream_t*>(&conn.handle), &buf, 1) ==
           static_cast<int>(data.size());
  }
  static void onClosed(uv_handle_t* handle) { delete static_cast<ServerConn*>(handle->data); }

  uv_loop_t& loop_;
  const TlsContext& context_;
  uv_tcp_t listener_{};
  std::set<ServerConn*> conns_;
  std::map<uint16_t, ServerConn*> held_;
};

class DotPoolTest : public ::testing::Test, public UpstreamEvents {
 protected:
  void SetUp() override {
    files_.make("a");
    auto loaded = TlsContext::load(files_.path("a.crt"), files_.path("a.key"));
    ASSERT_TRUE(loaded.context) << loaded.error;
    server_context_ = std::move(loaded.context);
    uv_loop_init(&loop_);
    server_ = std::make_unique<Server>(loop_, *server_context_);
    pool_ = std::make_unique<DotPool>(loop_, *this, counters_, 0);
  }
  void TearDown() override {
    pool_->closeAll();
    server_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  void onUpstreamReply(uint64_t token, std::span<const uint8_t> reply) override {
    replies[token] = idOf(reply);
  }
  void onUpstreamFailure(uint64_t token) override { failures.push_back(token); }

  DotPool::Target target(uint16_t port, const std::string& name = "shoal.test") {
    DotPool::Target t;
    auto& server = reinterpret_cast<sockaddr_in&>(t.server);
    uv_ip4_addr("127.0.0.1", port, &server);
    auto& source = reinterpret_cast<sockaddr_in&>(t.source);
    uv_ip4_addr("0.0.0.0", 0, &source);
    t.name = name;
    t.ca = files_.path("a.crt");
    return t;
  }
  bool send(uint64_t token, uint16_t id) {
    return pool_->send(token, target(server_->port), message(id), wallMs());
  }
  /// Turns the loop until `done` holds (false after 10 s: a hang is a
  /// failure, not a wait for a guessed time).
  template <typename Done>
  bool runUntil(Done done) {
    const int64_t limit = wallMs() + 10'000;
    while (!done()) {
      if (wallMs() > limit) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
      timespec pause{0, 1'000'000};
      nanosleep(&pause, nullptr);
    }
    return true;
  }

  TlsFiles files_;
  std::shared_ptr<TlsContext> server_context_;
  uv_loop_t loop_{};
  std::unique_ptr<Server> server_;
  stats::WorkerCounters counters_{};
  std::unique_ptr<DotPool> pool_;
  std::map<uint64_t, uint16_t> replies;  // token -> ID of its reply
  std::vector<uint64_t> failures;
};

TEST_F(DotPoolTest, QueriesShareOneConnectionAndRepliesAreMatchedById) {
  server_->answer_at_once = false;
  ASSERT_TRUE(send(1, 0x1111));
  ASSERT_TRUE(send(2, 0x2222));
  ASSERT_TRUE(send(3, 0x3333));
  ASSERT_TRUE(runUntil([&] { return server_->held() == 3; }));
  EXPECT_EQ(server_->accepted, 1);
  EXPECT_EQ(pool_->connections(), 1u);
  // Answered in another order than asked (RFC 7766 section 7).
  server_->answer(0x3333);
  server_->answer(0x1111);
  server_->answer(0x2222);
  ASSERT_TRUE(runUntil([&] { return replies.size() == 3; }));
  EXPECT_EQ(replies, (std::map<uint64_t, uint16_t>{{1, 0x1111}, {2, 0x2222}, {3, 0x3333}}));
  EXPECT_TRUE(failures.empty());
  EXPECT_EQ(counters_.upstream_tls.get(), 3u);
  EXPECT_EQ(counters_.upstream_tls_connections.get(), 1u);
  // The connection stays for the next query.
  ASSERT_TRUE(send(4, 0x4444));
  server_->answer_at_once = true;
  ASSERT_TRUE(runUntil([&] { return server_->queries == 4; }));
  ASSERT_TRUE(runUntil([&] { return replies.count(4) == 1; }));
  EXPECT_EQ(server_->accepted, 1);
}

TEST_F(DotPoolTest, TwoQueriesWithOneIdNeverShareAConnection) {
  server_->answer_at_once = false;
  ASSERT_TRUE(send(1, 0x0101));
  ASSERT_TRUE(send(2, 0x0101));
  ASSERT_TRUE(runUntil([&] { return server_->queries == 2; }));
  EXPECT_EQ(server_->accepted, 2);
  EXPECT_EQ(pool_->connections(), 2u);
}

TEST_F(DotPoolTest, AConnectionTheServerClosedIsResumedWithItsTicket) {
  ASSERT_TRUE(send(1, 1));
  ASSERT_TRUE(runUntil([&] { return replies.count(1) == 1; }));
  server_->hangUpAll();  // an idle timeout on the server's side
  ASSERT_TRUE(runUntil([&] { return pool_->connections() == 0; }));
  EXPECT_TRUE(failures.empty());  // nothing was in flight: quietly forgotten
  ASSERT_TRUE(send(2, 2));
  ASSERT_TRUE(runUntil([&] { return replies.count(2) == 1; }));
  EXPECT_EQ(server_->accepted, 2);
  EXPECT_EQ(server_->resumed, 1);
  EXPECT_EQ(counters_.upstream_tls_resumed.get(), 1u);
}

TEST_F(DotPoolTest, QueriesOnAServingConnectionThatBreaksGoAgainOnce) {
  ASSERT_TRUE(send(1, 1));
  ASSERT_TRUE(runUntil([&] { return replies.count(1) == 1; }));
  server_->hang_up_on_query = 2;  // the server hangs up as the next query arrives
  ASSERT_TRUE(send(2, 2));
  ASSERT_TRUE(runUntil([&] { return replies.count(2) == 1; }));
  EXPECT_TRUE(failures.empty());
  EXPECT_EQ(server_->accepted, 2);
  EXPECT_EQ(counters_.upstream_tls_resent.get(), 1u);
  // Once only: a query whose second connection breaks too fails.
  server_->hang_up_on_query = 4;  // query 4's first try (the 4th query read)
  server_->answer_at_once = false;
  ASSERT_TRUE(send(4, 4));
  ASSERT_TRUE(runUntil([&] { return server_->held() == 1; }));  // its second try
  server_->hangUpAll();
  ASSERT_TRUE(runUntil([&] { return !failures.empty(); }));
  EXPECT_EQ(failures, std::vector<uint64_t>{4});
  EXPECT_EQ(replies.count(4), 0u);
}

TEST_F(DotPoolTest, AFreshConnectionThatBreaksFailsItsQueries) {
  server_->hang_up_on_query = 1;
  server_->answer_at_once = false;
  ASSERT_TRUE(send(1, 1));
  ASSERT_TRUE(send(2, 2));
  ASSERT_TRUE(runUntil([&] { return failures.size() == 2; }));
  EXPECT_EQ(std::set<uint64_t>(failures.begin(), failures.end()), (std::set<uint64_t>{1, 2}));
  EXPECT_EQ(counters_.upstream_tls_resent.get(), 0u);
}

TEST_F(DotPoolTest, RefusedConnectionsAndWrongCertificatesFailEveryToken) {
  // A port with nobody listening.
  uv_tcp_t probe;
  uv_tcp_init(&loop_, &probe);
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", 0, &address);
  uv_tcp_bind(&probe, reinterpret_cast<const sockaddr*>(&address), 0);
  int length = sizeof address;
  uv_tcp_getsockname(&probe, reinterpret_cast<sockaddr*>(&address), &length);
  uv_close(reinterpret_cast<uv_handle_t*>(&probe), nullptr);
  const uint16_t closed_port = ntohs(address.sin_port);
  ASSERT_TRUE(pool_->send(1, target(closed_port), message(1), wallMs()));
  ASSERT_TRUE(pool_->send(2, target(closed_port), message(2), wallMs()));
  // A certificate not valid for the name asked for.
  ASSERT_TRUE(pool_->send(3, target(server_->port, "other.test"), message(3), wallMs()));
  ASSERT_TRUE(runUntil([&] { return failures.size() == 3; }));
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(server_->queries, 0);
  // A CA file that cannot be loaded: refused at once.
  auto bad = target(server_->port);
  bad.ca = files_.path("none.crt");
  EXPECT_FALSE(pool_->send(4, bad, message(4), wallMs()));
}

TEST_F(DotPoolTest, ACancelledQuerysReplyIsDroppedAndASilentConnectionRetires) {
  server_->answer_at_once = false;
  ASSERT_TRUE(send(1, 1));
  ASSERT_TRUE(runUntil([&] { return server_->held() == 1; }));
  pool_->cancel(1);
  server_->answer(1);
  ASSERT_TRUE(send(2, 2));  // same connection; its reply comes after the dropped one
  ASSERT_TRUE(runUntil([&] { return server_->held() == 1; }));
  server_->answer(2);
  ASSERT_TRUE(runUntil([&] { return replies.count(2) == 1; }));
  EXPECT_EQ(replies.count(1), 0u);
  // Queries the engine gave up on, unanswered, DotPool::kMaxUnanswered in
  // a row: the connection takes no more and closes.
  for (uint64_t token = 10; token < 10 + DotPool::kMaxUnanswered; ++token) {
    ASSERT_TRUE(send(token, static_cast<uint16_t>(token)));
  }
  ASSERT_TRUE(runUntil([&] { return server_->held() == DotPool::kMaxUnanswered; }));
  for (uint64_t token = 10; token < 10 + DotPool::kMaxUnanswered; ++token) pool_->cancel(token);
  ASSERT_TRUE(runUntil([&] { return pool_->connections() == 0; }));
  ASSERT_TRUE(send(20, 20));
  ASSERT_TRUE(runUntil([&] { return server_->accepted == 2; }));
  EXPECT_TRUE(failures.empty());
}

TEST_F(DotPoolTest, IdleConnectionsAndForgottenQueriesAreSwept) {
  server_->answer_at_once = false;
  ASSERT_TRUE(send(1, 1));
  ASSERT_TRUE(runUntil([&] { return server_->held() == 1; }));
  const int64_t now = wallMs();
  pool_->sweep(now, now - 1000);  // sent just now: kept
  EXPECT_TRUE(pool_->owns(1));
  pool_->sweep(now + 60'000, now + 1);  // never cancelled by the engine: forgotten
  EXPECT_FALSE(pool_->owns(1));
  EXPECT_EQ(counters_.upstream_swept.get(), 1u);
  pool_->sweep(now + 60'000 + DotPool::kIdleMs, now);
  EXPECT_EQ(pool_->connections(), 0u);
  ASSERT_TRUE(runUntil([&] { return server_->open() == 0; }));
  EXPECT_TRUE(failures.empty());
}

}  // namespace
}  // namespace shoal::worker
