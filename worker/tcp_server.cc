// Client TCP (RFC 7766): accept up to tcp_max_clients connections; read
// 2-octet length-prefixed queries, several in flight per connection
// (pipelining, section 6.2.1.1), answered in whatever order they complete;
// close connections idle for tcp_idle_timeout.
//
// No client can make a worker grow without bound:
//   - answers the client does not read queue up to tcp_max_queued octets
//     per connection; then its queries are no longer read (the kernel's
//     socket buffers and TCP flow control push back on the client), and a
//     connection whose queued answers made no progress for a whole idle
//     timeout is closed ("not reading");
//   - all buffers of the worker (queued answers and incomplete queries)
//     stop every connection's reading at tcp_max_buffers, until they are
//     back under three quarters of it;
//   - one IPv4 address or IPv6 /64 holds at most tcp_max_per_client
//     connections per worker;
//   - at tcp_max_clients a new connection takes the place of the least
//     recently active one with nothing in flight (RFC 7766 section 6.2.3:
//     idle connections go first under pressure), or is refused.
// A paused connection resumes on the next loop turn after what it waited
// for (scheduleResume), never from inside another callback.
//
// Idle connections are kept cheap: reads land in the worker's shared
// receive buffer (one read at a time in the whole worker), complete
// messages are handled straight from it, and only an incomplete tail is
// copied into the connection's `partial` buffer, which is freed again as
// soon as the message is complete. A connection waiting for its next query
// holds its two libuv handles and nothing else.
//
// DNS over TLS (RFC 7858) is the same service inside a TLS session
// (worker/tls.h): ciphertext from the shared receive buffer goes into the
// session, the plaintext it yields takes the TCP path above (same
// pipelining, limits and idle timeout), and answers leave through the
// session, whose ciphertext is written like a TCP answer. An idle TLS
// connection adds its OpenSSL session, without record buffers
// (SSL_MODE_RELEASE_BUFFERS). A connection closed before its handshake
// completed counts as a failed handshake.

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "worker/clock.h"
#include "worker/sockaddr.h"
#include "worker/tcp_server.h"

namespace shoal::worker {

using base::logLine;
using base::logError;
namespace {

constexpr int kListenBacklog = 1024;

/// Keep the least recently active connections this deep when looking for
/// an idle one to close: connections busy for long sit near the head.
constexpr int kEvictScan = 32;

struct TcpWrite {
  uv_write_t req{};
  uv_buf_t buf{};
  TcpConnection* conn = nullptr;
  std::vector<uint8_t> bytes;
};

void onConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* listener = static_cast<TcpListener*>(server->data);
  listener->server->onConnection(*listener);
}

void onListenerClosed(uv_handle_t* handle) { delete static_cast<TcpListener*>(handle->data); }

void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = static_cast<TcpConnection*>(handle->data)->server->receiveBuffer();
}

void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* conn = static_cast<TcpConnection*>(stream->data);
  conn->server->onRead(*conn, nread, buf);
}

void onIdleTimer(uv_timer_t* timer) { static_cast<TcpServer*>(timer->data)->onIdleTimer(); }

void onWritten(uv_write_t* req, int status) {
  auto* write = static_cast<TcpWrite*>(req->data);
  TcpConnection* conn = write->conn;
  const size_t bytes = write->bytes.size();
  delete write;
  conn->server->onWritten(*conn, status, bytes);
}

void onResume(uv_idle_t* idle) { static_cast<TcpServer*>(idle->data)->onResume(); }

size_t bucketIndex(ClientBucket bucket) { return static_cast<size_t>(bucket); }

/// Eviction order: one-shot clients first, frequent ones last.
constexpr ClientBucket kEvictOrder[] = {ClientBucket::kDontBother, ClientBucket::kCollapse,
                                        ClientBucket::kKeepActive};

void onConnectionClosed(uv_handle_t* handle) {
  auto* conn = static_cast<TcpConnection*>(handle->data);
  conn->server->onClosed(conn);
}

