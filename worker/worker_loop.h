#pragma once
// Internal to worker/: the state of one worker process. One object per
// process, owned by runWorker and reached from every libuv callback through
// the handle's `data` (the handle structs below point back to it); no
// globals.
//
// The implementation is split by concern:
//   worker_loop.cc  start-up, engine driving (drain, timer), signals, stop
//   query.cc        per-query path: ACL, hot path, hand-off to the engine
//   udp_server.cc   client UDP (recvmmsg into the journal) and UDP replies
//   journal.cc      the journal: replaying what a killed predecessor had read
//   tcp_server.cc   client TCP and DNS over TLS: accept, handshake, pipelined
//                   reads, writes, idle timeout
//   tls.cc          the TLS context and sessions (OpenSSL), no I/O of their own
//   upstream.cc     queries to authoritative servers over UDP and TCP
//   dot_pool.cc     DNS over TLS to forwarders: pooled, pipelined connections
//
// Handles are heap objects that never move (libuv keeps pointers to them);
// each is freed in its uv_close callback.

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/ip_address.h"
#include "resolver/engine.h"
#include "stats/stats.h"
#include "worker/dot_pool.h"
#include "worker/journal.h"
#include "worker/retries.h"
#include "worker/tls.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace shoal::worker {

class Worker;

/// Largest DNS message (the TCP length prefix is 16 bits).
inline constexpr size_t kMaxMessage = 65535;
/// One read of an upstream reply or of client TCP data.
inline constexpr size_t kUdpChunk = 64 * 1024;
/// Answers batched per recvmmsg batch (at most one per datagram received).
inline constexpr size_t kAnswerBatch = kJournalBatch;
/// Largest UDP answer a batch slot holds (the EDNS payload limit is 4096).
inline constexpr size_t kAnswerSlot = 4096;
/// Largest TLS record's plaintext (RFC 8446 section 5.1): one SSL_read.
inline constexpr size_t kTlsRecord = 16384;

struct UdpListener {
  uv_poll_t handle{};
  Worker* worker = nullptr;
  uint32_t index = 0;  // in Worker::udp_; ClientRef::listener
  int fd = -1;         // the worker's copy of the slot's socket (closed with the handle)
  bool reading = false;
  bool wildcard = false;  // bound to 0.0.0.0 or ::: answers leave from pktinfo's address
  /// Answers the kernel would not take yet (socket buffer full).
  struct Pending {
    std::vector<uint8_t> bytes;
    sockaddr_storage to{};
    socklen_t to_length = 0;
    LocalAddress local;
  };
  std::deque<Pending> send_queue;
};

struct TcpListener {
  uv_tcp_t handle{};
  Worker* worker = nullptr;
  bool tls = false;  // DNS over TLS: each connection starts with a handshake
};

/// One client TCP connection (RFC 7766): length-prefixed queries, several
/// in flight, answered in any order. Over TLS (RFC 7858) the same, inside
/// the session: the plaintext takes the TCP path.
struct TcpConnection {
  uv_tcp_t handle{};
  uv_timer_t idle{};
  Worker* worker = nullptr;
  uint64_t id = 0;  // key of Worker::connections_ and ClientRef::connection
  base::IpAddress peer;
  /// The start of a message that has not fully arrived (or complete ones
  /// held back while pipelining is at its limit). Allocated on demand and
  /// released as soon as it is consumed, so an idle connection holds no
  /// buffer: reads land in the worker's shared receive buffer and only an
  /// incomplete tail is copied here.
  std::vector<uint8_t> partial;
  /// DNS over TLS: the session (null: plain TCP). Freed with the connection.
  std::unique_ptr<TlsSession> tls;
  uint32_t in_flight = 0;      // queries handed to the engine, not answered yet
  uint32_t writes_queued = 0;  // uv_write requests not completed yet
  /// Octets in those requests: reading pauses at tcp_max_queued.
  size_t queued_bytes = 0;
  /// What this connection counts in Worker::tcp_buffered_ (queued_bytes
  /// and the capacity of `partial`).
  size_t buffered = 0;
  /// Worker::tcp_lru_: every open connection, least recently read first.
  TcpConnection* lru_prev = nullptr;
  TcpConnection* lru_next = nullptr;
  uint8_t handles_open = 0;    // freed when both handles are closed
  bool wrote = false;          // a queued write completed since the idle timer started
  bool resume_queued = false;  // in Worker::tcp_resume_ (resumed on the next loop turn)
  bool reading = false;
  bool processing = false;  // inside processTcpMessages (no re-entry)
  bool eof = false;         // the client shut its side: answer, then close
  bool closing = false;
};

