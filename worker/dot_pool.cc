#include "worker/dot_pool.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "worker/clock.h"

namespace shoal::worker {
namespace {

constexpr size_t kReceiveChunk = 64 * 1024;
constexpr size_t kTlsRecord = 16384;
constexpr size_t kMaxMessage = 65535;

}  // namespace

/// One query on a connection: its message with the 2-octet length prefix
/// (kept until answered, to be sent again if the connection breaks).
struct DotQuery {
  uint64_t token = 0;
  uint16_t id = 0;
  bool sent = false;
  bool retried = false;  // sent again once already after a broken connection
  int64_t queued_ms = 0;
  std::vector<uint8_t> packet;
};

/// One TLS connection to an upstream. Freed in its uv_close callback.
struct DotConnection {
  uv_tcp_t handle{};
  uv_connect_t connect{};
  DotPool* pool = nullptr;
  std::string key;
  DotPool::Target target;
  std::unique_ptr<TlsSession> tls;
  std::vector<DotQuery> queries;  // in flight or waiting for the handshake
  std::vector<uint8_t> plain;     // reply octets not yet a whole message
  int64_t idle_since_ms = 0;
  uint32_t replies = 0;     // answered on this connection
  uint32_t unanswered = 0;  // queries cancelled unanswered since the last reply
  bool established = false;
  bool retiring = false;  // takes no new query; closes when its last is done
  bool closing = false;
};

namespace {

/// Ciphertext the socket did not take at once.
struct DotWrite {
  uv_write_t req{};
  std::vector<uint8_t> data;
  uv_buf_t buf{};
  DotConnection* conn = nullptr;
};

DotConnection& connectionOf(uv_handle_t* handle) {
  return *static_cast<DotConnection*>(handle->data);
}

void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = connectionOf(handle).pool->receiveBuffer();
}

void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  DotConnection& conn = connectionOf(reinterpret_cast<uv_handle_t*>(stream));
  conn.pool->onRead(conn, nread, buf);
}

void onConnected(uv_connect_t* req, int status) {
  auto& conn = *static_cast<DotConnection*>(req->data);
  conn.pool->onConnected(conn, status);
}

void onWritten(uv_write_t* req, int status) {
  auto* write = static_cast<DotWrite*>(req->data);
  DotConnection& conn = *write->conn;
  delete write;
  if (status < 0) conn.pool->onWriteFailed(conn);
}

void onClosed(uv_handle_t* handle) {
  auto* conn = static_cast<DotConnection*>(handle->data);
  conn->pool->onClosed(conn);
}

bool sendCiphertext(void* context, std::span<const uint8_t> data) {
  auto& conn = *static_cast<DotConnection*>(context);
  return conn.pool->sendCiphertext(conn, data);
}

}  // namespace

DotPool::DotPool(uv_loop_t& loop, UpstreamEvents& events, stats::WorkerCounters& counters,
                 unsigned slot)
    : loop_(loop),
      events_(events),
      counters_(counters),
      slot_(slot) {}

DotPool::~DotPool() = default;

std::string DotPool::keyOf(const Target& target) {
  // The server's address and port, then the name and CA it is verified
  // with: a ticket or a connection is only reused for the same all three.
  std::string key;
  const auto& server = target.server;
  if (server.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(server);
    key.append(reinterpret_cast<const char*>(&v4.sin_port), sizeof v4.sin_port);
    key.append(reinterpret_cast<const char*>(&v4.sin_addr), sizeof v4.sin_addr);
  } else {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(server);
    key.append(reinterpret_cast<const char*>(&v6.sin6_port), sizeof v6.sin6_port);
    key.append(reinterpret_cast<const char*>(&v6.sin6_addr), sizeof v6.sin6_addr);
    key.append(reinterpret_cast<const char*>(&v6.sin6_scope_id), sizeof v6.sin6_scope_id);
  }
  key += '\0';
  key += target.name;
  key += '\0';
  key += target.ca;
  return key;
}

