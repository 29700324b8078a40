#pragma once
// Internal to worker/: queries to authoritative servers and forwarders, as
// the engine asks for them (resolver::UpstreamSend, cancelled by token).
//
//   UDP  a fresh socket per query, bound to a random source port (on an
//        outgoing_addresses entry of the server's family if configured) and
//        connected to the server, so the kernel only delivers that
//        server's datagrams and reports its ICMP errors (UV_ECONNREFUSED);
//   TCP  a fresh connection, the query with its 2-octet length prefix, one
//        length-prefixed reply;
//   TLS  DNS over TLS to forwarders: the persistent, pipelined connections
//        of DotPool (worker/dot_pool.h).
// Sockets live until the engine cancels their token (it may be waiting for
// the genuine reply after a datagram it rejected), the reply arrives
// (TCP), or they fail.

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "resolver/engine.h"
#include "stats/layout.h"
#include "worker/dot_pool.h"
#include "worker/upstream_events.h"
#include "worker/worker_config.h"

namespace shoal::worker {

class UpstreamTransport;

/// One query to an authoritative server: a fresh UDP socket connected to
/// it, or a TCP connection. Freed in its uv_close callback.
struct Upstream {
  union Handle {
    uv_udp_t udp;
    uv_tcp_t tcp;
  } handle{};
  uv_connect_t connect{};
  uv_write_t write{};
  uv_udp_send_t send{};
  uv_buf_t send_buf{};
  UpstreamTransport* transport = nullptr;
  uint64_t token = 0;
  int64_t started_ms = 0;
  bool tcp = false;
  bool initialized = false;  // the handle exists and must be uv_close'd
  bool closing = false;
  std::vector<uint8_t> packet;  // as sent (TCP: with its length prefix)
  std::vector<uint8_t> reply;   // TCP: the reply as it arrives

  uv_handle_t* baseHandle() { return reinterpret_cast<uv_handle_t*>(&handle); }
};

class UpstreamTransport {
 public:
  UpstreamTransport(uv_loop_t& loop, const WorkerConfig& config, UpstreamEvents& events,
                    stats::WorkerCounters& counters, unsigned slot);
  UpstreamTransport(const UpstreamTransport&) = delete;
  UpstreamTransport& operator=(const UpstreamTransport&) = delete;

  /// Opens the socket for `send` and sends; takes its packet. False (the
  /// caller reports the failure to the engine) when it cannot.
  bool send(resolver::UpstreamSend& send);
  /// The engine is done with `token`: its socket closes (a pooled TLS
  /// connection stays), a later reply is dropped.
  void cancel(uint64_t token);
  /// Closes sockets the engine never cancelled once every deadline of their
  /// query is long past (`stale_before_ms`); idle TLS connections.
  void sweep(int64_t now_ms, int64_t stale_before_ms);
  /// Loads what the forward zones' DNS over TLS needs (their CA files).
  void prepare();
  /// Closes everything (the worker stops); no events after this.
  void closeAll();

  // Entry points for the libuv callbacks (upstream.cc).
  void onUdpReply(Upstream& up, ssize_t nread, const uv_buf_t* buf, const sockaddr* from);
  void onConnected(Upstream& up, int status);
  void onTcpRead(Upstream& up, ssize_t nread, const uv_buf_t* buf);
  void onFailure(Upstream& up);
  uv_buf_t receiveBuffer();

 private:
  bool startUdp(Upstream& up, const sockaddr* server, sockaddr_storage& source);
  bool startTcp(Upstream& up, const sockaddr* server, sockaddr_storage& source, bool bind_source);
  /// A source address for `server` (outgoing_addresses); false: any.
  bool pickSource(const base::IpAddress& server, sockaddr_storage& source);
  /// Delivers a whole length-prefixed reply in up.reply, if there is one.
  bool deliverTcpReply(Upstream& up);
  void close(Upstream& up);
  uint16_t randomPort();

  uv_loop_t& loop_;
  const WorkerConfig& config_;
  UpstreamEvents& events_;
  stats::WorkerCounters& counters_;
  std::unique_ptr<uint8_t[]> receive_;               // kReadChunk: one reply read
  std::unordered_map<uint64_t, Upstream*> sockets_;  // engine token -> socket
  DotPool dot_;
  bool closed_ = false;
  // Random source ports: bytes from getrandom(), refilled when used up.
  uint8_t random_[256] = {};
  size_t random_used_ = sizeof random_;
};

}  // namespace shoal::worker