/// One query to an authoritative server: a fresh UDP socket connected to
/// it, or a TCP connection. (DNS over TLS goes through DotPool.)
struct Upstream {
  union Handle {
    uv_udp_t udp;
    uv_tcp_t tcp;
  } handle{};
  uv_connect_t connect{};
  uv_write_t write{};
  uv_udp_send_t send{};
  uv_buf_t send_buf{};
  Worker* worker = nullptr;
  uint64_t token = 0;
  int64_t started_ms = 0;
  bool tcp = false;
  bool initialized = false;  // the handle exists and must be uv_close'd
  bool closing = false;
  std::vector<uint8_t> packet;  // as sent (TCP: with its length prefix)
  std::vector<uint8_t> reply;   // TCP: the reply as it arrives

  uv_handle_t* baseHandle() { return reinterpret_cast<uv_handle_t*>(&handle); }
};

/// Where a query came from, as the transport knows it (pointers valid for
/// the call only). Turned into a ClientRef only when the query goes to the
/// engine, so cache hits copy nothing.
struct ClientOrigin {
  UdpListener* udp = nullptr;
  const sockaddr* udp_from = nullptr;
  const LocalAddress* udp_local = nullptr;  // where it arrived (wildcard sockets)
  TcpConnection* tcp = nullptr;
};

/// Where the answer to a query handed to the engine must go. The engine
/// knows only the 64-bit id; Worker::clients_ maps it back to this.
struct ClientRef {
  bool tcp = false;
  uint32_t listener = 0;       // UDP: the socket the query came in on
  sockaddr_storage address{};  // UDP: the client's address and port
  uint64_t connection = 0;     // TCP: the connection's id (it may be gone)
  int64_t received_us = 0;     // when the query arrived (wall clock)
  int32_t pending = -1;        // UDP: its journal entry (-1: none)
  LocalAddress local;          // UDP: where it arrived (wildcard sockets)
};

class Worker final : public DotPool::Events {
 public:
  /// `journal`: this slot's journal (nullptr: a private one, no replay).
  Worker(const WorkerConfig& config, shmcache::Cache& cache, stats::ProcessSlot& stats,
         Journal* journal, unsigned slot);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Opens the inherited sockets in the loop and runs it until stopped.
  int run(std::span<const ListenSocket> sockets);

  // Entry points for the libuv callbacks of each file.
  void onUdpReadable(UdpListener& listener);
  void onUdpWritable(UdpListener& listener);
  void onUdpDatagram(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* from,
                     const LocalAddress& local);
  /// The end of a recvmmsg batch: sends the answers queued for it.
  void flushUdpAnswers();
  void onTcpConnection(TcpListener& listener);
  void onTcpRead(TcpConnection& conn, ssize_t nread, const uv_buf_t* buf);
  void onTcpIdle(TcpConnection& conn);
  void onTcpWritten(TcpConnection& conn, int status, size_t bytes);
  /// The connections whose reading was waiting for a write or for buffer
  /// memory, resumed one loop turn after that came.
  void onTcpResume();
  void onTcpClosed(TcpConnection* conn);
  /// A TLS session's ciphertext for the client (TlsSession::Send).
  bool onTlsOutput(TcpConnection& conn, std::span<const uint8_t> ciphertext);
  void onUpstreamReply(Upstream& up, std::span<const uint8_t> reply);
  void onUpstreamFailure(Upstream& up);
  void onUpstreamConnected(Upstream& up, int status);
  void onUpstreamTcpRead(Upstream& up, ssize_t nread, const uv_buf_t* buf);
  // DotPool::Events (also the UDP/TCP paths' way to the engine).
  void onDotReply(uint64_t token, std::span<const uint8_t> reply) override;
  void onDotFailure(uint64_t token) override;
  /// Delivers a whole length-prefixed reply in up.reply, if there is one.
  bool deliverUpstreamReply(Upstream& up);
  void onEngineTimer();
  void onSweepTimer();
  void onSignal(int signum);
  void finishStop();
  uv_buf_t tcpReceiveBuffer();
  uv_buf_t upstreamReceiveBuffer();

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
  std::span<const uint8_t> handleQuery(std::span<const uint8_t> query,
                                       const base::IpAddress& client, const ClientOrigin& origin);
  bool aclAllows(const base::IpAddress& client) const;
  void countResponse(std::span<const uint8_t> response);
  /// A hot-path answer synthesised from ranges (RFC 8198), by kind.
  void countSynthesis(resolver::Synthesis kind, bool local_root);
  void answerClient(const resolver::ClientAnswer& answer);

