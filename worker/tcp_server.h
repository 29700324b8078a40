#pragma once
// Internal to worker/: client TCP (RFC 7766) and DNS over TLS (RFC 7858),
// with the limits that keep a worker's memory bounded whatever its clients
// do. The design is written at the top of tcp_server.cc.

#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/ip_address.h"
#include "stats/layout.h"
#include "worker/client_history.h"
#include "worker/collapser.h"
#include "worker/doh.h"
#include "worker/query_path.h"
#include "worker/tls.h"
#include "worker/worker.h"
#include "worker/worker_config.h"

namespace shoal::worker {

class TcpServer;

struct TcpListener {
  uv_tcp_t handle{};
  TcpServer* server = nullptr;
  bool tls = false;    // DNS over TLS: each connection starts with a handshake
  bool https = false;  // DNS over HTTPS: HTTP/2 inside the TLS session
};

/// One client TCP connection (RFC 7766): length-prefixed queries, several
/// in flight, answered in any order. Over TLS (RFC 7858) the same, inside
/// the session: the plaintext takes the TCP path.
struct TcpConnection {
  uv_tcp_t handle{};
  TcpServer* server = nullptr;
  /// ClientRef::connection: the record's slab index and its generation, so
  /// a late answer never reaches the record's next connection.
  uint64_t id = 0;
  uint32_t generation = 0;  // kept across reuse of the record
  /// Loop time (ms) of the last read, or of the last idle check that found
  /// it busy: TcpServer's idle timer closes it tcp_idle_timeout later.
  int64_t active_ms = 0;
  base::IpAddress peer;
  uint16_t peer_port = 0;
  ClientKey client;  // the client's address, or its IPv6 /64 (ClientHistory)
  /// Its client's bucket when it opened: its idle timeout and LRU list.
  ClientBucket bucket = ClientBucket::kCollapse;
  uint32_t queries = 0;  // carried so far (ClientHistory::onClose)
  /// The start of a message that has not fully arrived (or complete ones
  /// held back while pipelining is at its limit). Allocated on demand and
  /// released as soon as it is consumed, so an idle connection holds no
  /// buffer: reads land in the server's shared receive buffer and only an
  /// incomplete tail is copied here.
  std::vector<uint8_t> partial;
  /// DNS over TLS: the session (null: plain TCP). Freed with the connection.
  std::unique_ptr<TlsSession> tls;
  /// DNS over HTTPS: the HTTP/2 session inside `tls` (null: DNS over TCP
  /// framing). Its streams are the queries in flight.
  std::unique_ptr<DohSession> doh;
  uint32_t in_flight = 0;      // queries handed to the engine, not answered yet
  uint32_t writes_queued = 0;  // uv_write requests not completed yet
  /// Octets in those requests: reading pauses at tcp_max_queued.
  size_t queued_bytes = 0;
  /// What this connection counts in TcpServer::buffered_ (queued_bytes and
  /// the capacity of `partial`).
  size_t buffered = 0;
  /// TcpServer's LRU of its bucket: least recently read first.
  TcpConnection* lru_prev = nullptr;
  TcpConnection* lru_next = nullptr;
  bool registered = false;      // accepted and counted; found by id until it closes
  bool wrote = false;          // a queued write completed since active_ms
  bool resume_queued = false;  // in TcpServer::resume_ (resumed on the next loop turn)
  bool reading = false;
  bool processing = false;  // inside processMessages or the DoH session's receive (no re-entry)
  bool eof = false;         // the client shut its side: answer, then close
  bool collapsed = false;   // closing because it was collapsed (its client may come back)
  bool closing = false;
};

/// The TcpConnection records of a server, in chunks that never move (libuv
/// keeps pointers into them) and are reused through a free list: accepting
/// a connection allocates nothing (its TLS session and a partial query
/// aside). Chunks stay until the server goes: memory for the peak number
/// of connections.
class ConnectionSlab {
 public:
  /// A fresh record, its id set.
  TcpConnection* allocate();
  /// The record goes back to the free list (its handle closed).
  void release(TcpConnection* conn);
  /// The registered, open connection with `id`, or null.
  TcpConnection* find(uint64_t id) const;
  size_t capacity() const { return chunks_.size() * kChunk; }

