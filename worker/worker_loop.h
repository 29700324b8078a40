#pragma once
// Internal to worker/: the state of one worker process. One object per
// process, owned by runWorker and reached from the libuv callbacks through
// the handles' `data`; no globals.
//
// Each transport is its own object, and the worker ties them together:
//   worker_loop.cc  start-up, engine driving (drain, timers), signals, stop
//   query.cc        the query path: ACL, hot path, hand-off to the engine,
//                   the engine's answers routed back to their transport
//   router.h        the ACL and the engine id -> client map
//   udp_server.h    client UDP (recvmmsg into the journal, sendmmsg)
//   journal.h       the journal: replaying what a killed predecessor had read
//   tcp_server.h    client TCP and DNS over TLS, with their limits
//   tls.h           the TLS context and sessions (OpenSSL), no I/O of their own
//   upstream.h      queries to authoritative servers over UDP and TCP
//   dot_pool.h      DNS over TLS to forwarders: pooled, pipelined connections
//
// Data flows one way: a transport hands a query to the QueryPath (the
// worker); a hit goes back at once, a miss goes to the engine, whose sends
// go to the UpstreamTransport and whose answers the router sends back to
// the transport that asked.

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/ip_address.h"
#include "resolver/engine.h"
#include "stats/stats.h"
#include "worker/journal.h"
#include "worker/query_log.h"
#include "worker/query_path.h"
#include "worker/retries.h"
#include "worker/router.h"
#include "worker/tcp_server.h"
#include "worker/udp_server.h"
#include "worker/upstream.h"
#include "worker/upstream_events.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace shoal::worker {

class Worker final : public QueryPath, public UpstreamEvents {
 public:
  /// `journal`: this slot's journal (nullptr: a private one, no replay).
  Worker(const WorkerConfig& config, shmcache::Cache& cache, stats::ProcessSlot& stats,
         Journal* journal, unsigned slot);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Opens the inherited sockets in the loop and runs it until stopped.
  int run(std::span<const ListenSocket> sockets);

  // QueryPath (query.cc).
  QueryOutcome handleQuery(std::span<const uint8_t> query, const base::IpAddress& client,
                           const ClientOrigin& origin) override;
  void onTransportIdle() override { maybeFinishStop(); }
  // UpstreamEvents: what the upstream transports report to the engine.
  void onUpstreamReply(uint64_t token, std::span<const uint8_t> reply) override;
  void onUpstreamFailure(uint64_t token) override;

  // Entry points for the libuv callbacks.
  void onEngineTimer();
  void onSweepTimer();
  void onSignal(int signum);
  void finishStop();

 private:
  // worker_loop.cc
  bool openListeners(std::span<const ListenSocket> sockets);
  void drain();
  void armTimer();
  void beginStop();
  void maybeFinishStop();
  void logCounters() const;
  /// Tells the supervisor the loop turns (stats slot heartbeat).
  void beat();
  /// Copies the engine's counters into the stats slot (on top of what the
  /// slot held when this process started).
  void publishEngineStats();

  // query.cc
  void countResponse(std::span<const uint8_t> response);
  /// A hot-path answer synthesised from ranges (RFC 8198), by kind.
  void countSynthesis(resolver::Synthesis kind, bool local_root);
  void answerClient(const resolver::ClientAnswer& answer);
  /// [limits] rate: whether a UDP query of `client` may be answered (its
  /// prefix's bucket in the shared table had a token, at the table's clock).
  bool withinRate(const base::IpAddress& client);
  /// A UDP query over the rate: every rate_slip-th gets TC=1, or
  /// BADCOOKIE when it carried a client cookie; the rest are dropped.
  QueryOutcome slip(const resolver::HotPathAnswer& result);
  /// The server cookie secrets of now (derived again when the period
  /// changes: worker_config.h serverCookieSecrets()).
  const dns::CookieSecrets* cookieSecrets(int64_t now_s);
  /// One dnstap message if the sink wants its kind (counted either way).
  void tap(dnstap::Kind kind, dnstap::Transport transport, const dnstap::Endpoint& initiator,
           const dnstap::Endpoint& responder, std::span<const uint8_t> message, int64_t query_us,
           int64_t response_us);

  WorkerConfig config_;
  shmcache::Cache& cache_;
  unsigned slot_;
  Journal* journal_;  // given to the UDP server
  uv_loop_t loop_{};
  bool loop_open_ = false;
  std::unique_ptr<resolver::Engine> engine_;
  stats::ProcessSlot& stats_;
  /// This process's counters, in the stats segment (shoalctl reads them).
  stats::WorkerCounters& counters_;
  /// The slot's resolver counters when this process started (a replaced
  /// worker continues its predecessor's totals).
  stats::Totals engine_base_;
  // The engine's synthesis counters at start (engine_synth_*, then
  // engine_local_root_answers, ranges_stored, range_holds): engine counts
  // add to them.
  std::array<uint64_t, 6> synth_base_{};

  // Per-worker buffers, allocated once.
  std::unique_ptr<uint8_t[]> out_;      // kMaxMessage: the hot path's answer
  std::unique_ptr<uint8_t[]> scratch_;  // kCacheScratchSize: cache copies, synthesis
  std::unique_ptr<RetryDetector> retries_ = std::make_unique<RetryDetector>();  // client retries
  QueryLog query_log_{config_.query_log_one_in};  // [log] queries
  /// dnstap ([dnstap] socket; null: off). Started in run(), after the fork.
  std::unique_ptr<dnstap::Sink> dnstap_;
  /// Upstream queries sent, by token, for their RESOLVER_RESPONSE (only
  /// while dnstap wants those).
  struct TappedQuery {
    dnstap::Endpoint server;
    dnstap::Transport transport = dnstap::Transport::kUdp;
    int64_t sent_us = 0;
  };
  std::unordered_map<uint64_t, TappedQuery> tapped_;

  ClientRouter router_;
  dns::CookieSecrets cookie_secrets_;
  int64_t cookie_period_ = -1;  // of cookie_secrets_
  uint64_t slips_ = 0;          // limited queries seen (every rate_slip-th is answered)
  // The transports, made once the loop exists (run()).
  std::unique_ptr<UdpServer> udp_;
  std::unique_ptr<TcpServer> tcp_;
  std::unique_ptr<UpstreamTransport> upstream_;
  std::vector<uint64_t> failed_upstreams_;  // reported to the engine by drain()

  uv_timer_t engine_timer_{};
  uv_timer_t sweep_timer_{};
  uv_timer_t stop_timer_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_signal_t sigusr1_{};
  bool draining_ = false;
  bool stopping_ = false;
  bool finished_ = false;
};

}  // namespace shoal::worker
