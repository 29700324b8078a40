#pragma once
// DNS over HTTPS for clients (RFC 8484): one HTTP/2 server session
// (nghttp2) per TLS connection of a https_listen address. Like TlsSession
// it does no I/O of its own: the TCP server hands it the plaintext the TLS
// session decrypted, and gets the frames to encrypt through a callback.
//
// A request is a DNS query: GET /dns-query?dns=<base64url, no padding>, or
// POST /dns-query with content-type application/dns-message and the query
// as its body (at most 65,535 octets). Each complete request becomes one
// query on its stream; the answer goes back as a 200 with content-type
// application/dns-message, a content-length and a freshness lifetime
// (cache-control: max-age, the smallest TTL of the answer and authority
// sections, RFC 8484 section 5.1). Anything else gets an HTTP error
// without reaching the resolver: 404 (another path), 405 (another
// method), 415 (another content type), 400 (no or bad dns parameter, an
// empty body), 413 (a body over 65,535 octets, or one that would make the
// bodies held for the connection's open streams pass 128 KiB).
//
// HTTP/2 bounds what a client can hold: at most `max_streams` concurrent
// streams (SETTINGS_MAX_CONCURRENT_STREAMS); nghttp2 enforces its own
// limits on header sizes and flow control.
//
// Not thread-safe; used from its worker's loop only.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

struct nghttp2_session;

namespace shoal::worker {

class DohSession {
 public:
  /// A complete, well-formed query on `stream`: answer it with respond().
  using Query = void (*)(void* context, int32_t stream, std::span<const uint8_t> query);
  /// HTTP/2 frames to send (through the TLS session); false when the
  /// connection is broken.
  using Send = bool (*)(void* context, std::span<const uint8_t> frames);

  /// A server session; its SETTINGS go out on the first flush(). Null only
  /// when nghttp2 is out of memory.
  static std::unique_ptr<DohSession> create(Query query, Send send, void* context,
                                            uint32_t max_streams);
  ~DohSession();
  DohSession(const DohSession&) = delete;
  DohSession& operator=(const DohSession&) = delete;

  /// Plaintext from the client. False on an HTTP/2 protocol error (the
  /// connection is to be closed once flush() has sent the GOAWAY).
  bool receive(std::span<const uint8_t> plaintext);
  /// The DNS answer to the query of `stream`; dropped when the stream is
  /// gone (the client reset it).
  void respond(int32_t stream, std::span<const uint8_t> answer);
  /// Sends what is pending; false when the connection is broken.
  bool flush();
  /// Neither side wants the connection any more (GOAWAY both ways, or a
  /// protocol error).
  bool finished() const;
  /// Streams open (requests not answered yet).
  size_t streams() const { return streams_.size(); }
  /// Requests answered with an HTTP error (counted by the caller).
  uint64_t takeErrors() {
    const uint64_t n = errors_;
    errors_ = 0;
    return n;
  }

 private:
  struct Stream;
  friend struct DohCallbacks;
  DohSession(Query query, Send send, void* context);
  void complete(int32_t stream);
  void respondStatus(int32_t stream, Stream& s, int status, std::span<const uint8_t> body,
                     uint32_t max_age, bool dns);

  nghttp2_session* session_ = nullptr;
  Query query_;
  Send send_;
  void* context_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  uint64_t errors_ = 0;
  size_t pending_body_ = 0;  // request body octets held, over all streams
  bool failed_ = false;
};

/// RFC 4648 section 5 (base64url), padding optional; nullopt-like empty
/// result with ok=false on any other character or a bad length.
struct Base64Decoded {
  std::vector<uint8_t> bytes;
  bool ok = false;
};
Base64Decoded decodeBase64Url(std::string_view text);

}  // namespace shoal::worker
