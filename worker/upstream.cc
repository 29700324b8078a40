// Queries to authoritative servers and forwarders (worker/upstream.h).

#include "worker/upstream.h"

#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "worker/clock.h"
#include "worker/query_path.h"
#include "worker/sockaddr.h"

namespace shoal::worker {
namespace {

/// Tries at random source ports before letting the kernel pick one.
constexpr int kBindAttempts = 8;
constexpr uint16_t kFirstPort = 1024;

Upstream& upstreamOf(const void* data) { return *static_cast<Upstream*>(const_cast<void*>(data)); }

void onClosed(uv_handle_t* handle) { delete static_cast<Upstream*>(handle->data); }

void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  *buf = upstreamOf(handle->data).transport->receiveBuffer();
}

void onUdpReply(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                unsigned /*flags*/) {
  Upstream& up = upstreamOf(handle->data);
  up.transport->onUdpReply(up, nread, buf, from);
}

void onUdpSent(uv_udp_send_t* req, int status) {
  Upstream& up = upstreamOf(req->data);
  if (status < 0 && !up.closing) up.transport->onFailure(up);
}

void onConnected(uv_connect_t* req, int status) {
  Upstream& up = upstreamOf(req->data);
  up.transport->onConnected(up, status);
}

void onWritten(uv_write_t* req, int status) {
  Upstream& up = upstreamOf(req->data);
  if (status < 0 && !up.closing) up.transport->onFailure(up);
}

void onTcpRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Upstream& up = upstreamOf(stream->data);
  up.transport->onTcpRead(up, nread, buf);
}

}  // namespace

UpstreamTransport::UpstreamTransport(uv_loop_t& loop, const WorkerConfig& config,
                                     UpstreamEvents& events, stats::WorkerCounters& counters,
                                     unsigned slot)
    : loop_(loop),
      config_(config),
      events_(events),
      counters_(counters),
      receive_(new uint8_t[kReadChunk]),
      dot_(loop, events, counters, slot) {}

uv_buf_t UpstreamTransport::receiveBuffer() {
  return uv_buf_init(reinterpret_cast<char*>(receive_.get()), static_cast<unsigned>(kReadChunk));
}

void UpstreamTransport::prepare() {
  for (const auto& forward : config_.engine.forwards) {
    if (forward.tls) dot_.prepare(forward.tls_ca);
  }
}

bool UpstreamTransport::send(resolver::UpstreamSend& send) {
  if (closed_) return false;
  sockaddr_storage server{};
  toSockaddr(send.server, send.port, server);
  sockaddr_storage source{};
  const bool configured_source = pickSource(send.server, source);
  cancel(send.token);  // a reused token would be an engine bug: never leak
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
  up->transport = this;
  up->token = send.token;
  up->tcp = send.tcp;
  up->started_ms = wallMs();
  up->packet = std::move(send.packet);
  sockets_.emplace(up->token, up);
  const auto* server_address = reinterpret_cast<const sockaddr*>(&server);
  const bool ok = send.tcp ? startTcp(*up, server_address, source, configured_source)
                           : startUdp(*up, server_address, source);
  if (!ok) {
    ++counters_.upstream_socket_errors;
    close(*up);
    return false;
  }
  ++(send.tcp ? counters_.upstream_tcp : counters_.upstream_udp);
  return true;
}

bool UpstreamTransport::pickSource(const base::IpAddress& server, sockaddr_storage& source) {
  const auto& choices = server.isV4() ? config_.outgoing_v4 : config_.outgoing_v6;
  if (choices.empty()) {
    toSockaddr(anyAddressLike(server), 0, source);
    return false;
  }
  const size_t pick = choices.size() == 1 ? 0 : randomPort() % choices.size();
  toSockaddr(choices[pick], 0, source);
  return true;
}