bool onTlsOutput(void* context, std::span<const uint8_t> ciphertext) {
  auto* conn = static_cast<TcpConnection*>(context);
  return conn->server->onTlsOutput(*conn, ciphertext);
}

void onDohQuery(void* context, int32_t stream, std::span<const uint8_t> query) {
  auto* conn = static_cast<TcpConnection*>(context);
  conn->server->onDohQuery(*conn, stream, query);
}

bool onDohOutput(void* context, std::span<const uint8_t> frames) {
  auto* conn = static_cast<TcpConnection*>(context);
  return conn->server->onDohOutput(*conn, frames);
}

uv_stream_t* streamOf(TcpConnection& conn) { return reinterpret_cast<uv_stream_t*>(&conn.handle); }

}  // namespace

TcpConnection* ConnectionSlab::allocate() {
  if (free_.empty()) {
    const auto first = static_cast<uint32_t>(capacity());
    chunks_.push_back(std::make_unique<TcpConnection[]>(kChunk));
    for (uint32_t i = kChunk; i > 0; --i) free_.push_back(first + i - 1);
  }
  const uint32_t index = free_.back();
  free_.pop_back();
  TcpConnection& conn = at(index);
  const uint32_t generation = conn.generation + 1;
  conn.~TcpConnection();
  new (&conn) TcpConnection;
  conn.generation = generation;
  conn.id = static_cast<uint64_t>(generation) << 32 | index;
  return &conn;
}

void ConnectionSlab::release(TcpConnection* conn) {
  const auto index = static_cast<uint32_t>(conn->id);
  conn->tls.reset();  // the session's memory now, not at the record's reuse
  std::vector<uint8_t>().swap(conn->partial);
  free_.push_back(index);
}

TcpConnection* ConnectionSlab::find(uint64_t id) const {
  const auto index = static_cast<uint32_t>(id);
  if (index >= capacity()) return nullptr;
  TcpConnection& conn = at(index);
  if (conn.id != id || !conn.registered || conn.closing) return nullptr;
  return &conn;
}

TcpServer::TcpServer(uv_loop_t& loop, const WorkerConfig& config, QueryPath& path,
                     stats::WorkerCounters& counters, unsigned slot)
    : loop_(loop),
      config_(config),
      path_(path),
      counters_(counters),
      slot_(slot),
      receive_(new uint8_t[kReadChunk]) {
  if (config_.tls) {
    tls_plain_.reset(new uint8_t[kTlsRecord]);
    tls_write_.reset(new uint8_t[kMaxMessage + 2]);
  }
  uv_idle_init(&loop_, &resume_idle_);
  resume_idle_.data = this;
  uv_timer_init(&loop_, &idle_timer_);
  idle_timer_.data = this;
  collapser_ = Collapser::create(
      loop_, config_, counters_, slot_,
      [](void* server, int fd) { static_cast<TcpServer*>(server)->onRevived(fd); }, this);
}

bool TcpServer::open(const ListenSocket& socket) {
  if (socket.tls && !config_.tls) {
    logLine("worker %u: tls %s: no TLS context", slot_, socket.address.c_str());
    return false;
  }
  auto* listener = new TcpListener;
  listener->server = this;
  listener->tls = socket.tls;
  listener->https = socket.https;
  int rc = uv_tcp_init(&loop_, &listener->handle);
  if (rc != 0) {
    delete listener;
    logError("worker %u: tcp %s: %s", slot_, socket.address.c_str(), uv_strerror(rc));
    return false;
  }
  listener->handle.data = listener;
  listeners_.push_back(listener);
  rc = uv_tcp_open(&listener->handle, socket.tcp_fd);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->handle), kListenBacklog,
                   worker::onConnection);
  }
  if (rc != 0) {
    logError("worker %u: tcp %s: %s", slot_, socket.address.c_str(), uv_strerror(rc));
    return false;
  }
  return true;
}

int64_t TcpServer::idleTimeout(ClientBucket bucket) const {
  const int64_t configured = config_.tcp_idle_timeout_ms;
  switch (bucket) {
    case ClientBucket::kKeepActive: return 3 * configured;
    case ClientBucket::kDontBother: return std::max<int64_t>(100, configured / 10);
    case ClientBucket::kCollapse: break;
  }
  return configured;
}

