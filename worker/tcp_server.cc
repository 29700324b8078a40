// Client TCP (RFC 7766): accept up to tcp_max_clients connections; read
// 2-octet length-prefixed queries, several in flight per connection
// (pipelining, section 6.2.1.1), answered in whatever order they complete;
// close connections idle for tcp_idle_timeout.
//
// Idle connections are kept cheap: reads land in the worker's shared
// receive buffer (one read at a time in the whole worker), complete
// messages are handled straight from it, and only an incomplete tail is
// copied into the connection's `partial` buffer, which is freed again as
// soon as the message is complete. A connection waiting for its next query
// holds its two libuv handles and nothing else.

#include <vector>

#include "base/log.h"
#include "worker/sockaddr.h"
#include "worker/worker_loop.h"

namespace shoal::worker {

using base::logLine;
namespace {

constexpr int kListenBacklog = 1024;

struct TcpWrite {
  uv_write_t req{};
  uv_buf_t buf{};
  TcpConnection* conn = nullptr;
  std::vector<uint8_t> bytes;
};

void onConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* listener = static_cast<TcpListener*>(server->data);
  listener->worker->onTcpConnection(*listener);
}

void onListenerClosed(uv_handle_t* handle) { delete static_cast<TcpListener*>(handle->data); }

void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = static_cast<TcpConnection*>(handle->data)->worker->tcpReceiveBuffer();
}

void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* conn = static_cast<TcpConnection*>(stream->data);
  conn->worker->onTcpRead(*conn, nread, buf);
}

void onIdle(uv_timer_t* timer) {
  auto* conn = static_cast<TcpConnection*>(timer->data);
  conn->worker->onTcpIdle(*conn);
}

void onWritten(uv_write_t* req, int status) {
  auto* write = static_cast<TcpWrite*>(req->data);
  TcpConnection* conn = write->conn;
  delete write;
  conn->worker->onTcpWritten(*conn, status);
}

void onConnectionClosed(uv_handle_t* handle) {
  auto* conn = static_cast<TcpConnection*>(handle->data);
  if (--conn->handles_open == 0) conn->worker->onTcpClosed(conn);
}

uv_stream_t* streamOf(TcpConnection& conn) { return reinterpret_cast<uv_stream_t*>(&conn.handle); }

}  // namespace

bool Worker::openTcp(const ListenSocket& socket) {
  auto* listener = new TcpListener;
  listener->worker = this;
  int rc = uv_tcp_init(&loop_, &listener->handle);
  if (rc != 0) {
    delete listener;
    logLine("worker %u: tcp %s: %s", slot_, socket.address.c_str(), uv_strerror(rc));
    return false;
  }
  listener->handle.data = listener;
  tcp_.push_back(listener);
  rc = uv_tcp_open(&listener->handle, socket.tcp_fd);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->handle), kListenBacklog, onConnection);
  }
  if (rc != 0) {
    logLine("worker %u: tcp %s: %s", slot_, socket.address.c_str(), uv_strerror(rc));
    return false;
  }
  return true;
}

void Worker::closeTcpListeners() {
  for (TcpListener* listener : tcp_) {
    uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&listener->handle);
    if (!uv_is_closing(handle)) uv_close(handle, onListenerClosed);
  }
  tcp_.clear();
}

uv_buf_t Worker::tcpReceiveBuffer() {
  return uv_buf_init(reinterpret_cast<char*>(tcp_recv_.get()), static_cast<unsigned>(kUdpChunk));
}