const TlsContext* DotPool::contextFor(const std::string& ca) {
  auto it = contexts_.find(ca);
  if (it == contexts_.end()) {
    auto loaded = TlsContext::client(ca);
    if (!loaded.context) {
      base::logError("worker %u: DNS over TLS to upstreams: %s", slot_, loaded.error.c_str());
    }
    it = contexts_.emplace(ca, std::move(loaded.context)).first;
  }
  return it->second.get();
}

bool DotPool::send(uint64_t token, const Target& target, std::vector<uint8_t> packet,
                   int64_t now_ms) {
  if (closed_ || packet.size() < 2 || packet.size() > kMaxMessage) return false;
  cancel(token);  // a reused token would be an engine bug: never answer it twice
  DotQuery query;
  query.token = token;
  query.id = static_cast<uint16_t>(packet[0] << 8 | packet[1]);
  query.queued_ms = now_ms;
  const size_t length = packet.size();
  query.packet.reserve(length + 2);
  query.packet.push_back(static_cast<uint8_t>(length >> 8));
  query.packet.push_back(static_cast<uint8_t>(length));
  query.packet.insert(query.packet.end(), packet.begin(), packet.end());
  const std::string key = keyOf(target);
  DotConnection* conn = connectionFor(key, target, query.id);
  if (conn == nullptr) return false;
  ++counters_.upstream_tls;
  return queue(*conn, std::move(query));
}

DotConnection* DotPool::connectionFor(const std::string& key, const Target& target,
                                      uint16_t id) {
  size_t usable = 0;
  auto& list = by_key_[key];
  for (DotConnection* conn : list) {
    if (conn->closing || conn->retiring) continue;
    ++usable;
    if (conn->queries.size() >= kMaxInFlight) continue;
    const bool id_taken = std::any_of(conn->queries.begin(), conn->queries.end(),
                                      [id](const DotQuery& q) { return q.id == id; });
    if (!id_taken) return conn;  // the oldest with room: few connections, kept busy
  }
  if (usable >= kMaxConnections) return nullptr;
  return open(key, target);
}

void DotPool::prepare(const std::string& ca) {
  if (contextFor(ca) == nullptr) return;
  if (!receive_) {  // buffers only for a worker that uses DNS over TLS
    receive_.reset(new uint8_t[kReceiveChunk]);
    plain_.reset(new uint8_t[kTlsRecord]);
  }
}

DotConnection* DotPool::open(const std::string& key, const Target& target) {
  prepare(target.ca);
  if (contextFor(target.ca) == nullptr) return nullptr;
  auto* conn = new DotConnection;
  conn->pool = this;
  conn->key = key;
  conn->target = target;
  if (uv_tcp_init_ex(&loop_, &conn->handle, target.server.ss_family) != 0) {
    delete conn;
    return nullptr;
  }
  conn->handle.data = conn;
  by_key_[key].push_back(conn);
  conn->connect.data = conn;
  if ((target.bind_source &&
       uv_tcp_bind(&conn->handle, reinterpret_cast<const sockaddr*>(&target.source), 0) != 0) ||
      uv_tcp_connect(&conn->connect, &conn->handle,
                     reinterpret_cast<const sockaddr*>(&target.server), worker::onConnected) != 0) {
    ++counters_.upstream_socket_errors;
    close(*conn);
    return nullptr;
  }
  ++counters_.upstream_tls_connections;
  return conn;
}

bool DotPool::queue(DotConnection& conn, DotQuery&& query) {
  conn.queries.push_back(std::move(query));
  tokens_[conn.queries.back().token] = &conn;
  if (conn.established) writeQuery(conn, conn.queries.back());
  return true;  // a write that failed has reported the token already
}

void DotPool::writeQuery(DotConnection& conn, DotQuery& query) {
  if (!conn.tls->write(query.packet)) {
    fail(conn);
    return;
  }
  query.sent = true;
}