  // udp_server.cc
  bool openUdp(const ListenSocket& socket);
  void stopUdp();
  void closeUdp();
  void sendUdp(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* to,
               const LocalAddress& local);
  void updateUdpPoll(UdpListener& listener);
  /// No answer waiting in a send queue.
  bool udpIdle() const;

  // journal.cc
  /// Answers what the previous process of this slot read and did not
  /// answer (it died), then takes the journal over.
  void replayJournal();
  /// Journals a UDP miss until it is answered; -1 when not journaled.
  int32_t journalPending(std::span<const uint8_t> query, const ClientOrigin& origin);
  void releasePending(int32_t index);
  /// A clean stop: leaves the journal empty.
  void clearJournal();
  /// Hot-path answers of one recvmmsg batch wait here and leave together
  /// with one sendmmsg when the batch ends (or the batch buffer is full).
  void queueUdpAnswer(UdpListener& listener, std::span<const uint8_t> packet, const sockaddr* to,
                      const LocalAddress& local);

  // tcp_server.cc
  bool openTcp(const ListenSocket& socket);
  void closeTcpListeners();
  void feedTcp(TcpConnection& conn, std::span<const uint8_t> data);
  /// Ciphertext read from a TLS connection: handshake, then plaintext to feedTcp.
  void feedTls(TcpConnection& conn, std::span<const uint8_t> ciphertext);
  size_t processTcpMessages(TcpConnection& conn, std::span<const uint8_t> data);
  void processPartial(TcpConnection& conn);
  void pauseTcp(TcpConnection& conn);
  void resumeTcp(TcpConnection& conn);
  /// resumeTcp on the next loop turn: never from inside another
  /// connection's callbacks (or the engine's answers).
  void scheduleResume(TcpConnection& conn);
  /// Reading may go on: pipelining, the connection's queued answers and the
  /// worker's buffers all under their caps (otherwise counted as paused
  /// once per pause).
  bool mayRead(TcpConnection& conn);
  /// Updates tcp_buffered_ after conn's queue or partial buffer changed;
  /// resumes connections paused for memory once it is back under 3/4 of
  /// the cap.
  void rebuffer(TcpConnection& conn);
  /// Per-client connection counts (IPv4 address, IPv6 /64).
  bool admitClient(const base::IpAddress& peer);
  void releaseClient(const base::IpAddress& peer);
  /// The LRU of connections by last read (tcp_lru_head_ is the oldest).
  void lruTouch(TcpConnection& conn);
  void lruUnlink(TcpConnection& conn);
  /// Closes the least recently active connection with nothing in flight,
  /// to make room for a new one (RFC 7766 section 6.2.3). False if none.
  bool evictIdleTcp();
  void writeTcp(TcpConnection& conn, std::span<const uint8_t> message);
  void writeTls(TcpConnection& conn, std::span<const uint8_t> message);
  /// Writes `bufs` at once if the socket takes them, else queues (a copy
  /// of) the rest. False (counted) when the connection is broken.
  bool sendTcp(TcpConnection& conn, std::span<const uv_buf_t> bufs);
  void answerTcp(uint64_t connection, std::span<const uint8_t> packet);
  bool tcpDone(const TcpConnection& conn) const;
  void closeTcp(TcpConnection& conn);
  void stopTcp();
  void closeAllTcp();