void TcpServer::armIdleTimer() {
  // The earliest of the buckets' heads (each list is in the order its
  // connections fall due).
  int64_t due = INT64_MAX;
  for (size_t b = 0; b < kClientBuckets; ++b) {
    if (lru_head_[b] == nullptr) continue;
    due = std::min(due, lru_head_[b]->active_ms + idleTimeout(lru_head_[b]->bucket));
  }
  const bool active = uv_is_active(reinterpret_cast<uv_handle_t*>(&idle_timer_));
  if (due == INT64_MAX || (active && idle_due_ms_ <= due)) return;
  const auto now = static_cast<int64_t>(uv_now(&loop_));
  idle_due_ms_ = due;
  uv_timer_start(&idle_timer_, worker::onIdleTimer,
                 due > now ? static_cast<uint64_t>(due - now) : 0, 0);
}

void TcpServer::onIdleTimer() {
  const auto now = static_cast<int64_t>(uv_now(&loop_));
  // Each head is the least recently active of its bucket: stop at the
  // first that is not quiet yet. A busy one checked here moves to the
  // tail, so each connection is checked once.
  for (size_t b = 0; b < kClientBuckets; ++b) {
    while (lru_head_[b] != nullptr &&
           lru_head_[b]->active_ms + idleTimeout(lru_head_[b]->bucket) <= now) {
      checkIdle(*lru_head_[b]);
    }
  }
  armIdleTimer();
}

std::vector<TcpConnection*> TcpServer::openConnections() const {
  std::vector<TcpConnection*> all;
  all.reserve(open_);
  for (size_t b = 0; b < kClientBuckets; ++b) {
    for (TcpConnection* conn = lru_head_[b]; conn != nullptr; conn = conn->lru_next) {
      all.push_back(conn);
    }
  }
  return all;
}

void TcpServer::publishClients(stats::ClientTable& table) {
  counters_.tcp_open.set(open_);
  const auto rows = history_.top(stats::kClientRows, wallMs());
  // A sequence lock: odd while the rows change (stats::readClients).
  table.sequence.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (size_t i = 0; i < rows.size(); ++i) {
    const ClientHistory::Entry& e = rows[i];
    stats::ClientRow& row = table.rows[i];
    const base::IpAddress address = e.key.address();
    std::memset(row.address, 0, sizeof row.address);
    std::memcpy(row.address, address.bytes().data(), address.size());
    row.v6 = e.key.v6 ? 1 : 0;
    row.bucket = static_cast<uint8_t>(e.bucket);
    row.open = e.open;
    row.connections = e.connections;
    row.queries = e.queries;
    row.rate_milli = static_cast<uint64_t>(e.rate * 1000.0);
    row.last_ms = e.last_ms;
  }
  table.count.store(static_cast<uint32_t>(rows.size()), std::memory_order_relaxed);
  table.sequence.fetch_add(1, std::memory_order_release);
}

void TcpServer::closeListeners() {
  for (TcpListener* listener : listeners_) {
    uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&listener->handle);
    if (!uv_is_closing(handle)) uv_close(handle, onListenerClosed);
  }
  listeners_.clear();
}

uv_buf_t TcpServer::receiveBuffer() {
  return uv_buf_init(reinterpret_cast<char*>(receive_.get()), static_cast<unsigned>(kReadChunk));
}

TcpConnection* TcpServer::newConnection() {
  TcpConnection* conn = slab_.allocate();
  conn->server = this;
  if (uv_tcp_init(&loop_, &conn->handle) != 0) {
    slab_.release(conn);
    return nullptr;
  }
  conn->handle.data = conn;
  conn->closing = true;  // until it is registered (admit)
  return conn;
}

void TcpServer::onConnection(TcpListener& listener) {
  TcpConnection* conn = newConnection();
  if (conn == nullptr) return;
  const bool accepted =
      uv_accept(reinterpret_cast<uv_stream_t*>(&listener.handle), streamOf(*conn)) == 0;
  if (admit(conn, accepted, listener.tls, listener.https, false)) ++counters_.tcp_accepted;
}

