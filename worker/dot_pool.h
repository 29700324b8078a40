#pragma once
// DNS over TLS to upstream resolvers (forward zones with `tls = true`):
// persistent connections, shared by every query to the same upstream and
// pipelined (RFC 7858 section 3.4, RFC 7766 section 6.2.1). A query to an
// upstream goes out on a connection already open to it; the first one opens
// it and waits for the handshake, the queries after it queue behind. Replies
// come in any order and are matched to their query by message ID. When a
// connection closes, the next one resumes the TLS session with the newest
// ticket the upstream gave (RFC 8446 section 4.6.1): one round trip and no
// certificate, instead of a full handshake per query.
//
//   - At most kMaxInFlight queries on one connection and kMaxConnections
//     connections to one upstream; two queries with the same ID never share
//     a connection.
//   - An idle connection is closed after kIdleMs (the upstream may close it
//     sooner: an idle close is quietly forgotten).
//   - A connection that had answered before and then breaks (the upstream
//     closed it as we sent) sends its unanswered queries again, once, on a
//     new connection: the engine sees no error for it.
//   - A connection whose queries time out kMaxUnanswered times in a row
//     takes no more queries and closes when its last one is done.
//
// The engine's token stays the unit of work: send() takes a token, the
// pool answers it through UpstreamEvents exactly once (a reply or a failure), or
// not at all once cancel() took it back.

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "stats/layout.h"
#include "worker/tls.h"
#include "worker/upstream_events.h"

namespace shoal::worker {

struct DotConnection;
struct DotQuery;

class DotPool {
 public:
  static constexpr uint32_t kMaxInFlight = 100;
  static constexpr size_t kMaxConnections = 4;
  static constexpr int64_t kIdleMs = 10'000;
  static constexpr uint32_t kMaxUnanswered = 3;

  /// One upstream: its address, the source to bind (family's any address
  /// when `bind_source` is false), and how to verify it.
  struct Target {
    sockaddr_storage server{};
    sockaddr_storage source{};
    bool bind_source = false;
    std::string name;  // the certificate's name (tls_name)
    std::string ca;    // CA file; empty: the system's trust store
  };

  /// `events` hears what became of each token (from the loop's callbacks,
  /// or from inside send() for a connection that broke then).
  DotPool(uv_loop_t& loop, UpstreamEvents& events, stats::WorkerCounters& counters,
          unsigned slot);
  ~DotPool();
  DotPool(const DotPool&) = delete;
  DotPool& operator=(const DotPool&) = delete;

  /// Sends `packet` (a DNS message, no length prefix) for `token`. False
  /// when it cannot even be queued (no TLS context, socket errors, an ID
  /// no connection can take): the caller reports that failure itself.
  bool send(uint64_t token, const Target& target, std::vector<uint8_t> packet, int64_t now_ms);
  /// The engine is done with `token`: a reply that comes later is dropped.
  void cancel(uint64_t token);
  /// Closes connections idle for kIdleMs, and forgets queries sent before
  /// `stale_before_ms` that the engine never cancelled (counted as swept).
  void sweep(int64_t now_ms, int64_t stale_before_ms);
  /// Closes every connection (the worker stops); no events after this.
  void closeAll();
  /// Loads the TLS context for CA file `ca` (and the pool's buffers) now,
  /// at start, rather than in front of the first query (loading a CA
  /// bundle takes milliseconds). A failure is logged, and the queries fail.
  void prepare(const std::string& ca);

  size_t connections() const;
  bool owns(uint64_t token) const { return tokens_.count(token) != 0; }

  // Entry points for the libuv callbacks (dot_pool.cc).
  void onConnected(DotConnection& conn, int status);
  void onRead(DotConnection& conn, ssize_t nread, const uv_buf_t* buf);
  void onWriteFailed(DotConnection& conn);
  void onClosed(DotConnection* conn);
  bool sendCiphertext(DotConnection& conn, std::span<const uint8_t> data);
  uv_buf_t receiveBuffer();

 private:
  static std::string keyOf(const Target& target);
  const TlsContext* contextFor(const std::string& ca);
  /// A connection to `key` that can take a query with `id`: an open one
  /// with room, else a new one (null when there can be none).
  DotConnection* connectionFor(const std::string& key, const Target& target, uint16_t id);
  DotConnection* open(const std::string& key, const Target& target);
  bool queue(DotConnection& conn, DotQuery&& query);
  void writeQuery(DotConnection& conn, DotQuery& query);
  void onHandshakeDone(DotConnection& conn);
  void deliverReplies(DotConnection& conn);
  /// The connection broke: its queries are sent again (once, when it had
  /// answered before) or failed, and it closes.
  void fail(DotConnection& conn);
  void close(DotConnection& conn);
  void detach(DotConnection& conn);

  uv_loop_t& loop_;
  UpstreamEvents& events_;
  stats::WorkerCounters& counters_;
  unsigned slot_;
  std::unique_ptr<uint8_t[]> receive_;  // one read's ciphertext (made on first use)
  std::unique_ptr<uint8_t[]> plain_;    // one record's plaintext (made on first use)
  std::map<std::string, std::shared_ptr<TlsContext>> contexts_;  // CA file -> client context
  std::unordered_map<std::string, std::vector<DotConnection*>> by_key_;
  std::unordered_map<std::string, TlsTicket> tickets_;  // the newest ticket per upstream
  std::unordered_map<uint64_t, DotConnection*> tokens_;
  bool closed_ = false;
};

}  // namespace shoal::worker
