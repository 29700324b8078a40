#include "worker/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pemerr.h>
#include <openssl/proverr.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string_view>

#include "base/ip_address.h"

namespace shoal::worker {

// The ALPN choice (SessionAlpn, below: it reads the session).
int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
               const unsigned char* in, unsigned int in_length, void* arg);

namespace {

/// The ALPN of DNS over TLS (IANA "TLS Application-Layer Protocol
/// Negotiation (ALPN) Protocol IDs"), in its wire form.
constexpr std::string_view kAlpnDot = "\x03" "dot";
constexpr std::string_view kAlpnH2 = "\x02" "h2";

/// TLS 1.2 suites with forward secrecy and authenticated encryption only
/// (RFC 7525 section 4.2, which RFC 8310 defers to). TLS 1.3 has nothing
/// else.
constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

/// The reason of OpenSSL's latest error, clearing the queue.
std::string lastReason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

/// Why a PEM file of `what` ("certificate", "private key") did not load,
/// for an operator: from the first error in the queue (the later ones
/// only say "PEM lib"), which it clears.
std::string loadError(const std::string& what) {
  const unsigned long code = ERR_peek_error();
  const int lib = ERR_GET_LIB(code);
  const int reason = ERR_GET_REASON(code);
  std::string why;
  if (lib == ERR_LIB_SYS) {
    why = std::strerror(reason);
  } else if ((lib == ERR_LIB_PEM && reason == PEM_R_NO_START_LINE) ||
             lib == ERR_LIB_OSSL_DECODER) {
    why = "no PEM " + what + " in it";
  } else if (lib == ERR_LIB_PROV && reason == PROV_R_BAD_DECRYPT) {
    why = "it is encrypted: shoal needs it unencrypted";
  } else {
    const char* text = ERR_reason_error_string(code);
    why = "cannot load a PEM " + what + ": " + (text != nullptr ? text : "unknown error");
  }
  ERR_clear_error();
  return why;
}

/// Whether the PEM file at `path` holds an encrypted private key (PKCS#8
/// "ENCRYPTED PRIVATE KEY", or a legacy "Proc-Type: 4,ENCRYPTED" header).
/// Read from the file itself: the error OpenSSL queues for such a key
/// depends on what the empty passphrase happens to decrypt to.
bool pemIsEncrypted(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  for (int i = 0; i < 4096 && std::getline(in, line); ++i) {
    if (line.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
        line.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
      return true;
    }
  }
  return false;
}

/// Whether OpenSSL's latest error says a key is not the certificate's.
bool keyMismatch() {
  const unsigned long code = ERR_peek_last_error();
  return ERR_GET_LIB(code) == ERR_LIB_X509 &&
         (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
          ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH);
}

/// An encrypted key would make OpenSSL prompt on the terminal: a daemon
/// (and --check-config) must fail instead.
int noPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*arg*/) { return 0; }

/// Everything but the certificate and key. Returns "" or what failed.
std::string configure(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return "TLS 1.2 minimum";
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return "TLS 1.2 cipher list";
  // Client-initiated renegotiation costs the server a handshake per
  // request: refuse it. The server's preference picks the strongest suite.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections are the common case: free the record buffers
  // between records.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Resumption by session tickets only (without server-side state, as RFC
  // 7858 section 3.4 recommends): no per-worker session cache to fill,
  // and the ticket keys are shared by every worker.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static constexpr unsigned char kSessionContext[] = "shoal-dot";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
  SSL_CTX_set_default_passwd_cb(ctx, noPassphrase);
  return {};
}

/// "CN=shoal.test, valid until Jan  1 00:00:00 2027 GMT".
std::string describe(X509* certificate) {
  if (certificate == nullptr) return "no certificate";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  BIO_puts(bio, ", valid until ");
  ASN1_TIME_print(bio, X509_get0_notAfter(certificate));
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(std::max(length, 0L)));
  BIO_free(bio);
  if (X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0) text = "EXPIRED " + text;
  return text;
}

}  // namespace

// The session's BIO: reads come from the input span the worker set, writes
// go to the worker's send callback. Never blocks: an empty input is "retry
// later" (SSL_ERROR_WANT_READ), and writes always complete or fail.
struct SessionBio {
  static TlsSession& of(BIO* bio) { return *static_cast<TlsSession*>(BIO_get_data(bio)); }

  static int read(BIO* bio, char* out, size_t size, size_t* done) {
    TlsSession& session = of(bio);
    BIO_clear_retry_flags(bio);
    *done = 0;
    if (session.input_.empty()) {
      BIO_set_retry_read(bio);
      return 0;
    }
    const size_t n = std::min(size, session.input_.size());
    std::memcpy(out, session.input_.data(), n);
    session.input_ = session.input_.subspan(n);
    *done = n;
    return 1;
  }