void TcpServer::onRevived(int fd) {
  TcpConnection* conn = newConnection();
  if (conn == nullptr) {
    ::close(fd);  // a normal socket again: the client sees a close
    return;
  }
  const bool opened = uv_tcp_open(&conn->handle, fd) == 0;
  if (!opened) ::close(fd);
  admit(conn, opened, false, false, true);
}

bool TcpServer::admit(TcpConnection* conn, bool open, bool tls, bool https, bool revived) {
  sockaddr_storage peer{};
  int peer_length = sizeof peer;
  const bool connected =
      open &&
      uv_tcp_getpeername(&conn->handle, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0;
  const auto address = addressOf(reinterpret_cast<const sockaddr*>(&peer));
  bool ok = connected && address && !stopping_;
  if (ok) conn->client = ClientKey::of(*address);
  if (ok && !admitClient(conn->client)) {
    ++counters_.tcp_client_limited;
    ++counters_.tcp_rejected;
    ok = false;
  } else if (ok && open_ >= config_.tcp_max_clients && !evictIdle()) {
    ++counters_.tcp_rejected;  // full, and every connection is busy
    releaseClient(conn->client);
    ok = false;
  }
  if (ok && tls) {
    conn->tls = TlsSession::create(*config_.tls, worker::onTlsOutput, conn, https);
    if (conn->tls && https) {
      conn->doh = DohSession::create(worker::onDohQuery, worker::onDohOutput, conn,
                                     config_.tcp_max_pipelined);
      if (!conn->doh) conn->tls.reset();
    }
    if (!conn->tls) {
      releaseClient(conn->client);
      ok = false;
    }
  }
  if (!ok) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->handle), onConnectionClosed);
    return false;
  }
  conn->closing = false;
  conn->registered = true;
  conn->peer = *address;
  conn->peer_port = portOf(reinterpret_cast<const sockaddr*>(&peer));
  if (revived) {
    conn->bucket = history_.onRevive(conn->client, wallMs());
  } else {
    conn->bucket = history_.onConnect(conn->client, wallMs());
    switch (conn->bucket) {
      case ClientBucket::kKeepActive: ++counters_.tcp_keep_active; break;
      case ClientBucket::kDontBother: ++counters_.tcp_dont_bother; break;
      case ClientBucket::kCollapse: ++counters_.tcp_collapse; break;
    }
  }
  ++open_;
  lruTouch(*conn);
  uv_tcp_nodelay(&conn->handle, 1);
  armIdleTimer();
  resume(*conn);
  return true;
}

void TcpServer::onRead(TcpConnection& conn, ssize_t nread, const uv_buf_t* buf) {
  if (conn.closing) return;
  if (nread > 0) {
    lruTouch(conn);
    const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(buf->base),
                                        static_cast<size_t>(nread));
    if (conn.tls) {
      feedTls(conn, data);
    } else {
      feed(conn, data);
    }
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_EOF) {
    // The client shut its side; answer what is in flight, then close.
    conn.eof = true;
    pause(conn);
    if (done(conn)) close(conn);
    return;
  }
  close(conn);  // reset or other error
}

void TcpServer::feedTls(TcpConnection& conn, std::span<const uint8_t> ciphertext) {
  TlsSession& tls = *conn.tls;
  tls.setInput(ciphertext);
  bool more = true;
  while (more && !conn.closing) {
    // Everything is decrypted now, even while pipelining is at its limit:
    // the plaintext then waits in `partial` like TCP's, and the session
    // keeps no input of ours (at most the start of a record).
    const auto result = tls.read({tls_plain_.get(), kTlsRecord});
    switch (result.event) {
      case TlsSession::Event::kHandshakeDone:
        ++counters_.tls_handshakes;
        if (conn.doh) flushDoh(conn);  // our SETTINGS
        break;
      case TlsSession::Event::kData:
        if (conn.doh) {
          feedDoh(conn, {tls_plain_.get(), result.length});
        } else {
          feed(conn, {tls_plain_.get(), result.length});
        }
        break;
      case TlsSession::Event::kNeedInput:
        more = false;
        break;
      case TlsSession::Event::kClosed:  // close_notify: like a TCP end of stream
        conn.eof = true;
        pause(conn);
        if (done(conn)) close(conn);
        more = false;
        break;
      case TlsSession::Event::kFailed:
        close(conn);
        more = false;
        break;
    }
  }
  tls.setInput({});
}