void DotPool::onConnected(DotConnection& conn, int status) {
  if (conn.closing) return;  // UV_ECANCELED after close
  const TlsContext* context = contextFor(conn.target.ca);
  if (status < 0 || context == nullptr) {
    fail(conn);
    return;
  }
  static const TlsTicket kNoTicket;
  const auto ticket = tickets_.find(conn.key);
  conn.tls = TlsSession::createClient(*context, worker::sendCiphertext, &conn, conn.target.name,
                                      ticket != tickets_.end() ? ticket->second : kNoTicket);
  if (!conn.tls ||
      uv_read_start(reinterpret_cast<uv_stream_t*>(&conn.handle), onAlloc, worker::onRead) != 0) {
    fail(conn);
    return;
  }
  onRead(conn, 0, nullptr);  // the ClientHello
}

void DotPool::onRead(DotConnection& conn, ssize_t nread, const uv_buf_t* buf) {
  if (conn.closing) return;
  if (nread < 0) {
    fail(conn);  // EOF or reset: quiet when nothing was in flight
    return;
  }
  if (buf == nullptr) {
    conn.tls->setInput({});
  } else if (nread == 0) {
    return;
  } else {
    conn.tls->setInput({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
  }
  const std::span<uint8_t> plain(plain_.get(), kTlsRecord);
  for (;;) {
    const auto result = conn.tls->read(plain);
    if (TlsTicket ticket = conn.tls->takeTicket()) tickets_[conn.key] = std::move(ticket);
    switch (result.event) {
      case TlsSession::Event::kHandshakeDone:
        onHandshakeDone(conn);
        if (conn.closing) return;
        continue;
      case TlsSession::Event::kData:
        conn.plain.insert(conn.plain.end(), plain.begin(),
                          plain.begin() + static_cast<ptrdiff_t>(result.length));
        deliverReplies(conn);
        if (conn.closing) return;
        continue;
      case TlsSession::Event::kNeedInput:
        return;
      case TlsSession::Event::kClosed:
      case TlsSession::Event::kFailed:
        fail(conn);  // a certificate refused, or the upstream hung up
        return;
    }
  }
}

void DotPool::onHandshakeDone(DotConnection& conn) {
  conn.established = true;
  if (conn.tls->resumed()) ++counters_.upstream_tls_resumed;
  for (DotQuery& query : conn.queries) {
    if (query.sent) continue;
    writeQuery(conn, query);
    if (conn.closing) return;
  }
}

void DotPool::deliverReplies(DotConnection& conn) {
  size_t used = 0;
  while (!conn.closing && conn.plain.size() - used >= 2) {
    const size_t length = static_cast<size_t>(conn.plain[used]) << 8 | conn.plain[used + 1];
    if (conn.plain.size() - used < 2 + length) break;
    const uint8_t* message = conn.plain.data() + used + 2;
    used += 2 + length;
    if (length < 2) continue;
    const auto id = static_cast<uint16_t>(message[0] << 8 | message[1]);
    const auto it = std::find_if(conn.queries.begin(), conn.queries.end(),
                                 [id](const DotQuery& q) { return q.sent && q.id == id; });
    if (it == conn.queries.end()) continue;  // cancelled: the engine is done with it
    const uint64_t token = it->token;
    conn.queries.erase(it);
    tokens_.erase(token);
    ++conn.replies;
    conn.unanswered = 0;
    if (conn.queries.empty()) conn.idle_since_ms = wallMs();
    // Copied: the engine may send on this connection meanwhile, or close it.
    const std::vector<uint8_t> reply(message, message + length);
    events_.onUpstreamReply(token, reply);
  }
  if (!conn.closing) {
    conn.plain.erase(conn.plain.begin(), conn.plain.begin() + static_cast<ptrdiff_t>(used));
  }
  if (conn.plain.empty()) std::vector<uint8_t>().swap(conn.plain);  // idle: no buffer
}

void DotPool::cancel(uint64_t token) {
  const auto found = tokens_.find(token);
  if (found == tokens_.end()) return;
  DotConnection& conn = *found->second;
  tokens_.erase(found);
  const auto it = std::find_if(conn.queries.begin(), conn.queries.end(),
                               [token](const DotQuery& q) { return q.token == token; });
  if (it == conn.queries.end()) return;
  if (it->sent && ++conn.unanswered >= kMaxUnanswered) conn.retiring = true;
  conn.queries.erase(it);
  if (!conn.queries.empty()) return;
  conn.idle_since_ms = wallMs();
  // Nobody waits for a connection still being set up, or one that stopped
  // answering.
  if (!conn.established || conn.retiring) close(conn);
}

void DotPool::fail(DotConnection& conn) {
  if (conn.closing) return;
  const bool answered_before = conn.replies > 0;
  const std::string key = conn.key;
  const Target target = conn.target;
  std::vector<DotQuery> queries = std::move(conn.queries);
  conn.queries.clear();
  close(conn);
  for (DotQuery& query : queries) tokens_.erase(query.token);
  for (DotQuery& query : queries) {
    // An upstream closing a connection that served us as we send on it is
    // expected (RFC 7766 section 6.2.3): the query goes again, once, on a
    // new connection.
    if (answered_before && !query.retried && !closed_) {
      query.retried = true;
      query.sent = false;
      DotConnection* next = connectionFor(key, target, query.id);
      if (next != nullptr) {
        ++counters_.upstream_tls_resent;
        queue(*next, std::move(query));
        continue;
      }
    }
    if (!closed_) events_.onUpstreamFailure(query.token);
  }
}

void DotPool::detach(DotConnection& conn) {
  const auto it = by_key_.find(conn.key);
  if (it == by_key_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), &conn), list.end());
  if (list.empty()) by_key_.erase(it);
}

