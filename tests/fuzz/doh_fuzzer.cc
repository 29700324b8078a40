// Fuzzes the DNS-over-HTTPS server session (worker/doh.h): everything a
// client sends after the TLS handshake is untrusted input to nghttp2 and
// to our request handling (path, method, content type, the dns parameter's
// base64url, bodies of any length), and the session must never crash,
// leak a stream, or answer a stream twice.
//
// Input layout: u8 mode | the rest.
//   mode bit 0 clear: the rest is raw bytes after the client preface, fed
//     in chunks whose sizes come from the mode's upper bits;
//   mode bit 0 set: a well-formed request made by an nghttp2 client
//     session: bit 1 POST (else GET), bit 2 the rest is the path as is
//     (else the dns parameter of /dns-query, base64url-encoded, or the POST
//     body), bit 3 a content type other than application/dns-message. This
//     reaches the request handling without seeds of HPACK-encoded frames.
// Every query is answered at once with its own bytes (any answer will do);
// the session's output goes nowhere.

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "worker/doh.h"

namespace {

using shoal::worker::DohSession;

struct Sink {
  DohSession* session = nullptr;
  size_t queries = 0;
};

void onQuery(void* context, int32_t stream, std::span<const uint8_t> query) {
  auto& sink = *static_cast<Sink*>(context);
  ++sink.queries;
  sink.session->respond(stream, query);
  sink.session->respond(stream, query);  // a second answer must be ignored
}

bool onSend(void* /*context*/, std::span<const uint8_t> /*frames*/) { return true; }

std::string base64Url(std::span<const uint8_t> data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (const uint8_t byte : data) {
    bits = bits << 8 | byte;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
  return out;
}

ssize_t readBody(nghttp2_session* /*session*/, int32_t /*stream*/, uint8_t* buf, size_t length,
                 uint32_t* flags, nghttp2_data_source* source, void* /*user_data*/) {
  auto& body = *static_cast<std::span<const uint8_t>*>(source->ptr);
  const size_t n = std::min(length, body.size());
  std::copy_n(body.begin(), n, buf);
  body = body.subspan(n);
  if (body.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

/// The frames an nghttp2 client sends for one request built from `rest`.
std::vector<uint8_t> clientRequest(uint8_t mode, std::span<const uint8_t> rest) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session* client = nullptr;
  nghttp2_session_client_new(&client, callbacks, nullptr);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, nullptr, 0);
  const bool post = (mode & 2) != 0;
  const bool raw_path = (mode & 4) != 0;
  std::string path = "/dns-query";
  if (raw_path) {
    path.assign(rest.begin(), rest.end());
  } else if (!post) {
    path += "?dns=" + base64Url(rest);
  }
  const std::string method = post ? "POST" : "GET";
  const std::string type = (mode & 8) != 0 ? "text/plain" : "application/dns-message";
  auto nv = [](const std::string& name, const std::string& value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  const std::string k_method = ":method", k_path = ":path", k_scheme = ":scheme",
                    k_authority = ":authority", k_type = "content-type", https = "https",
                    host = "shoal.test";
  std::vector<nghttp2_nv> headers = {nv(k_method, method), nv(k_scheme, https),
                                     nv(k_authority, host), nv(k_path, path)};
  if (post) headers.push_back(nv(k_type, type));
  std::span<const uint8_t> body = post && !raw_path ? rest : std::span<const uint8_t>();
  nghttp2_data_provider provider{};
  provider.source.ptr = &body;
  provider.read_callback = readBody;
  nghttp2_submit_request(client, nullptr, headers.data(), headers.size(),
                         post ? &provider : nullptr, nullptr);
  const std::string_view magic(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
  std::vector<uint8_t> out(magic.begin(), magic.end());
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(client, &data);
    if (n <= 0) break;
    out.insert(out.end(), data, data + n);
  }
  nghttp2_session_del(client);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::span<const uint8_t> rest(data + 1, size - 1);
  Sink sink;
  auto session = DohSession::create(onQuery, onSend, &sink, 100);
  if (!session) return 0;
  sink.session = session.get();
  (void)session->flush();
  std::vector<uint8_t> input;
  if ((mode & 1) != 0) {
    input = clientRequest(mode, rest);
  } else {
    const std::string_view magic(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
    input.assign(magic.begin(), magic.end());
    input.insert(input.end(), rest.begin(), rest.end());
  }
  const size_t chunk = 1 + (mode >> 1) * 7;
  for (size_t pos = 0; pos < input.size(); pos += chunk) {
    const size_t n = std::min(chunk, input.size() - pos);
    if (!session->receive({input.data() + pos, n})) break;
    if (!session->flush()) break;
  }
  (void)session->flush();
  (void)session->finished();
  (void)session->streams();
  (void)session->takeErrors();
  // The decoder on its own, with the raw bytes as text.
  (void)shoal::worker::decodeBase64Url(
      std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
  return 0;
}