bool TcpServer::onTlsOutput(TcpConnection& conn, std::span<const uint8_t> ciphertext) {
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(ciphertext.data())),
                             static_cast<unsigned>(ciphertext.size()));
  if (conn.closing) {
    // close_notify on the way out (close()): what the socket takes now,
    // or nothing; the handles are closing.
    (void)uv_try_write(streamOf(conn), &buf, 1);
    return true;
  }
  return send(conn, {&buf, 1});
}

void TcpServer::feedDoh(TcpConnection& conn, std::span<const uint8_t> plaintext) {
  conn.processing = true;
  const bool ok = conn.doh->receive(plaintext);
  conn.processing = false;
  counters_.doh_errors += conn.doh->takeErrors();
  flushDoh(conn);  // answers from the cache, HTTP errors, or the GOAWAY
  if (!ok) {
    close(conn);
    return;
  }
  if (!conn.closing && !mayRead(conn)) pause(conn);
}

void TcpServer::flushDoh(TcpConnection& conn) {
  if (conn.closing) return;
  if (!conn.doh->flush() || (conn.doh->finished() && done(conn))) close(conn);
}

void TcpServer::onDohQuery(TcpConnection& conn, int32_t stream, std::span<const uint8_t> query) {
  if (conn.closing) return;
  ++counters_.doh_queries;
  lruTouch(conn);
  history_.onQuery(conn.client, wallMs());
  ++conn.queries;
  ClientOrigin origin;
  origin.tcp = true;
  origin.connection = conn.id;
  origin.stream = stream;
  origin.port = conn.peer_port;
  origin.tls = true;
  ++conn.in_flight;  // counted before the engine runs: it may answer at once
  const auto outcome = path_.handleQuery(query, conn.peer, origin);
  if (!outcome.pending) --conn.in_flight;
  if (!outcome.response.empty()) {
    conn.doh->respond(stream, outcome.response);
    ++counters_.answers_tcp;
  }
}

bool TcpServer::onDohOutput(TcpConnection& conn, std::span<const uint8_t> frames) {
  return !conn.closing && conn.tls->write(frames);
}

void TcpServer::feed(TcpConnection& conn, std::span<const uint8_t> data) {
  if (conn.partial.empty()) {
    const size_t used = processMessages(conn, data);
    if (!conn.closing && used < data.size()) {
      conn.partial.assign(data.begin() + static_cast<ptrdiff_t>(used), data.end());
      rebuffer(conn);
    }
    return;
  }
  conn.partial.insert(conn.partial.end(), data.begin(), data.end());
  processPartial(conn);
}

void TcpServer::processPartial(TcpConnection& conn) {
  const size_t used = processMessages(conn, conn.partial);
  if (conn.closing) return;
  if (used == conn.partial.size()) {
    std::vector<uint8_t>().swap(conn.partial);  // release: idle connections hold no buffer
  } else if (used > 0) {
    conn.partial.erase(conn.partial.begin(), conn.partial.begin() + static_cast<ptrdiff_t>(used));
  }
  rebuffer(conn);
}