void DotPool::close(DotConnection& conn) {
  if (conn.closing) return;
  conn.closing = true;
  detach(conn);
  for (const DotQuery& query : conn.queries) tokens_.erase(query.token);
  conn.queries.clear();
  if (conn.tls && conn.established && !conn.tls->failed()) conn.tls->shutdown();
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.handle), worker::onClosed);
}

void DotPool::onWriteFailed(DotConnection& conn) {
  if (!conn.closing) fail(conn);
}

void DotPool::onClosed(DotConnection* conn) { delete conn; }

bool DotPool::sendCiphertext(DotConnection& conn, std::span<const uint8_t> data) {
  if (conn.closing) return false;
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn.handle);
  uv_buf_t now = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                             static_cast<unsigned>(data.size()));
  const int written = uv_try_write(stream, &now, 1);
  if (written == static_cast<int>(data.size())) return true;
  if (written < 0 && written != UV_EAGAIN) return false;
  auto* write = new DotWrite;
  write->conn = &conn;
  write->data.assign(data.begin() + std::max(written, 0), data.end());
  write->buf = uv_buf_init(reinterpret_cast<char*>(write->data.data()),
                           static_cast<unsigned>(write->data.size()));
  write->req.data = write;
  if (uv_write(&write->req, stream, &write->buf, 1, onWritten) != 0) {
    delete write;
    return false;
  }
  return true;
}

uv_buf_t DotPool::receiveBuffer() {
  return uv_buf_init(reinterpret_cast<char*>(receive_.get()), static_cast<unsigned>(kReceiveChunk));
}

void DotPool::sweep(int64_t now_ms, int64_t stale_before_ms) {
  std::vector<DotConnection*> all;
  for (const auto& [key, list] : by_key_) all.insert(all.end(), list.begin(), list.end());
  for (DotConnection* conn : all) {
    auto& queries = conn->queries;
    for (auto it = queries.begin(); it != queries.end();) {
      if (it->queued_ms >= stale_before_ms) {
        ++it;
        continue;
      }
      ++counters_.upstream_swept;
      tokens_.erase(it->token);
      it = queries.erase(it);
      if (queries.empty()) conn->idle_since_ms = now_ms;
    }
    if (queries.empty() &&
        (!conn->established || conn->retiring || now_ms - conn->idle_since_ms >= kIdleMs)) {
      close(*conn);
    }
  }
}

void DotPool::closeAll() {
  closed_ = true;
  std::vector<DotConnection*> all;
  for (const auto& [key, list] : by_key_) all.insert(all.end(), list.begin(), list.end());
  for (DotConnection* conn : all) close(*conn);
  tokens_.clear();
}

size_t DotPool::connections() const {
  size_t count = 0;
  for (const auto& [key, list] : by_key_) count += list.size();
  return count;
}

}  // namespace shoal::worker
