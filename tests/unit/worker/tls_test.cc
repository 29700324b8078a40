// worker/tls.h without sockets: loading the certificate and key (and the
// errors an operator sees), and a server session driven against an
// OpenSSL client through memory: handshake, ALPN, records split at any
// octet, garbage, old protocol versions, close_notify both ways, a send
// that fails.

#include "worker/tls.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/worker/tls_files.h"

namespace shoal::worker {
namespace {

TEST(TlsContextTest, LoadsAMatchingPairAndDescribesTheCertificate) {
  TlsFiles files;
  files.make("a");
  const auto loaded = TlsContext::load(files.path("a.crt"), files.path("a.key"));
  ASSERT_TRUE(loaded.context) << loaded.error;
  EXPECT_EQ(loaded.error, "");
  EXPECT_EQ(loaded.context->description().rfind("CN=shoal.test, valid until ", 0), 0u)
      << loaded.context->description();
  files.make("rsa", "rsa.test", /*rsa=*/true);
  EXPECT_TRUE(TlsContext::load(files.path("rsa.crt"), files.path("rsa.key")).context);
}

TEST(TlsContextTest, ErrorsNameTheFileAndSayWhatIsWrong) {
  TlsFiles files;
  files.make("a");
  files.make("b");
  files.make("rsa", "rsa.test", /*rsa=*/true);
  files.make("locked", "shoal.test", false, "secret");
  files.write("garbage.pem", "not PEM at all\n");
  const auto error = [&](const std::string& cert, const std::string& key) {
    const auto loaded = TlsContext::load(files.path(cert), files.path(key));
    EXPECT_FALSE(loaded.context);
    return loaded.error;
  };
  EXPECT_EQ(error("missing.crt", "a.key"),
            "tls_certificate " + files.path("missing.crt") + ": No such file or directory");
  EXPECT_EQ(error("garbage.pem", "a.key"),
            "tls_certificate " + files.path("garbage.pem") + ": no PEM certificate in it");
  EXPECT_EQ(error("a.key", "a.key"),
            "tls_certificate " + files.path("a.key") + ": no PEM certificate in it");
  EXPECT_EQ(error("a.crt", "a.crt"),
            "tls_key " + files.path("a.crt") + ": no PEM private key in it");
  const std::string mismatch = ": does not match the certificate in " + files.path("a.crt");
  EXPECT_EQ(error("a.crt", "b.key"), "tls_key " + files.path("b.key") + mismatch);
  EXPECT_EQ(error("a.crt", "rsa.key"), "tls_key " + files.path("rsa.key") + mismatch);
  // Never a passphrase prompt (stdin is a terminal when run by hand).
  EXPECT_EQ(error("locked.crt", "locked.key"),
            "tls_key " + files.path("locked.key") +
                ": it is encrypted: shoal needs it unencrypted");
}

/// A server session and an OpenSSL client wired through memory: what the
/// session sends lands in `to_client`, and `pump` feeds the client's
/// output to the session in chunks of `chunk` octets.
class Pair {
 public:
  explicit Pair(const TlsContext& server, const std::string& cafile = "",
                const std::vector<std::string>& alpn = {"dot"}, int max_version = 0) {
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    if (!cafile.empty()) {
      SSL_CTX_load_verify_locations(client_ctx_, cafile.c_str(), nullptr);
      SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (max_version != 0) {
      SSL_CTX_set_min_proto_version(client_ctx_, max_version);
      SSL_CTX_set_max_proto_version(client_ctx_, max_version);
      SSL_CTX_set_security_level(client_ctx_, 0);
      SSL_CTX_set_cipher_list(client_ctx_, "DEFAULT:@SECLEVEL=0");
    }
    std::string wire;
    for (const auto& id : alpn) wire += static_cast<char>(id.size()) + id;
    if (!wire.empty()) {
      SSL_CTX_set_alpn_protos(client_ctx_, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned>(wire.size()));
    }
    client_ = SSL_new(client_ctx_);
    SSL_set1_host(client_, "shoal.test");
    client_in_ = BIO_new(BIO_s_mem());
    client_out_ = BIO_new(BIO_s_mem());
    SSL_set_bio(client_, client_in_, client_out_);
    SSL_set_connect_state(client_);
    session_ = TlsSession::create(server, &Pair::send, this);
  }
  ~Pair() {
    session_.reset();
    SSL_free(client_);
    SSL_CTX_free(client_ctx_);
  }

  static bool send(void* context, std::span<const uint8_t> ciphertext) {
    auto* pair = static_cast<Pair*>(context);
    if (pair->fail_sends) return false;
    pair->sent.insert(pair->sent.end(), ciphertext.begin(), ciphertext.end());
    BIO_write(pair->client_in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
    return true;
  }

  /// Moves the client's pending output into the session; returns the
  /// events it reported, and appends plaintext to `plain`.
  std::vector<TlsSession::Event> pump(size_t chunk = 1 << 20) {
    std::vector<uint8_t> bytes(static_cast<size_t>(BIO_ctrl_pending(client_out_)));
    if (!bytes.empty()) BIO_read(client_out_, bytes.data(), static_cast<int>(bytes.size()));
    return feed(bytes, chunk);
  }

  std::vector<TlsSession::Event> feed(std::span<const uint8_t> bytes, size_t chunk) {
    std::vector<TlsSession::Event> events;
    uint8_t out[16384];
    for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
      session_->setInput(bytes.subspan(pos, std::min(chunk, bytes.size() - pos)));
      for (;;) {
        const auto result = session_->read(out);
        if (result.event == TlsSession::Event::kNeedInput) break;
        events.push_back(result.event);
        if (result.event == TlsSession::Event::kData) {
          plain.insert(plain.end(), out, out + result.length);
        }
        if (result.event == TlsSession::Event::kClosed ||
            result.event == TlsSession::Event::kFailed) {
          return events;
        }
      }
    }
    session_->setInput({});
    return events;
  }

  /// Runs the handshake, `chunk` octets at a time; true when both ends
  /// are done.
  bool handshake(size_t chunk = 1 << 20) {
    for (int round = 0; round < 10; ++round) {
      const int rc = SSL_do_handshake(client_);
      if (rc != 1 && SSL_get_error(client_, rc) != SSL_ERROR_WANT_READ) return false;
      const auto events = pump(chunk);
      for (const auto event : events) {
        if (event == TlsSession::Event::kFailed) return false;
      }
      if (rc == 1 && session_->established()) return true;
    }
    return false;
  }

  std::string clientRead() {
    char buf[4096];
    const int n = SSL_read(client_, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  TlsSession& session() { return *session_; }
  SSL* client() { return client_; }
  std::vector<uint8_t> sent;
  std::vector<uint8_t> plain;
  bool fail_sends = false;

 private:
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  BIO* client_in_ = nullptr;
  BIO* client_out_ = nullptr;
  std::unique_ptr<TlsSession> session_;
};

class TlsSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_.make("a");
    auto loaded = TlsContext::load(files_.path("a.crt"), files_.path("a.key"));
    ASSERT_TRUE(loaded.context) << loaded.error;
    context_ = std::move(loaded.context);
  }
  TlsFiles files_;
  std::shared_ptr<TlsContext> context_;
};

TEST_F(TlsSessionTest, HandshakeThenQueriesBothWays) {
  Pair pair(*context_, files_.path("a.crt"));
  ASSERT_TRUE(pair.handshake());
  EXPECT_EQ(pair.session().protocol(), "TLSv1.3");
  EXPECT_EQ(pair.session().alpn(), "dot");
  EXPECT_EQ(SSL_get_verify_result(pair.client()), X509_V_OK);
  // Two messages in one client write come out in order.
  const std::string two("\x00\x03" "abc" "\x00\x01" "z", 8);
  ASSERT_EQ(SSL_write(pair.client(), two.data(), 8), 8);
  pair.pump();
  EXPECT_EQ(std::string(pair.plain.begin(), pair.plain.end()), two);
  const std::string answer("\x00\x05" "hello", 7);
  ASSERT_TRUE(
      pair.session().write({reinterpret_cast<const uint8_t*>(answer.data()), answer.size()}));
  EXPECT_EQ(pair.clientRead(), answer);
  // A message larger than a record is several records, all sent.
  const std::string big(40000, 'x');
  ASSERT_TRUE(pair.session().write({reinterpret_cast<const uint8_t*>(big.data()), big.size()}));
  std::string got;
  while (got.size() < big.size()) {
    const std::string part = pair.clientRead();
    ASSERT_FALSE(part.empty());
    got += part;
  }
  EXPECT_EQ(got, big);
}

TEST_F(TlsSessionTest, CiphertextSplitAtEveryOctet) {
  Pair pair(*context_);
  ASSERT_TRUE(pair.handshake(/*chunk=*/1));
  ASSERT_EQ(SSL_write(pair.client(), "query", 5), 5);
  const auto events = pair.pump(/*chunk=*/1);
  EXPECT_EQ(std::string(pair.plain.begin(), pair.plain.end()), "query");
  EXPECT_EQ(events, std::vector<TlsSession::Event>{TlsSession::Event::kData});
}

TEST_F(TlsSessionTest, AlpnIsOptionalAndOnlyDotIsChosen) {
  Pair none(*context_, "", {});
  ASSERT_TRUE(none.handshake());
  EXPECT_EQ(none.session().alpn(), "");
  Pair other(*context_, "", {"h2", "http/1.1"});
  ASSERT_TRUE(other.handshake());
  EXPECT_EQ(other.session().alpn(), "");
  Pair both(*context_, "", {"h2", "dot"});
  ASSERT_TRUE(both.handshake());
  EXPECT_EQ(both.session().alpn(), "dot");
}

TEST_F(TlsSessionTest, TlsTwelveIsAcceptedAndElevenRefused) {
  Pair twelve(*context_, "", {"dot"}, TLS1_2_VERSION);
  ASSERT_TRUE(twelve.handshake());
  EXPECT_EQ(twelve.session().protocol(), "TLSv1.2");
  const std::string cipher = SSL_get_cipher_name(twelve.client());
  EXPECT_EQ(cipher.rfind("ECDHE-", 0), 0u) << cipher;
  Pair eleven(*context_, "", {"dot"}, TLS1_1_VERSION);
  EXPECT_FALSE(eleven.handshake());
  EXPECT_TRUE(eleven.session().failed());
  EXPECT_FALSE(eleven.session().established());
  ASSERT_FALSE(eleven.sent.empty());
  EXPECT_EQ(eleven.sent[0], 0x15);  // an alert went out
}

TEST_F(TlsSessionTest, GarbageFailsAndTheSessionStaysFailed) {
  Pair pair(*context_);
  const std::string garbage("\x00\x1d plain DNS instead of a ClientHello", 37);
  const auto events =
      pair.feed({reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size()}, 1 << 20);
  EXPECT_EQ(events, std::vector<TlsSession::Event>{TlsSession::Event::kFailed});
  EXPECT_TRUE(pair.session().failed());
  uint8_t out[64];
  EXPECT_EQ(pair.session().read(out).event, TlsSession::Event::kFailed);
  EXPECT_FALSE(pair.session().write({out, 1}));
  const size_t sent = pair.sent.size();
  pair.session().shutdown();  // nothing after a fatal error
  EXPECT_EQ(pair.sent.size(), sent);
}

TEST_F(TlsSessionTest, CloseNotifyBothWays) {
  Pair pair(*context_);
  ASSERT_TRUE(pair.handshake());
  pair.session().shutdown();
  EXPECT_EQ(pair.clientRead(), "");
  EXPECT_EQ(SSL_get_error(pair.client(), 0), SSL_ERROR_ZERO_RETURN);
  Pair other(*context_);
  ASSERT_TRUE(other.handshake());
  SSL_shutdown(other.client());
  EXPECT_EQ(other.pump(), std::vector<TlsSession::Event>{TlsSession::Event::kClosed});
}

TEST_F(TlsSessionTest, AFailedSendFailsTheWrite) {
  Pair pair(*context_);
  ASSERT_TRUE(pair.handshake());
  pair.fail_sends = true;
  const uint8_t message[] = {0, 1, 'x'};
  EXPECT_FALSE(pair.session().write(message));
  EXPECT_TRUE(pair.session().failed());
}

TEST_F(TlsSessionTest, WritesBeforeTheHandshakeAreRefused) {
  Pair pair(*context_);
  const uint8_t message[] = {0, 1, 'x'};
  EXPECT_FALSE(pair.session().write(message));
  EXPECT_TRUE(pair.sent.empty());
}

TEST_F(TlsSessionTest, SessionsResumeWithTickets) {
  Pair first(*context_);
  ASSERT_TRUE(first.handshake());
  first.clientRead();  // the tickets (TLS 1.3 sends them after the handshake)
  SSL_SESSION* ticket = SSL_get1_session(first.client());
  ASSERT_NE(ticket, nullptr);
  ASSERT_TRUE(SSL_SESSION_is_resumable(ticket));
  Pair second(*context_);
  SSL_set_session(second.client(), ticket);
  ASSERT_TRUE(second.handshake());
  EXPECT_TRUE(SSL_session_reused(second.client()));
  SSL_SESSION_free(ticket);
}

// --- The client side (DNS over TLS to upstreams) -----------------------------

/// Our client session and our server session, wired through memory.
class Wire {
 public:
  Wire(const TlsContext& server, const TlsContext& client, const std::string& name,
       const TlsTicket& ticket = {}) {
    server_ = TlsSession::create(server, &Wire::toClient, this);
    client_ = TlsSession::createClient(client, &Wire::toServer, this, name, ticket);
  }
  TlsSession* client() { return client_.get(); }
  TlsSession& server() { return *server_; }