size_t TcpServer::processMessages(TcpConnection& conn, std::span<const uint8_t> data) {
  size_t pos = 0;
  conn.processing = true;
  while (!conn.closing && data.size() - pos >= 2) {
    if (!mayRead(conn)) {
      pause(conn);  // the rest waits in `partial`
      break;
    }
    const size_t length = static_cast<size_t>(data[pos]) << 8 | data[pos + 1];
    if (length == 0) {
      ++counters_.tcp_bad_length;
      close(conn);
      break;
    }
    if (data.size() - pos - 2 < length) break;
    const auto query = data.subspan(pos + 2, length);
    pos += 2 + length;
    ClientOrigin origin;
    origin.tcp = true;
    origin.connection = conn.id;
    // The timeout of this connection's bucket (RFC 7828 section 3.3.2).
    origin.tcp_keepalive =
        static_cast<uint16_t>(std::min<int64_t>(idleTimeout(conn.bucket) / 100, 65535));
    origin.port = conn.peer_port;
    origin.tls = conn.tls != nullptr;
    history_.onQuery(conn.client, wallMs());
    ++conn.queries;
    // Counted before the engine runs: it may answer at once.
    ++conn.in_flight;
    const auto outcome = path_.handleQuery(query, conn.peer, origin);
    if (!outcome.pending) --conn.in_flight;
    if (!outcome.response.empty()) write(conn, outcome.response);
  }
  conn.processing = false;
  return pos;
}

void TcpServer::pause(TcpConnection& conn) {
  if (!conn.reading) return;
  uv_read_stop(streamOf(conn));
  conn.reading = false;
}

void TcpServer::resume(TcpConnection& conn) {
  if (conn.processing || conn.closing || conn.eof || stopping_) return;
  if (!conn.partial.empty()) {
    processPartial(conn);
    if (conn.closing) return;
  }
  if (conn.reading || !mayRead(conn)) return;
  if (uv_read_start(streamOf(conn), onAlloc, worker::onRead) != 0) {
    close(conn);
    return;
  }
  conn.reading = true;
}

void TcpServer::write(TcpConnection& conn, std::span<const uint8_t> message) {
  if (conn.closing) return;
  if (conn.tls) {
    writeTls(conn, message);
    return;
  }
  uint8_t prefix[2] = {static_cast<uint8_t>(message.size() >> 8),
                       static_cast<uint8_t>(message.size())};
  const uv_buf_t bufs[2] = {
      uv_buf_init(reinterpret_cast<char*>(prefix), 2),
      uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(message.data())),
                  static_cast<unsigned>(message.size()))};
  if (!send(conn, bufs)) {
    close(conn);
    return;
  }
  ++counters_.answers_tcp;
}

void TcpServer::writeTls(TcpConnection& conn, std::span<const uint8_t> message) {
  // The prefix and the message go into one record (one write, 22 octets of
  // overhead once): a copy, small next to the encryption.
  uint8_t* plain = tls_write_.get();
  plain[0] = static_cast<uint8_t>(message.size() >> 8);
  plain[1] = static_cast<uint8_t>(message.size());
  std::memcpy(plain + 2, message.data(), message.size());
  if (!conn.tls->write({plain, message.size() + 2})) {
    close(conn);
    return;
  }
  ++counters_.answers_tcp;
}

bool TcpServer::send(TcpConnection& conn, std::span<const uv_buf_t> bufs) {
  size_t total = 0;
  for (const uv_buf_t& buf : bufs) total += buf.len;
  // uv_try_write returns UV_EAGAIN while earlier writes are queued, so
  // queued and direct writes never reorder.
  const int written =
      uv_try_write(streamOf(conn), bufs.data(), static_cast<unsigned>(bufs.size()));
  if (written >= 0 && static_cast<size_t>(written) == total) return true;
  if (written < 0 && written != UV_EAGAIN) {
    ++counters_.send_errors;
    return false;
  }
  // Queue what is left (a copy: the caller's buffer is reused).
  size_t skip = written > 0 ? static_cast<size_t>(written) : 0;
  auto* write = new TcpWrite;
  write->conn = &conn;
  write->bytes.reserve(total - skip);
  for (const uv_buf_t& buf : bufs) {
    const size_t from = std::min(skip, buf.len);
    skip -= from;
    write->bytes.insert(write->bytes.end(), buf.base + from, buf.base + buf.len);
  }
  write->buf = uv_buf_init(reinterpret_cast<char*>(write->bytes.data()),
                           static_cast<unsigned>(write->bytes.size()));
  write->req.data = write;
  if (uv_write(&write->req, streamOf(conn), &write->buf, 1, worker::onWritten) != 0) {
    delete write;
    ++counters_.send_errors;
    return false;
  }
  ++conn.writes_queued;
  conn.queued_bytes += write->bytes.size();
  rebuffer(conn);
  return true;
}

