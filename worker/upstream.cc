// Queries to authoritative servers. UDP: a fresh socket per query, bound to
// a random source port (on an outgoing_addresses entry of the server's
// family if configured) and connected to the server, so the kernel only
// delivers that server's datagrams and reports its ICMP errors
// (UV_ECONNREFUSED). TCP: a fresh connection, the query with its 2-octet
// length prefix, one length-prefixed reply. DNS over TLS to forwarders:
// the persistent, pipelined connections of DotPool (worker/dot_pool.h). Sockets live until the engine
// cancels their token (it may be waiting for the genuine reply after a
// datagram it rejected), the reply arrives (TCP), or they fail.

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "worker/clock.h"
#include "worker/sockaddr.h"
#include "worker/worker_loop.h"

namespace shoal::worker {
namespace {

/// Tries at random source ports before letting the kernel pick one.
constexpr int kBindAttempts = 8;
constexpr uint16_t kFirstPort = 1024;

void onClosed(uv_handle_t* handle) { delete static_cast<Upstream*>(handle->data); }

void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = static_cast<Upstream*>(handle->data)->worker->upstreamReceiveBuffer();
}

void onUdpReply(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                unsigned /*flags*/) {
  auto* up = static_cast<Upstream*>(handle->data);
  if (up->closing) return;
  if (nread < 0) {
    up->worker->onUpstreamFailure(*up);  // e.g. ICMP port unreachable
    return;
  }
  if (from == nullptr) return;  // nothing to read
  up->worker->onUpstreamReply(
      *up, {reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
}

void onUdpSent(uv_udp_send_t* req, int status) {
  auto* up = static_cast<Upstream*>(req->data);
  if (status < 0 && !up->closing) up->worker->onUpstreamFailure(*up);
}

void onConnected(uv_connect_t* req, int status) {
  auto* up = static_cast<Upstream*>(req->data);
  up->worker->onUpstreamConnected(*up, status);
}

void onUpstreamWritten(uv_write_t* req, int status) {
  auto* up = static_cast<Upstream*>(req->data);
  if (status < 0 && !up->closing) up->worker->onUpstreamFailure(*up);
}

void onUpstreamRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* up = static_cast<Upstream*>(stream->data);
  up->worker->onUpstreamTcpRead(*up, nread, buf);
}

}  // namespace

uv_buf_t Worker::upstreamReceiveBuffer() {
  return uv_buf_init(reinterpret_cast<char*>(upstream_recv_.get()),
                     static_cast<unsigned>(kUdpChunk));
}

bool Worker::startUpstream(resolver::UpstreamSend& send) {
  sockaddr_storage server{};
  toSockaddr(send.server, send.port, server);
  sockaddr_storage source{};
  const bool configured_source = pickSource(send.server, source);
  closeUpstream(send.token);  // a reused token would be an engine bug: never leak
  if (send.tls) {
    DotPool::Target target;
    target.server = server;
    target.source = source;
    target.bind_source = configured_source;
    target.name = std::move(send.tls_name);
    target.ca = std::move(send.tls_ca);
    return dot_.send(send.token, target, std::move(send.packet), wallMs());
  }
  auto* up = new Upstream;
  up->worker = this;
  up->token = send.token;
  up->tcp = send.tcp;
  up->started_ms = wallMs();
  up->packet = std::move(send.packet);
  upstreams_.emplace(up->token, up);
  const auto* server_address = reinterpret_cast<const sockaddr*>(&server);
  const bool ok = send.tcp ? startUpstreamTcp(*up, server_address, source, configured_source)
                           : startUpstreamUdp(*up, server_address, source);
  if (!ok) {
    ++counters_.upstream_socket_errors;
    closeUpstream(*up);
    return false;
  }
  ++(send.tcp ? counters_.upstream_tcp : counters_.upstream_udp);
  return true;
}

bool Worker::pickSource(const base::IpAddress& server, sockaddr_storage& source) {
  const auto& choices = server.isV4() ? config_.outgoing_v4 : config_.outgoing_v6;
  if (choices.empty()) {
    toSockaddr(anyAddressLike(server), 0, source);
    return false;
  }
  const size_t pick = choices.size() == 1 ? 0 : randomPort() % choices.size();
  toSockaddr(choices[pick], 0, source);
  return true;
}

bool Worker::startUpstreamUdp(Upstream& up, const sockaddr* server, sockaddr_storage& source) {
  if (uv_udp_init_ex(&loop_, &up.handle.udp, server->sa_family) != 0) return false;
  up.handle.udp.data = &up;
  up.initialized = true;
  const auto* local = reinterpret_cast<const sockaddr*>(&source);
  int rc = UV_EADDRINUSE;
  for (int attempt = 0; attempt < kBindAttempts && rc == UV_EADDRINUSE; ++attempt) {
    const uint16_t port = randomPort();
    if (port == 0) break;
    setPort(source, port);
    rc = uv_udp_bind(&up.handle.udp, local, 0);
  }
  if (rc != 0) {
    setPort(source, 0);  // the kernel's (also random) choice
    rc = uv_udp_bind(&up.handle.udp, local, 0);
  }
  if (rc != 0 || uv_udp_connect(&up.handle.udp, server) != 0 ||
      uv_udp_recv_start(&up.handle.udp, onAlloc, onUdpReply) != 0) {
    return false;
  }
  up.send_buf = uv_buf_init(reinterpret_cast<char*>(up.packet.data()),
                            static_cast<unsigned>(up.packet.size()));
  rc = uv_udp_try_send(&up.handle.udp, &up.send_buf, 1, nullptr);
  if (rc == UV_EAGAIN) {
    up.send.data = &up;
    rc = uv_udp_send(&up.send, &up.handle.udp, &up.send_buf, 1, nullptr, onUdpSent);
  }
  return rc >= 0;
}

bool Worker::startUpstreamTcp(Upstream& up, const sockaddr* server, sockaddr_storage& source,
                              bool bind_source) {
  if (uv_tcp_init_ex(&loop_, &up.handle.tcp, server->sa_family) != 0) return false;
  up.handle.tcp.data = &up;
  up.initialized = true;
  if (bind_source &&
      uv_tcp_bind(&up.handle.tcp, reinterpret_cast<const sockaddr*>(&source), 0) != 0) {
    return false;
  }
  const size_t length = up.packet.size();
  if (length > kMaxMessage) return false;
  const uint8_t prefix[2] = {static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
  up.packet.insert(up.packet.begin(), prefix, prefix + 2);
  up.connect.data = &up;
  return uv_tcp_connect(&up.connect, &up.handle.tcp, server, onConnected) == 0;
}

void Worker::onUpstreamConnected(Upstream& up, int status) {
  if (up.closing) return;  // UV_ECANCELED after a cancel
  if (status < 0) {
    onUpstreamFailure(up);
    return;
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&up.handle.tcp);
  up.send_buf = uv_buf_init(reinterpret_cast<char*>(up.packet.data()),
                            static_cast<unsigned>(up.packet.size()));
  up.write.data = &up;
  if (uv_write(&up.write, stream, &up.send_buf, 1, onUpstreamWritten) != 0 ||
      uv_read_start(stream, onAlloc, onUpstreamRead) != 0) {
    onUpstreamFailure(up);
  }
}

bool Worker::deliverUpstreamReply(Upstream& up) {
  if (up.reply.size() < 2) return false;
  const size_t length = static_cast<size_t>(up.reply[0]) << 8 | up.reply[1];
  if (up.reply.size() < 2 + length) return false;
  // One reply per connection: take it, close, then tell the engine.
  std::vector<uint8_t> reply(up.reply.begin() + 2,
                             up.reply.begin() + 2 + static_cast<ptrdiff_t>(length));
  closeUpstream(up);
  onUpstreamReply(up, reply);
  return true;
}

void Worker::onUpstreamTcpRead(Upstream& up, ssize_t nread, const uv_buf_t* buf) {
  if (up.closing || nread == 0) return;
  if (nread < 0) {
    onUpstreamFailure(up);  // reset, or EOF before a whole reply
    return;
  }
  const auto* data = reinterpret_cast<const uint8_t*>(buf->base);
  up.reply.insert(up.reply.end(), data, data + nread);
  deliverUpstreamReply(up);
}

void Worker::onUpstreamReply(Upstream& up, std::span<const uint8_t> reply) {
  onDotReply(up.token, reply);
}

void Worker::onDotReply(uint64_t token, std::span<const uint8_t> reply) {
  if (finished_) return;
  engine_->onUpstreamReply(token, reply, wallMs());
  drain();
}

void Worker::onUpstreamFailure(Upstream& up) {
  const uint64_t token = up.token;
  closeUpstream(up);
  onDotFailure(token);
}

void Worker::onDotFailure(uint64_t token) {
  if (finished_) return;
  // Reported from drain()'s own loop when it runs (a pooled connection can
  // break while drain() sends on it): the engine is never re-entered.
  failed_upstreams_.push_back(token);
  drain();
}

void Worker::closeUpstream(uint64_t token) {
  dot_.cancel(token);
  const auto it = upstreams_.find(token);
  if (it != upstreams_.end()) closeUpstream(*it->second);
}

void Worker::closeUpstream(Upstream& up) {
  if (up.closing) return;
  up.closing = true;
  const auto it = upstreams_.find(up.token);
  if (it != upstreams_.end() && it->second == &up) upstreams_.erase(it);
  if (up.initialized) {
    uv_close(up.baseHandle(), onClosed);  // pending send/connect/write get UV_ECANCELED first
  } else {
    delete &up;
  }
}

void Worker::onSweepTimer() {
  beat();  // the loop turns: not hung
  // Sockets the engine never cancelled (it should cancel every token it is
  // done with): closed once every deadline of their query is long past.
  const int64_t limit =
      wallMs() - config_.engine.query_timeout_ms - config_.engine.rto_max_ms - 1000;
  std::vector<Upstream*> stale;
  for (const auto& [token, up] : upstreams_) {
    if (up->started_ms < limit) stale.push_back(up);
  }
  for (Upstream* up : stale) {
    ++counters_.upstream_swept;
    closeUpstream(*up);
  }
  dot_.sweep(wallMs(), limit);
}

uint16_t Worker::randomPort() {
  if (random_used_ + 2 > sizeof random_) {
    if (getrandom(random_, sizeof random_, 0) != static_cast<ssize_t>(sizeof random_)) return 0;
    random_used_ = 0;
  }
  const unsigned value =
      static_cast<unsigned>(random_[random_used_]) << 8 | random_[random_used_ + 1];
  random_used_ += 2;
  return static_cast<uint16_t>(kFirstPort + value % (65536u - kFirstPort));
}

}  // namespace shoal::worker