 private:
  static constexpr size_t kChunk = 256;
  TcpConnection& at(uint32_t index) const { return chunks_[index / kChunk][index % kChunk]; }
  std::vector<std::unique_ptr<TcpConnection[]>> chunks_;
  std::vector<uint32_t> free_;
};

class TcpServer {
 public:
  /// `loop` must be initialised (the resume handle is made here).
  TcpServer(uv_loop_t& loop, const WorkerConfig& config, QueryPath& path,
            stats::WorkerCounters& counters, unsigned slot);
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  /// Starts accepting on the TCP socket of `socket` (TLS when it says so);
  /// false (logged) on failure.
  bool open(const ListenSocket& socket);
  /// The engine's answer to a query of `connection` (it may be gone), on
  /// HTTP/2 stream `stream` for DNS over HTTPS (-1 otherwise).
  void answer(uint64_t connection, int32_t stream, std::span<const uint8_t> packet);
  /// The worker stops: no new connections or queries; connections close
  /// once their answers are written.
  void stop();
  /// Closes everything at once.
  void closeAll();
  size_t connections() const { return open_; }
  /// Writes the busiest clients into the stats slot's table (shoalctl
  /// clients); once a second.
  void publishClients(stats::ClientTable& table);

  // Entry points for the libuv callbacks.
  void onConnection(TcpListener& listener);
  /// A collapsed connection rebuilt by the Collapser: taken over like an
  /// accepted one (the same limits apply), or closed.
  void onRevived(int fd);
  void onRead(TcpConnection& conn, ssize_t nread, const uv_buf_t* buf);
  /// The idle timer: connections of the LRU head quiet for tcp_idle_timeout.
  void onIdleTimer();
  void onWritten(TcpConnection& conn, int status, size_t bytes);
  void onClosed(TcpConnection* conn);
  /// A TLS session's ciphertext for the client (TlsSession::Send).
  bool onTlsOutput(TcpConnection& conn, std::span<const uint8_t> ciphertext);
  /// DNS over HTTPS (DohSession's callbacks): a query on `stream`, and
  /// HTTP/2 frames to encrypt.
  void onDohQuery(TcpConnection& conn, int32_t stream, std::span<const uint8_t> query);
  bool onDohOutput(TcpConnection& conn, std::span<const uint8_t> frames);
  /// The connections whose reading was waiting for a write or for buffer
  /// memory, resumed one loop turn after that came.
  void onResume();
  uv_buf_t receiveBuffer();