void Worker::onTcpConnection(TcpListener& listener) {
  auto* conn = new TcpConnection;
  conn->worker = this;
  if (uv_tcp_init(&loop_, &conn->handle) != 0) {
    delete conn;
    return;
  }
  conn->handle.data = conn;
  conn->handles_open = 1;
  conn->closing = true;  // until it is registered below
  auto* server = reinterpret_cast<uv_stream_t*>(&listener.handle);
  sockaddr_storage peer{};
  int peer_length = sizeof peer;
  const bool accepted =
      uv_accept(server, streamOf(*conn)) == 0 &&
      uv_tcp_getpeername(&conn->handle, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0;
  const auto address = addressOf(reinterpret_cast<const sockaddr*>(&peer));
  const bool room = connections_.size() < config_.tcp_max_clients && !stopping_;
  if (!accepted || !address || !room) {
    if (accepted && !room) ++counters_.tcp_rejected;
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->handle), onConnectionClosed);
    return;
  }
  uv_timer_init(&loop_, &conn->idle);
  conn->idle.data = conn;
  conn->handles_open = 2;
  conn->closing = false;
  conn->id = next_connection_++;
  conn->peer = *address;
  connections_.emplace(conn->id, conn);
  ++counters_.tcp_accepted;
  uv_tcp_nodelay(&conn->handle, 1);
  uv_timer_start(&conn->idle, onIdle, static_cast<uint64_t>(config_.tcp_idle_timeout_ms), 0);
  resumeTcp(*conn);
}

void Worker::onTcpRead(TcpConnection& conn, ssize_t nread, const uv_buf_t* buf) {
  if (conn.closing) return;
  if (nread > 0) {
    uv_timer_start(&conn.idle, onIdle, static_cast<uint64_t>(config_.tcp_idle_timeout_ms), 0);
    feedTcp(conn, {reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_EOF) {
    // The client shut its side; answer what is in flight, then close.
    conn.eof = true;
    pauseTcp(conn);
    if (tcpDone(conn)) closeTcp(conn);
    return;
  }
  closeTcp(conn);  // reset or other error
}

void Worker::feedTcp(TcpConnection& conn, std::span<const uint8_t> data) {
  if (conn.partial.empty()) {
    const size_t used = processTcpMessages(conn, data);
    if (!conn.closing && used < data.size())
      conn.partial.assign(data.begin() + static_cast<ptrdiff_t>(used), data.end());
    return;
  }
  conn.partial.insert(conn.partial.end(), data.begin(), data.end());
  processPartial(conn);
}

void Worker::processPartial(TcpConnection& conn) {
  const size_t used = processTcpMessages(conn, conn.partial);
  if (conn.closing) return;
  if (used == conn.partial.size()) {
    std::vector<uint8_t>().swap(conn.partial);  // release: idle connections hold no buffer
  } else if (used > 0) {
    conn.partial.erase(conn.partial.begin(), conn.partial.begin() + static_cast<ptrdiff_t>(used));
  }
}

size_t Worker::processTcpMessages(TcpConnection& conn, std::span<const uint8_t> data) {
  size_t pos = 0;
  conn.processing = true;
  while (!conn.closing && data.size() - pos >= 2) {
    if (conn.in_flight >= config_.tcp_max_pipelined || stopping_) {
      pauseTcp(conn);  // the rest waits in `partial`
      break;
    }
    const size_t length = static_cast<size_t>(data[pos]) << 8 | data[pos + 1];
    if (length == 0) {
      ++counters_.tcp_bad_length;
      closeTcp(conn);
      break;
    }
    if (data.size() - pos - 2 < length) break;
    const auto query = data.subspan(pos + 2, length);
    pos += 2 + length;
    ClientOrigin origin;
    origin.tcp = &conn;
    const auto response = handleQuery(query, conn.peer, origin);
    if (!response.empty()) writeTcp(conn, response);
  }
  conn.processing = false;
  return pos;
}

void Worker::pauseTcp(TcpConnection& conn) {
  if (!conn.reading) return;
  uv_read_stop(streamOf(conn));
  conn.reading = false;
}

void Worker::resumeTcp(TcpConnection& conn) {
  if (conn.processing || conn.closing || conn.eof || stopping_) return;
  if (!conn.partial.empty()) {
    processPartial(conn);
    if (conn.closing || conn.in_flight >= config_.tcp_max_pipelined) return;
  }
  if (conn.reading) return;
  if (uv_read_start(streamOf(conn), onAlloc, onRead) != 0) {
    closeTcp(conn);
    return;
  }
  conn.reading = true;
}

void Worker::writeTcp(TcpConnection& conn, std::span<const uint8_t> message) {
  if (conn.closing) return;
  uint8_t prefix[2] = {static_cast<uint8_t>(message.size() >> 8),
                       static_cast<uint8_t>(message.size())};
  uv_buf_t bufs[2] = {uv_buf_init(reinterpret_cast<char*>(prefix), 2),
                      uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(message.data())),
                                  static_cast<unsigned>(message.size()))};
  const size_t total = message.size() + 2;
  // uv_try_write returns UV_EAGAIN while earlier writes are queued, so
  // queued and direct writes never reorder.
  const int written = uv_try_write(streamOf(conn), bufs, 2);
  if (written >= 0 && static_cast<size_t>(written) == total) {
    ++counters_.answers_tcp;
    return;
  }
  if (written < 0 && written != UV_EAGAIN) {
    ++counters_.send_errors;
    closeTcp(conn);
    return;
  }
  // Queue what is left (a copy: the caller's buffer is reused).
  const size_t done = written > 0 ? static_cast<size_t>(written) : 0;
  auto* write = new TcpWrite;
  write->conn = &conn;
  write->bytes.reserve(total - done);
  for (size_t i = done; i < 2; ++i) write->bytes.push_back(prefix[i]);
  write->bytes.insert(write->bytes.end(),
                      message.begin() + static_cast<ptrdiff_t>(done > 2 ? done - 2 : 0),
                      message.end());
  write->buf = uv_buf_init(reinterpret_cast<char*>(write->bytes.data()),
                           static_cast<unsigned>(write->bytes.size()));
  write->req.data = write;
  if (uv_write(&write->req, streamOf(conn), &write->buf, 1, onWritten) != 0) {
    delete write;
    ++counters_.send_errors;
    closeTcp(conn);
    return;
  }
  ++conn.writes_queued;
  ++counters_.answers_tcp;
}