  static int write(BIO* bio, const char* data, size_t size, size_t* done) {
    TlsSession& session = of(bio);
    BIO_clear_retry_flags(bio);
    *done = 0;
    if (!session.send_(session.send_context_, {reinterpret_cast<const uint8_t*>(data), size})) {
      return 0;
    }
    *done = size;
    return 1;
  }

  static long control(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
    return command == BIO_CTRL_FLUSH ? 1 : 0;  // written already; nothing pending
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }
};

// ALPN for the server side. DNS over TLS accepts "dot" when the client
// offers it; a client offering only other protocols is served without
// ALPN rather than refused (RFC 7858 predates the "dot" ID and most clients
// send none). DNS over HTTPS needs "h2" (RFC 8484 section 5.2: HTTP/2 is
// the minimum recommended, and it is the only version shoal speaks): a
// client without it is refused (no_application_protocol).
struct SessionAlpn {
  static bool offered(std::string_view list, std::string_view wanted, const unsigned char* in,
                      const unsigned char** out, unsigned char* out_length) {
    for (size_t pos = 0; pos < list.size();) {
      const size_t length = static_cast<unsigned char>(list[pos]);
      if (list.substr(pos, length + 1) == wanted) {
        *out = in + pos + 1;
        *out_length = static_cast<unsigned char>(length);
        return true;
      }
      pos += length + 1;
    }
    return false;
  }

  static int select(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* in, unsigned int in_length, void* /*arg*/) {
    const std::string_view list(reinterpret_cast<const char*>(in), in_length);
    BIO* bio = SSL_get_rbio(ssl);
    const bool http2 = bio != nullptr && SessionBio::of(bio).http2_;
    if (http2) {
      return offered(list, kAlpnH2, in, out, out_length) ? SSL_TLSEXT_ERR_OK
                                                         : SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return offered(list, kAlpnDot, in, out, out_length) ? SSL_TLSEXT_ERR_OK
                                                        : SSL_TLSEXT_ERR_NOACK;
  }
};

int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
               const unsigned char* in, unsigned int in_length, void* arg) {
  return SessionAlpn::select(ssl, out, out_length, in, in_length, arg);
}

// Client side: OpenSSL hands every ticket the server sends to this
// callback (the context keeps no session cache of its own); the session it
// belongs to keeps the newest for takeTicket().
struct SessionTickets {
  static int onNewSession(SSL* ssl, SSL_SESSION* session) {
    BIO* bio = SSL_get_rbio(ssl);
    if (bio == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
    SessionBio::of(bio).ticket_ = TlsTicket(session);
    return 1;  // the reference is ours now
  }
};

TlsTicket::~TlsTicket() { SSL_SESSION_free(session_); }

TlsTicket& TlsTicket::operator=(TlsTicket&& other) noexcept {
  if (this != &other) {
    SSL_SESSION_free(session_);
    session_ = other.session_;
    other.session_ = nullptr;
  }
  return *this;
}

namespace {

/// The BIO method of every session of a context.
BIO_METHOD* makeBioMethod() {
  BIO_METHOD* method = nullptr;
  const int type = BIO_get_new_index();
  if (type > 0) method = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "shoal tls session");
  if (method == nullptr || BIO_meth_set_read_ex(method, SessionBio::read) != 1 ||
      BIO_meth_set_write_ex(method, SessionBio::write) != 1 ||
      BIO_meth_set_ctrl(method, SessionBio::control) != 1 ||
      BIO_meth_set_create(method, SessionBio::create) != 1) {
    BIO_meth_free(method);
    return nullptr;
  }
  return method;
}

}  // namespace

TlsContext::Loaded TlsContext::client(const std::string& ca_file) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx) return {nullptr, "tls: cannot create a TLS client context: " + lastReason()};
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return {nullptr, "tls: cannot set up the TLS client context: " + lastReason()};
  }
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx.get())
                         : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return {nullptr, "tls_ca " + (ca_file.empty() ? std::string("(the system's)") : ca_file) +
                         ": " + loadError("CA certificates")};
  }
  static constexpr unsigned char kAlpn[] = {3, 'd', 'o', 't'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  // Tickets are kept per upstream by the caller (TlsSession::takeTicket),
  // not in OpenSSL's cache.
  SSL_CTX_set_session_cache_mode(ctx.get(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), SessionTickets::onNewSession);
  BIO_METHOD* method = makeBioMethod();
  if (method == nullptr) return {nullptr, "tls: cannot create a BIO method: " + lastReason()};
  std::shared_ptr<TlsContext> context(new TlsContext(
      ctx.release(), method, ca_file.empty() ? "client, system CAs" : "client, CAs " + ca_file));
  return {std::move(context), {}};
}

