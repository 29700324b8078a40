#pragma once
// Per-worker counters, written only by the worker's own loop (no atomics
// needed). Kept in process memory for now; the CLI issue moves them into
// the shared segment so that shoalctl can read them.

#include <array>
#include <cstdint>

namespace shoal::worker {

struct Counters {
  // Client queries, by transport (every packet or TCP message received).
  uint64_t queries_udp = 0;
  uint64_t queries_tcp = 0;
  // What became of them.
  uint64_t cache_hits = 0;    // answered on the hot path
  uint64_t cache_misses = 0;  // handed to the engine
  uint64_t acl_refused = 0;   // source outside [acl] allow: REFUSED
  uint64_t malformed = 0;     // error response sent (FORMERR, NOTIMP, BADVERS)
  uint64_t dropped = 0;       // not worth an answer (too short, a response, ...)
  // Responses sent to clients, by rcode (low 4 bits of the header).
  std::array<uint64_t, 16> answers_by_rcode{};
  uint64_t answers_udp = 0;
  uint64_t answers_tcp = 0;
  uint64_t answers_orphaned = 0;  // the TCP connection closed before the answer
  uint64_t send_errors = 0;       // sendmsg/write failed, or the send queue was full
  // TCP connections.
  uint64_t tcp_accepted = 0;
  uint64_t tcp_rejected = 0;  // over tcp_max_clients: closed at once
  uint64_t tcp_idle_closed = 0;
  uint64_t tcp_bad_length = 0;  // zero-length message: connection closed
  // Upstream transport (the engine counts the resolution side).
  uint64_t upstream_udp = 0;
  uint64_t upstream_tcp = 0;
  uint64_t upstream_socket_errors = 0;  // could not open, bind, connect or send
  uint64_t upstream_swept = 0;          // open past every deadline, never cancelled
};

}  // namespace shoal::worker