void Worker::onTcpWritten(TcpConnection& conn, int status) {
  --conn.writes_queued;
  if (conn.closing) return;
  if (status < 0) {
    ++counters_.send_errors;
    closeTcp(conn);
    return;
  }
  if ((conn.eof || stopping_) && tcpDone(conn)) closeTcp(conn);
}

void Worker::answerTcp(uint64_t connection, std::span<const uint8_t> packet) {
  const auto it = connections_.find(connection);
  if (it == connections_.end()) {
    ++counters_.answers_orphaned;  // the client went away meanwhile
    return;
  }
  TcpConnection& conn = *it->second;
  if (conn.in_flight > 0) --conn.in_flight;
  writeTcp(conn, packet);
  if (conn.closing) return;
  if ((conn.eof || stopping_) && tcpDone(conn)) {
    closeTcp(conn);
  } else if (!conn.reading) {
    resumeTcp(conn);
  }
}

void Worker::onTcpIdle(TcpConnection& conn) {
  if (conn.closing) return;
  if (conn.in_flight > 0 || conn.writes_queued > 0) {
    // Not idle: waiting for the engine or the client's window.
    uv_timer_start(&conn.idle, onIdle, static_cast<uint64_t>(config_.tcp_idle_timeout_ms), 0);
    return;
  }
  ++counters_.tcp_idle_closed;
  closeTcp(conn);
}

bool Worker::tcpDone(const TcpConnection& conn) const {
  return conn.in_flight == 0 && conn.writes_queued == 0;
}

void Worker::closeTcp(TcpConnection& conn) {
  if (conn.closing) return;
  conn.closing = true;
  connections_.erase(conn.id);
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.handle), onConnectionClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.idle), onConnectionClosed);
}

void Worker::onTcpClosed(TcpConnection* conn) {
  delete conn;
  if (stopping_) maybeFinishStop();
}

void Worker::stopTcp() {
  closeTcpListeners();
  std::vector<TcpConnection*> open;
  open.reserve(connections_.size());
  for (const auto& [id, conn] : connections_) open.push_back(conn);
  for (TcpConnection* conn : open) {
    pauseTcp(*conn);
    if (tcpDone(*conn)) closeTcp(*conn);
  }
}

void Worker::closeAllTcp() {
  closeTcpListeners();
  std::vector<TcpConnection*> open;
  open.reserve(connections_.size());
  for (const auto& [id, conn] : connections_) open.push_back(conn);
  for (TcpConnection* conn : open) closeTcp(*conn);
}

}  // namespace shoal::worker