bool UpstreamTransport::startUdp(Upstream& up, const sockaddr* server, sockaddr_storage& source) {
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
      uv_udp_recv_start(&up.handle.udp, onAlloc, worker::onUdpReply) != 0) {
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

bool UpstreamTransport::startTcp(Upstream& up, const sockaddr* server, sockaddr_storage& source,
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
  return uv_tcp_connect(&up.connect, &up.handle.tcp, server, worker::onConnected) == 0;
}

void UpstreamTransport::onUdpReply(Upstream& up, ssize_t nread, const uv_buf_t* buf,
                                   const sockaddr* from) {
  if (up.closing) return;
  if (nread < 0) {
    onFailure(up);  // e.g. ICMP port unreachable
    return;
  }
  if (from == nullptr) return;  // nothing to read
  const auto* data = reinterpret_cast<const uint8_t*>(buf->base);
  events_.onUpstreamReply(up.token, {data, static_cast<size_t>(nread)});
}

void UpstreamTransport::onConnected(Upstream& up, int status) {
  if (up.closing) return;  // UV_ECANCELED after a cancel
  if (status < 0) {
    onFailure(up);
    return;
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&up.handle.tcp);
  up.send_buf = uv_buf_init(reinterpret_cast<char*>(up.packet.data()),
                            static_cast<unsigned>(up.packet.size()));
  up.write.data = &up;
  if (uv_write(&up.write, stream, &up.send_buf, 1, onWritten) != 0 ||
      uv_read_start(stream, onAlloc, worker::onTcpRead) != 0) {
    onFailure(up);
  }
}

bool UpstreamTransport::deliverTcpReply(Upstream& up) {
  if (up.reply.size() < 2) return false;
  const size_t length = static_cast<size_t>(up.reply[0]) << 8 | up.reply[1];
  if (up.reply.size() < 2 + length) return false;
  // One reply per connection: take it, close, then tell the engine.
  std::vector<uint8_t> reply(up.reply.begin() + 2,
                             up.reply.begin() + 2 + static_cast<ptrdiff_t>(length));
  const uint64_t token = up.token;
  close(up);
  events_.onUpstreamReply(token, reply);
  return true;
}

void UpstreamTransport::onTcpRead(Upstream& up, ssize_t nread, const uv_buf_t* buf) {
  if (up.closing || nread == 0) return;
  if (nread < 0) {
    onFailure(up);  // reset, or EOF before a whole reply
    return;
  }
  const auto* data = reinterpret_cast<const uint8_t*>(buf->base);
  up.reply.insert(up.reply.end(), data, data + nread);
  deliverTcpReply(up);
}

void UpstreamTransport::onFailure(Upstream& up) {
  const uint64_t token = up.token;
  close(up);
  events_.onUpstreamFailure(token);
}

void UpstreamTransport::cancel(uint64_t token) {
  dot_.cancel(token);
  const auto it = sockets_.find(token);
  if (it != sockets_.end()) close(*it->second);
}

void UpstreamTransport::close(Upstream& up) {
  if (up.closing) return;
  up.closing = true;
  const auto it = sockets_.find(up.token);
  if (it != sockets_.end() && it->second == &up) sockets_.erase(it);
  if (up.initialized) {
    uv_close(up.baseHandle(), onClosed);  // pending send/connect/write get UV_ECANCELED first
  } else {
    delete &up;
  }
}

void UpstreamTransport::sweep(int64_t now_ms, int64_t stale_before_ms) {
  std::vector<Upstream*> stale;
  for (const auto& [token, up] : sockets_) {
    if (up->started_ms < stale_before_ms) stale.push_back(up);
  }
  for (Upstream* up : stale) {
    ++counters_.upstream_swept;
    close(*up);
  }
  dot_.sweep(now_ms, stale_before_ms);
}

void UpstreamTransport::closeAll() {
  closed_ = true;
  std::vector<Upstream*> open;
  open.reserve(sockets_.size());
  for (const auto& [token, up] : sockets_) open.push_back(up);
  for (Upstream* up : open) close(*up);
  dot_.closeAll();
}

uint16_t UpstreamTransport::randomPort() {
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