  // upstream.cc
  /// Opens the socket for `send` and sends; takes its packet.
  bool startUpstream(resolver::UpstreamSend& send);
  bool startUpstreamUdp(Upstream& up, const sockaddr* server, sockaddr_storage& source);
  bool startUpstreamTcp(Upstream& up, const sockaddr* server, sockaddr_storage& source,
                        bool bind_source);
  bool pickSource(const base::IpAddress& server, sockaddr_storage& source);
  void closeUpstream(uint64_t token);
  void closeUpstream(Upstream& up);
  uint16_t randomPort();

  WorkerConfig config_;
  shmcache::Cache& cache_;
  unsigned slot_;
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

  // Per-worker buffers, allocated once. A receive buffer is only used
  // inside the callback that filled it (whatever is kept is copied), so one
  // of each serves every socket of the worker.
  Journal* journal_;                          // received UDP, not yet answered
  std::unique_ptr<Journal> own_journal_;      // when the supervisor gave none
  std::vector<int32_t> free_pending_;         // free entries of journal_->pending
  // sendmmsg batch: answers copied into fixed slots, no allocation.
  std::unique_ptr<uint8_t[]> answer_slots_;   // kAnswerBatch x kAnswerSlot
  struct QueuedAnswer {
    UdpListener* listener;
    sockaddr_storage to;
    socklen_t to_length;
    size_t length;
    LocalAddress local;                   // where the query arrived (wildcard sockets)
    size_t control_length;                // 0, or its pktinfo in `control`
    uint8_t control[kPacketInfoSpace];
  };
  std::array<QueuedAnswer, kAnswerBatch> answer_queue_{};
  size_t answers_queued_ = 0;
  std::unique_ptr<uint8_t[]> out_;            // kMaxMessage: the answer being sent
  std::unique_ptr<uint8_t[]> scratch_;        // kCacheScratchSize: cache copies, synthesis
  std::unique_ptr<RetryDetector> retries_ = std::make_unique<RetryDetector>();  // client retries
  std::unique_ptr<uint8_t[]> upstream_recv_;  // kUdpChunk: one upstream read
  std::unique_ptr<uint8_t[]> tcp_recv_;       // kUdpChunk: one client TCP read
  // DNS over TLS only (null without a TLS listener).
  std::unique_ptr<uint8_t[]> tls_plain_;      // kTlsRecord: one record decrypted
  std::unique_ptr<uint8_t[]> tls_write_;      // kMaxMessage + 2: an answer, prefixed

  std::vector<UdpListener*> udp_;
  std::vector<TcpListener*> tcp_;
  std::unordered_map<uint64_t, TcpConnection*> connections_;
  uint64_t next_connection_ = 1;
  size_t tcp_buffered_ = 0;  // client TCP/TLS buffer octets (tcp_max_buffers)
  bool tcp_memory_paused_ = false;  // some connection paused at tcp_max_buffers
  std::unordered_map<uint64_t, uint32_t> tcp_per_v4_, tcp_per_v6_;  // connections per client
  TcpConnection* tcp_lru_head_ = nullptr;
  TcpConnection* tcp_lru_tail_ = nullptr;
  std::vector<uint64_t> tcp_resume_;  // connection ids, resumed by tcp_resume_idle_
  uv_idle_t tcp_resume_idle_{};
  std::unordered_map<uint64_t, ClientRef> clients_;  // engine id -> client
  uint64_t next_client_ = 1;
  std::unordered_map<uint64_t, Upstream*> upstreams_;  // engine token -> socket
  DotPool dot_;                                        // DNS over TLS to forwarders
  std::vector<uint64_t> failed_upstreams_;             // reported to the engine by drain()

  uv_timer_t engine_timer_{};
  uv_timer_t sweep_timer_{};
  uv_timer_t stop_timer_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_signal_t sigusr1_{};
  bool draining_ = false;
  bool stopping_ = false;
  bool finished_ = false;

  // Random source ports: bytes from getrandom(), refilled when used up.
  uint8_t random_[256] = {};
  size_t random_used_ = sizeof random_;
};

}  // namespace shoal::worker