  /// Moves what each side sent to the other until neither sends; the
  /// plaintext each read lands in client_plain / server_plain. False when
  /// a side failed.
  bool pump() {
    for (int round = 0; round < 20; ++round) {
      if (!feed(*client_, to_client_, client_plain) || !feed(*server_, to_server_, server_plain)) {
        return false;
      }
      if (to_client_.empty() && to_server_.empty()) return true;
    }
    return false;
  }
  std::string client_plain, server_plain;

 private:
  static bool toClient(void* self, std::span<const uint8_t> data) {
    auto& buffer = static_cast<Wire*>(self)->to_client_;
    buffer.insert(buffer.end(), data.begin(), data.end());
    return true;
  }
  static bool toServer(void* self, std::span<const uint8_t> data) {
    auto& buffer = static_cast<Wire*>(self)->to_server_;
    buffer.insert(buffer.end(), data.begin(), data.end());
    return true;
  }
  static bool feed(TlsSession& session, std::vector<uint8_t>& input, std::string& plain) {
    const std::vector<uint8_t> in = std::exchange(input, {});
    session.setInput(in);
    std::vector<uint8_t> out(16384);
    for (;;) {
      const auto r = session.read(out);
      switch (r.event) {
        case TlsSession::Event::kHandshakeDone:
          continue;
        case TlsSession::Event::kData:
          plain.append(reinterpret_cast<const char*>(out.data()), r.length);
          continue;
        case TlsSession::Event::kNeedInput:
        case TlsSession::Event::kClosed:
          return true;
        case TlsSession::Event::kFailed:
          return false;
      }
    }
  }
  std::unique_ptr<TlsSession> server_, client_;
  std::vector<uint8_t> to_client_, to_server_;
};

TEST_F(TlsSessionTest, OurClientVerifiesTheServerAndTalks) {
  auto client = TlsContext::client(files_.path("a.crt"));
  ASSERT_TRUE(client.context) << client.error;
  Wire wire(*context_, *client.context, "shoal.test");
  ASSERT_NE(wire.client(), nullptr);
  ASSERT_TRUE(wire.pump());
  ASSERT_TRUE(wire.client()->established());
  EXPECT_EQ(wire.client()->alpn(), "dot");
  const std::string query("\x00\x03" "abc", 5);
  ASSERT_TRUE(wire.client()->write({reinterpret_cast<const uint8_t*>(query.data()), query.size()}));
  ASSERT_TRUE(wire.pump());
  EXPECT_EQ(wire.server_plain, query);
  const std::string answer("\x00\x02" "ok", 4);
  ASSERT_TRUE(wire.server().write({reinterpret_cast<const uint8_t*>(answer.data()), answer.size()}));
  ASSERT_TRUE(wire.pump());
  EXPECT_EQ(wire.client_plain, answer);
}

TEST_F(TlsSessionTest, OurClientRefusesAnotherNameOrAnUnknownCa) {
  auto client = TlsContext::client(files_.path("a.crt"));
  ASSERT_TRUE(client.context) << client.error;
  Wire wrong_name(*context_, *client.context, "other.test");
  ASSERT_NE(wrong_name.client(), nullptr);
  EXPECT_FALSE(wrong_name.pump());
  EXPECT_FALSE(wrong_name.client()->established());
  files_.make("b", "shoal.test");
  auto other_ca = TlsContext::client(files_.path("b.crt"));
  ASSERT_TRUE(other_ca.context) << other_ca.error;
  Wire unknown(*context_, *other_ca.context, "shoal.test");
  EXPECT_FALSE(unknown.pump());
  EXPECT_FALSE(unknown.client()->established());
  // A CA file that is not there is an error naming it.
  auto missing = TlsContext::client(files_.path("none.crt"));
  EXPECT_FALSE(missing.context);
  EXPECT_NE(missing.error.find("none.crt"), std::string::npos) << missing.error;
}

TEST_F(TlsSessionTest, OurClientKeepsTheServersTicketAndResumesWithIt) {
  auto client = TlsContext::client(files_.path("a.crt"));
  ASSERT_TRUE(client.context) << client.error;
  Wire first(*context_, *client.context, "shoal.test");
  ASSERT_TRUE(first.pump());  // the handshake, then the TLS 1.3 tickets
  ASSERT_TRUE(first.client()->established());
  EXPECT_FALSE(first.client()->resumed());
  TlsTicket ticket = first.client()->takeTicket();
  ASSERT_TRUE(ticket);
  EXPECT_FALSE(first.client()->takeTicket());  // handed out once

  Wire second(*context_, *client.context, "shoal.test", ticket);
  ASSERT_TRUE(second.pump());
  ASSERT_TRUE(second.client()->established());
  EXPECT_TRUE(second.client()->resumed());
  EXPECT_TRUE(second.client()->takeTicket());  // a fresh one for the next connection

  // A server with other ticket keys cannot resume it: a full handshake,
  // still verified.
  auto other = TlsContext::load(files_.path("a.crt"), files_.path("a.key"));
  ASSERT_TRUE(other.context) << other.error;
  Wire third(*other.context, *client.context, "shoal.test", ticket);
  ASSERT_TRUE(third.pump());
  ASSERT_TRUE(third.client()->established());
  EXPECT_FALSE(third.client()->resumed());
}

}  // namespace
}  // namespace shoal::worker