 private:
  void closeListeners();
  /// A record with its handle initialised, not registered yet; null when
  /// libuv refuses.
  TcpConnection* newConnection();
  /// Registers a connection whose handle is `open` (accepted, or a
  /// `revived` collapsed one) if the limits let it in, else closes it.
  /// `tls`, `https`: its listener's kind.
  bool admit(TcpConnection* conn, bool open, bool tls, bool https, bool revived);
  /// Starts the idle timer for the LRU head, if it is not running.
  void armIdleTimer();
  /// One connection quiet for tcp_idle_timeout: closed if idle or not
  /// reading its answers, kept (touched) if busy.
  void checkIdle(TcpConnection& conn);
  /// Every open connection (a copy: the caller may close them).
  std::vector<TcpConnection*> openConnections() const;
  void feed(TcpConnection& conn, std::span<const uint8_t> data);
  /// Ciphertext read from a TLS connection: handshake, then plaintext to feed().
  void feedTls(TcpConnection& conn, std::span<const uint8_t> ciphertext);
  size_t processMessages(TcpConnection& conn, std::span<const uint8_t> data);
  /// DNS over HTTPS: plaintext into the HTTP/2 session, then what it has
  /// to send out.
  void feedDoh(TcpConnection& conn, std::span<const uint8_t> plaintext);
  /// Sends the HTTP/2 session's pending frames; closes the connection when
  /// it is broken or the session is over.
  void flushDoh(TcpConnection& conn);
  void processPartial(TcpConnection& conn);
  void pause(TcpConnection& conn);
  void resume(TcpConnection& conn);
  /// resume() on the next loop turn: never from inside another
  /// connection's callbacks (or the engine's answers).
  void scheduleResume(TcpConnection& conn);
  /// Reading may go on: pipelining, the connection's queued answers and the
  /// worker's buffers all under their caps (otherwise counted as paused
  /// once per pause).
  bool mayRead(TcpConnection& conn);
  /// Updates buffered_ after conn's queue or partial buffer changed;
  /// resumes connections paused for memory once it is back under 3/4 of
  /// the cap.
  void rebuffer(TcpConnection& conn);
  void write(TcpConnection& conn, std::span<const uint8_t> message);
  void writeTls(TcpConnection& conn, std::span<const uint8_t> message);
  /// Writes `bufs` at once if the socket takes them, else queues (a copy
  /// of) the rest. False (counted) when the connection is broken.
  bool send(TcpConnection& conn, std::span<const uv_buf_t> bufs);
  bool done(const TcpConnection& conn) const;
  void close(TcpConnection& conn);
  /// Per-client connection counts (IPv4 address, IPv6 /64).
  bool admitClient(const ClientKey& client);
  void releaseClient(const ClientKey& client);
  /// The LRUs of connections by last read, one per bucket (lru_head_ is
  /// the oldest): `conn` becomes the most recent of its bucket, active now.
  void lruTouch(TcpConnection& conn);
  void lruUnlink(TcpConnection& conn);
  /// Closes the least recently active connection with nothing in flight,
  /// to make room for a new one (RFC 7766 section 6.2.3): one-shot clients'
  /// first, frequent clients' last. False if none.
  bool evictIdle();
  /// The idle timeout of a bucket's connections (ms).
  int64_t idleTimeout(ClientBucket bucket) const;

  uv_loop_t& loop_;
  const WorkerConfig& config_;
  QueryPath& path_;
  stats::WorkerCounters& counters_;
  unsigned slot_;
  std::vector<TcpListener*> listeners_;
  ConnectionSlab slab_;
  size_t open_ = 0;  // registered connections not closing
  /// One timer for every connection's idle timeout: it fires for the LRU
  /// head (the least recently active), rather than a timer per connection.
  uv_timer_t idle_timer_{};
  std::unique_ptr<uint8_t[]> receive_;  // kReadChunk: one client read
  // DNS over TLS only (null without a TLS listener).
  std::unique_ptr<uint8_t[]> tls_plain_;  // kTlsRecord: one record decrypted
  std::unique_ptr<uint8_t[]> tls_write_;  // kMaxMessage + 2: an answer, prefixed
  size_t buffered_ = 0;         // client TCP/TLS buffer octets (tcp_max_buffers)
  bool memory_paused_ = false;  // some connection paused at tcp_max_buffers
  std::unordered_map<ClientKey, uint32_t, ClientKeyHash> per_client_;  // open connections
  ClientHistory history_;
  TcpConnection* lru_head_[kClientBuckets] = {};
  TcpConnection* lru_tail_[kClientBuckets] = {};
  int64_t idle_due_ms_ = 0;  // when the idle timer fires (loop time), if active
  std::vector<uint64_t> resume_;  // connection ids, resumed by resume_idle_
  uv_idle_t resume_idle_{};
  /// Collapse of idle connections (null: off or unavailable).
  std::unique_ptr<Collapser> collapser_;
  bool stopping_ = false;
};

}  // namespace shoal::worker
