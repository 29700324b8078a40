#pragma once
// DNS over TLS for clients (RFC 7858, with the TLS recommendations of RFC
// 7525 that RFC 8310 defers to): the server context built from the
// certificate chain and its key, and one session per client connection.
//
// A session does no I/O of its own. The worker hands it the ciphertext one
// read brought, straight from the worker's shared receive buffer, and gets
// plaintext back; whatever OpenSSL writes (handshake messages, encrypted
// answers, alerts) goes at once to a callback that writes it to the
// socket. That is a small custom BIO rather than a pair of memory BIOs,
// because a memory BIO keeps the largest buffer it ever held for the life
// of the connection, and an ISP resolver holds many idle connections: with
// SSL_MODE_RELEASE_BUFFERS an idle session keeps no record buffer at all.
// It also saves a copy each way: ciphertext goes from the receive buffer
// straight into OpenSSL's record buffer, and from OpenSSL's straight to
// the socket (copied only when the socket cannot take it all).
//
// Not thread-safe (nothing in a worker is); a session is used from its
// worker's loop only.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;
struct bio_method_st;

namespace shoal::worker {

/// The SSL_CTX of every DNS-over-TLS connection: TLS 1.2 at least (1.3
/// preferred), forward-secret AEAD ciphers only for 1.2, ALPN "dot"
/// accepted, stateless session tickets, no session cache,
/// SSL_MODE_RELEASE_BUFFERS. The supervisor builds it before it forks, so
/// that every worker shares its ticket keys: a client resumes its session
/// on whichever worker the kernel hands its next connection to.
class TlsContext {
 public:
  struct Loaded {
    std::shared_ptr<TlsContext> context;  // null on failure
    /// One line naming the file, e.g. "tls_key /etc/shoal/key.pem: does
    /// not match the certificate in /etc/shoal/cert.pem".
    std::string error;
  };

  /// Loads the PEM certificate chain (server certificate first) and the
  /// private key, and checks that they match.
  static Loaded load(const std::string& certificate, const std::string& key);
  /// The client side, for DNS over TLS to upstream resolvers (RFC 7858,
  /// RFC 8310 strict privacy): TLS 1.2 at least, ALPN "dot" offered, the
  /// server's certificate verified against the CAs in `ca_file` (PEM),
  /// or the system's trust store when it is empty.
  static Loaded client(const std::string& ca_file);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* ssl() const { return ctx_; }
  const bio_method_st* bioMethod() const { return bio_method_; }
  /// "CN=resolver.example.net, valid until Jan  1 00:00:00 2027 GMT" (for
  /// the log), with "EXPIRED" in front once it has expired.
  const std::string& description() const { return description_; }

 private:
  TlsContext(ssl_ctx_st* ctx, bio_method_st* bio_method, std::string description);

  ssl_ctx_st* ctx_;
  bio_method_st* bio_method_;
  std::string description_;
};

/// A session ticket a server gave the client side of a session (RFC 8446
/// section 4.6.1, or a TLS 1.2 ticket, RFC 5077): handed to the next
/// connection to the same upstream, it resumes the session with an
/// abbreviated handshake (RFC 7858 section 3.4). Move-only; empty by
/// default.
class TlsTicket {
 public:
  TlsTicket() = default;
  ~TlsTicket();
  TlsTicket(TlsTicket&& other) noexcept : session_(other.session_) { other.session_ = nullptr; }
  TlsTicket& operator=(TlsTicket&& other) noexcept;
  TlsTicket(const TlsTicket&) = delete;
  TlsTicket& operator=(const TlsTicket&) = delete;

  explicit operator bool() const { return session_ != nullptr; }

 private:
  friend class TlsSession;
  friend struct SessionTickets;
  explicit TlsTicket(ssl_session_st* session) : session_(session) {}

  ssl_session_st* session_ = nullptr;
};

/// One TLS connection: the server side (create), or the client side
/// towards an upstream (createClient).
class TlsSession {
 public:
  /// Receives ciphertext to send, synchronously from inside read(),
  /// write() and shutdown(); returns false when the connection is broken
  /// (the call then fails).
  using Send = bool (*)(void* context, std::span<const uint8_t> ciphertext);

  /// A session in the accept state; null only when OpenSSL is out of memory.
  /// `context` must outlive the session.
  /// `http2`: a DNS-over-HTTPS connection (RFC 8484): the ALPN "h2" is
  /// required; otherwise "dot" is chosen when offered, or none.
  static std::unique_ptr<TlsSession> create(const TlsContext& context, Send send,
                                            void* send_context, bool http2 = false);
  /// A session in the connect state, for a context made by
  /// TlsContext::client: `server_name` is sent (SNI, unless an address)
  /// and the certificate must be valid for it (a name, or an address).
  /// The first read() (with no input) sends the ClientHello; with a
  /// `ticket` from an earlier session to the same server (same name and
  /// context), it offers to resume that session.
  static std::unique_ptr<TlsSession> createClient(const TlsContext& context, Send send,
                                                  void* send_context,
                                                  const std::string& server_name,
                                                  const TlsTicket& ticket = {});
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Event {
    kHandshakeDone,  // just established: count it, call read() again
    kData,           // `length` bytes of plaintext in `out`
    kNeedInput,      // every byte of the input is consumed
    kClosed,         // the client sent close_notify: no more queries
    kFailed,         // handshake failure, bad record, or a send failed
  };
  struct ReadResult {
    Event event = Event::kNeedInput;
    size_t length = 0;
  };

  /// The ciphertext of one read; keep calling read() until it returns
  /// kNeedInput, kClosed or kFailed, then the span is no longer used.
  void setInput(std::span<const uint8_t> ciphertext) { input_ = ciphertext; }
  /// Moves the session on with the input given: the handshake first, then
  /// plaintext into `out` (up to one TLS record, 16 KiB, per call).
  ReadResult read(std::span<uint8_t> out);
  /// Encrypts `plaintext` (one record per 16 KiB) and sends it; false when
  /// the session cannot send (not established, failed, or the send failed).
  bool write(std::span<const uint8_t> plaintext);
  /// Sends close_notify, if the session is established and sound.
  void shutdown();

  bool established() const { return established_; }
  bool failed() const { return failed_; }
  /// Client side: the handshake resumed a session (abbreviated, no
  /// certificate sent).
  bool resumed() const;
  /// Client side: the newest ticket the server sent (after the handshake
  /// in TLS 1.3, inside read()), once; empty when none came since.
  TlsTicket takeTicket() { return std::move(ticket_); }
  /// The negotiated protocol ("TLSv1.3") and ALPN ("dot", or "").
  std::string protocol() const;
  std::string alpn() const;

 private:
  TlsSession(ssl_st* ssl, Send send, void* send_context)
      : ssl_(ssl), send_(send), send_context_(send_context) {}
  ReadResult failure(int rc);

  // The BIO's callbacks, the ticket and ALPN callbacks (tls.cc).
  friend struct SessionBio;
  friend struct SessionAlpn;
  friend struct SessionTickets;

  ssl_st* ssl_;
  Send send_;
  void* send_context_;
  std::span<const uint8_t> input_;
  TlsTicket ticket_;
  bool http2_ = false;
  bool established_ = false;
  bool failed_ = false;
};

}  // namespace shoal::worker