void TcpServer::onWritten(TcpConnection& conn, int status, size_t bytes) {
  --conn.writes_queued;
  conn.queued_bytes -= std::min(bytes, conn.queued_bytes);
  if (conn.closing) return;
  if (status < 0) {
    ++counters_.send_errors;
    close(conn);
    return;
  }
  conn.wrote = true;
  rebuffer(conn);
  if ((conn.eof || stopping_) && done(conn)) {
    close(conn);
  } else if (!conn.reading && conn.queued_bytes <= config_.tcp_max_queued / 2) {
    scheduleResume(conn);  // the client reads again: so do we
  }
}

bool TcpServer::mayRead(TcpConnection& conn) {
  if (conn.in_flight >= config_.tcp_max_pipelined || stopping_) return false;
  if (conn.queued_bytes >= config_.tcp_max_queued) {
    if (conn.reading) ++counters_.tcp_paused;
    return false;
  }
  if (buffered_ >= config_.tcp_max_buffers) {
    if (conn.reading) ++counters_.tcp_paused;
    memory_paused_ = true;
    return false;
  }
  return true;
}

void TcpServer::rebuffer(TcpConnection& conn) {
  const size_t now = conn.closing ? 0 : conn.queued_bytes + conn.partial.capacity();
  buffered_ = buffered_ - conn.buffered + now;
  conn.buffered = now;
  if (memory_paused_ && buffered_ < config_.tcp_max_buffers / 4 * 3) {
    // Back under the cap with room: every connection that stopped reading
    // may go on (those still over their own cap stay paused).
    memory_paused_ = false;
    for (TcpConnection* other : openConnections()) {
      if (!other->reading && !other->eof) scheduleResume(*other);
    }
  }
}

void TcpServer::scheduleResume(TcpConnection& conn) {
  if (conn.resume_queued || conn.closing) return;
  conn.resume_queued = true;
  resume_.push_back(conn.id);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&resume_idle_))) {
    uv_idle_start(&resume_idle_, worker::onResume);
  }
}

void TcpServer::onResume() {
  uv_idle_stop(&resume_idle_);
  const std::vector<uint64_t> ids = std::move(resume_);
  resume_.clear();
  for (const uint64_t id : ids) {
    TcpConnection* conn = slab_.find(id);
    if (conn == nullptr) continue;
    conn->resume_queued = false;
    resume(*conn);
  }
}

bool TcpServer::admitClient(const ClientKey& client) {
  uint32_t& count = per_client_[client];
  if (count >= config_.tcp_max_per_client) return false;
  ++count;
  return true;
}

void TcpServer::releaseClient(const ClientKey& client) {
  const auto it = per_client_.find(client);
  if (it == per_client_.end()) return;
  if (--it->second == 0) per_client_.erase(it);
}

void TcpServer::lruTouch(TcpConnection& conn) {
  conn.active_ms = static_cast<int64_t>(uv_now(&loop_));
  conn.wrote = false;
  const size_t b = bucketIndex(conn.bucket);
  if (lru_tail_[b] == &conn) return;
  lruUnlink(conn);
  conn.lru_prev = lru_tail_[b];
  if (lru_tail_[b] != nullptr) lru_tail_[b]->lru_next = &conn;
  lru_tail_[b] = &conn;
  if (lru_head_[b] == nullptr) lru_head_[b] = &conn;
}

void TcpServer::lruUnlink(TcpConnection& conn) {
  if (conn.lru_prev != nullptr) conn.lru_prev->lru_next = conn.lru_next;
  if (conn.lru_next != nullptr) conn.lru_next->lru_prev = conn.lru_prev;
  const size_t b = bucketIndex(conn.bucket);
  if (lru_head_[b] == &conn) lru_head_[b] = conn.lru_next;
  if (lru_tail_[b] == &conn) lru_tail_[b] = conn.lru_prev;
  conn.lru_prev = conn.lru_next = nullptr;
}

