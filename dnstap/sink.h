#pragma once
// dnstap (https://dnstap.info): DNS messages as the resolver sees them,
// encoded as dnstap protobuf (protobuf-c, code generated from
// dnstap.proto at build time) and sent as Frame Streams (fstrm) to a
// collector's Unix socket ([dnstap] socket), e.g. `fstrm_capture -t
// protobuf:dnstap.Dnstap -u SOCKET -w FILE`, read with `dnstap-ldns -r FILE`.
//
// Never blocks the caller: a frame goes into fstrm's queue, which fstrm's
// own I/O thread writes to the socket; when the queue is full (the
// collector slow or gone) the frame is dropped and counted. While no
// collector listens, fstrm reconnects every few seconds and frames are
// dropped meanwhile. One Sink per worker process (the thread is started
// after the fork).

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/ip_address.h"

struct fstrm_iothr;
struct fstrm_iothr_queue;

namespace shoal::dnstap {

enum class Kind : uint8_t { kClientQuery, kClientResponse, kResolverQuery, kResolverResponse };
enum class Transport : uint8_t { kUdp, kTcp, kTls, kHttps };

struct Options {
  std::string socket_path;
  std::string identity;  // who sends (dnstap "identity"); empty: none
  std::string version;   // the software ("version")
  bool kinds[4] = {true, true, true, true};  // by Kind
  /// Frames queued for the I/O thread before new ones are dropped (a
  /// power of two, 2..2^20).
  unsigned queue = 4096;
};

/// One endpoint of a message: an address and a port (0: unknown).
struct Endpoint {
  base::IpAddress address;
  uint16_t port = 0;
};

class Sink {
 public:
  /// Starts the I/O thread towards `options.socket_path` (the collector
  /// need not listen yet). Null and `error` on bad options.
  static std::unique_ptr<Sink> open(const Options& options, std::string* error);
  ~Sink();  // flushes what is queued, then stops the thread
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  bool wants(Kind kind) const { return kinds_[static_cast<int>(kind)]; }
  /// One message. `initiator` asked (the client, or shoal for resolver
  /// messages: unknown, port 0), `responder` answered (shoal for client
  /// messages, the server for resolver ones). `query_us` / `response_us`:
  /// wall-clock microseconds (0: not set). `message` is the query for
  /// *_QUERY and the response for *_RESPONSE. Returns false when dropped.
  bool log(Kind kind, Transport transport, const Endpoint& initiator, const Endpoint& responder,
           std::span<const uint8_t> message, int64_t query_us, int64_t response_us);
  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }

 private:
  Sink() = default;
  fstrm_iothr* iothr_ = nullptr;
  fstrm_iothr_queue* queue_ = nullptr;
  bool kinds_[4] = {};
  std::string identity_;
  std::string version_;
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace shoal::dnstap