TlsContext::Loaded TlsContext::load(const std::string& certificate, const std::string& key) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  if (!ctx) return {nullptr, "tls: cannot create a TLS context: " + lastReason()};
  if (const std::string what = configure(ctx.get()); !what.empty()) {
    return {nullptr, "tls: cannot set up the TLS context (" + what + "): " + lastReason()};
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), certificate.c_str()) != 1) {
    return {nullptr, "tls_certificate " + certificate + ": " + loadError("certificate")};
  }
  const std::string mismatch = "tls_key " + key + ": does not match the certificate in " +
                              certificate;
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (keyMismatch()) {
      ERR_clear_error();
      return {nullptr, mismatch};
    }
    if (pemIsEncrypted(key)) {
      ERR_clear_error();
      return {nullptr, "tls_key " + key + ": it is encrypted: shoal needs it unencrypted"};
    }
    return {nullptr, "tls_key " + key + ": " + loadError("private key")};
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {  // a key of another type
    ERR_clear_error();
    return {nullptr, mismatch};
  }
  BIO_METHOD* method = makeBioMethod();
  if (method == nullptr) return {nullptr, "tls: cannot create a BIO method: " + lastReason()};
  std::string description = describe(SSL_CTX_get0_certificate(ctx.get()));
  std::shared_ptr<TlsContext> context(
      new TlsContext(ctx.release(), method, std::move(description)));
  return {std::move(context), {}};
}

TlsContext::TlsContext(SSL_CTX* ctx, BIO_METHOD* bio_method, std::string description)
    : ctx_(ctx), bio_method_(bio_method), description_(std::move(description)) {}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
  BIO_meth_free(bio_method_);
}

std::unique_ptr<TlsSession> TlsSession::create(const TlsContext& context, Send send,
                                               void* send_context, bool http2) {
  SSL* ssl = SSL_new(context.ssl());
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  BIO* bio = BIO_new(context.bioMethod());
  if (bio == nullptr) {
    ERR_clear_error();
    SSL_free(ssl);
    return nullptr;
  }
  std::unique_ptr<TlsSession> session(new TlsSession(ssl, send, send_context));
  session->http2_ = http2;
  BIO_set_data(bio, session.get());
  SSL_set_bio(ssl, bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl);
  return session;
}

std::unique_ptr<TlsSession> TlsSession::createClient(const TlsContext& context, Send send,
                                                     void* send_context,
                                                     const std::string& server_name,
                                                     const TlsTicket& ticket) {
  auto session = create(context, send, send_context);
  if (!session) return nullptr;
  SSL* ssl = session->ssl_;
  SSL_set_connect_state(ssl);
  // A ticket that does not apply (expired, another server) only makes a
  // full handshake.
  if (ticket.session_ != nullptr) (void)SSL_set_session(ssl, ticket.session_);
  const bool address = base::IpAddress::parse(server_name).has_value();
  const int named =
      address ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str())
              : SSL_set1_host(ssl, server_name.c_str());
  // SNI (SSL_set_tlsext_host_name, a macro with a C cast).
  if (named != 1 ||
      (!address && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                            const_cast<char*>(server_name.c_str())) != 1)) {
    ERR_clear_error();
    return nullptr;
  }
  return session;
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

TlsSession::ReadResult TlsSession::read(std::span<uint8_t> out) {
  if (failed_) return {Event::kFailed};
  ERR_clear_error();
  if (!established_) {
    const int rc = SSL_do_handshake(ssl_);
    if (rc != 1) return failure(rc);
    established_ = true;
    return {Event::kHandshakeDone};
  }
  size_t length = 0;
  const int rc = SSL_read_ex(ssl_, out.data(), out.size(), &length);
  if (rc != 1) return failure(rc);
  return {Event::kData, length};
}

TlsSession::ReadResult TlsSession::failure(int rc) {
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      return {Event::kNeedInput};
    case SSL_ERROR_ZERO_RETURN:
      return {Event::kClosed};
    default:  // a protocol error, or our send failed (the BIO never blocks)
      failed_ = true;
      ERR_clear_error();
      return {Event::kFailed};
  }
}

bool TlsSession::write(std::span<const uint8_t> plaintext) {
  if (!established_ || failed_) return false;
  ERR_clear_error();
  size_t written = 0;
  if (SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written) == 1) return true;
  failed_ = true;
  ERR_clear_error();
  return false;
}

void TlsSession::shutdown() {
  if (!established_ || failed_) return;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);  // sends close_notify; the client's is not awaited
  ERR_clear_error();
}

bool TlsSession::resumed() const { return SSL_session_reused(ssl_) == 1; }

std::string TlsSession::protocol() const { return SSL_get_version(ssl_); }

std::string TlsSession::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &data, &length);
  if (data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(data), length);
}

}  // namespace shoal::worker