bool TcpServer::evictIdle() {
  for (const ClientBucket bucket : kEvictOrder) {
    TcpConnection* conn = lru_head_[bucketIndex(bucket)];
    for (int i = 0; conn != nullptr && i < kEvictScan; ++i, conn = conn->lru_next) {
      if (conn->in_flight == 0 && conn->writes_queued == 0 && conn->partial.empty()) {
        ++counters_.tcp_idle_evicted;
        close(*conn);
        return true;
      }
    }
  }
  return false;
}

void TcpServer::answer(uint64_t connection, int32_t stream, std::span<const uint8_t> packet) {
  TcpConnection* found = slab_.find(connection);
  if (found == nullptr) {
    ++counters_.answers_orphaned;  // the client went away meanwhile
    return;
  }
  TcpConnection& conn = *found;
  if (conn.in_flight > 0) --conn.in_flight;
  if (conn.doh) {
    conn.doh->respond(stream, packet);
    ++counters_.answers_tcp;
    // Inside the session's receive (an answer at once), it sends after.
    if (!conn.processing) flushDoh(conn);
  } else {
    write(conn, packet);
  }
  if (conn.closing) return;
  if ((conn.eof || stopping_) && done(conn)) {
    close(conn);
  } else if (!conn.reading) {
    scheduleResume(conn);
  }
}

void TcpServer::checkIdle(TcpConnection& conn) {
  if (conn.writes_queued > 0 && !conn.wrote) {
    // Answers waiting for the client's window, and not one went out in a
    // whole timeout: it does not read them.
    ++counters_.tcp_stalled_closed;
    close(conn);
    return;
  }
  if (conn.in_flight > 0 || conn.writes_queued > 0) {
    // Not idle: waiting for the engine, or the client reads slowly.
    lruTouch(conn);
    return;
  }
  if (collapser_ && !conn.tls && conn.bucket == ClientBucket::kCollapse && conn.partial.empty() &&
      !conn.eof && !stopping_) {
    // Collapsed rather than closed: in repair mode, closing it sends nothing.
    uv_os_fd_t fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&conn.handle), &fd) == 0 &&
        collapser_->collapse(fd)) {
      conn.collapsed = true;
      close(conn);
      return;
    }
  }
  ++counters_.tcp_idle_closed;
  close(conn);
}

bool TcpServer::done(const TcpConnection& conn) const {
  return conn.in_flight == 0 && conn.writes_queued == 0;
}

void TcpServer::close(TcpConnection& conn) {
  if (conn.closing) return;
  conn.closing = true;
  if (conn.tls) {
    if (!conn.tls->established()) ++counters_.tls_handshake_failures;
    conn.tls->shutdown();  // close_notify (RFC 8446 section 6.1), best effort
  }
  if (conn.registered) {
    --open_;
    lruUnlink(conn);
    releaseClient(conn.client);
    if (conn.collapsed) {
      history_.onCollapse(conn.client);
    } else {
      history_.onClose(conn.client, conn.queries);
    }
  }
  rebuffer(conn);  // closing: counts nothing any more
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.handle), onConnectionClosed);
}

void TcpServer::onClosed(TcpConnection* conn) {
  slab_.release(conn);
  if (stopping_ && open_ == 0) path_.onTransportIdle();
}

void TcpServer::stop() {
  stopping_ = true;
  closeListeners();
  if (collapser_) collapser_->close();
  for (TcpConnection* conn : openConnections()) {
    pause(*conn);
    if (done(*conn)) close(*conn);
  }
}

void TcpServer::closeAll() {
  stopping_ = true;
  closeListeners();
  if (collapser_) collapser_->close();
  for (TcpConnection* conn : openConnections()) close(*conn);
  for (void* handle : {static_cast<void*>(&resume_idle_), static_cast<void*>(&idle_timer_)}) {
    auto* h = static_cast<uv_handle_t*>(handle);
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
}

}  // namespace shoal::worker
