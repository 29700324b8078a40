#include "worker/doh.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <cstring>
#include <span>
#include <vector>

#include "dns/message.h"

namespace shoal::worker {

// A TLS record carries at most this much (RFC 8446 section 5.1): frames are
// gathered up to it before they are sent.
constexpr size_t kTlsRecordPlaintext = 16384;

namespace {

constexpr std::string_view kPath = "/dns-query";
constexpr std::string_view kDnsMessage = "application/dns-message";
constexpr size_t kMaxQuery = 65535;
/// Request bodies one connection may hold at once, over all its streams
/// (100 streams of 64 KiB would be 6.4 MB): a body that would pass it is
/// answered 413 like one too long. Real queries are a few hundred octets.
constexpr size_t kMaxPendingBodies = 128 * 1024;

int valueOf(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/// The value of query parameter `name` in "a=1&dns=...", or npos-empty.
std::string_view parameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

/// The smallest TTL of the answer and authority sections (RFC 8484 5.1);
/// 0 for a message without records there.
uint32_t freshness(std::span<const uint8_t> answer) {
  auto message = dns::Message::parse(answer);
  if (!message) return 0;
  bool any = false;
  uint32_t ttl = UINT32_MAX;
  for (const dns::Section section : {dns::Section::kAnswer, dns::Section::kAuthority}) {
    for (const dns::RrView& rr : message->section(section)) {
      ttl = std::min(ttl, rr.ttl);
      any = true;
    }
  }
  return any ? ttl : 0;
}

}  // namespace

/// One request and, later, its response.
struct DohSession::Stream {
  std::string method, path, content_type;
  std::vector<uint8_t> body;
  bool too_big = false;
  bool responded = false;
  std::vector<uint8_t> response;  // the body being sent
  size_t sent = 0;
  std::array<char, 16> length{};   // content-length, text
  std::array<char, 24> max_age{};  // cache-control, text
};

// nghttp2's callbacks: `user_data` is the DohSession.
struct DohCallbacks {
  static DohSession& of(void* user_data) { return *static_cast<DohSession*>(user_data); }

  static int beginHeaders(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                          void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    of(user_data).streams_[frame->hd.stream_id] = std::make_unique<DohSession::Stream>();
    return 0;
  }

  static int header(nghttp2_session* /*session*/, const nghttp2_frame* frame, const uint8_t* name,
                    size_t name_length, const uint8_t* value, size_t value_length,
                    uint8_t /*flags*/, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    DohSession& self = of(user_data);
    const auto it = self.streams_.find(frame->hd.stream_id);
    if (it == self.streams_.end()) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), name_length);
    const std::string_view v(reinterpret_cast<const char*>(value), value_length);
    if (n == ":method") it->second->method = v;
    else if (n == ":path") it->second->path = v;
    else if (n == "content-type") it->second->content_type = v;
    return 0;
  }

  static int data(nghttp2_session* /*session*/, uint8_t /*flags*/, int32_t stream_id,
                  const uint8_t* data, size_t length, void* user_data) {
    DohSession& self = of(user_data);
    const auto it = self.streams_.find(stream_id);
    if (it == self.streams_.end()) return 0;
    DohSession::Stream& s = *it->second;
    if (s.too_big) return 0;
    if (s.body.size() + length > kMaxQuery || self.pending_body_ + length > kMaxPendingBodies) {
      s.too_big = true;  // answered 413 once the request ends; nothing kept
      self.pending_body_ -= s.body.size();
      std::vector<uint8_t>().swap(s.body);
      return 0;
    }
    s.body.insert(s.body.end(), data, data + length);
    self.pending_body_ += length;
    return 0;
  }

  static int frame(nghttp2_session* /*session*/, const nghttp2_frame* frame, void* user_data) {
    const bool request_part = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
    if (request_part && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      of(user_data).complete(frame->hd.stream_id);
    }
    return 0;
  }

  static int close(nghttp2_session* /*session*/, int32_t stream_id, uint32_t /*error_code*/,
                   void* user_data) {
    DohSession& self = of(user_data);
    const auto it = self.streams_.find(stream_id);
    if (it == self.streams_.end()) return 0;
    self.pending_body_ -= it->second->body.size();
    self.streams_.erase(it);
    return 0;
  }

  static ssize_t read(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                      uint32_t* data_flags, nghttp2_data_source* /*source*/, void* user_data) {
    DohSession& self = of(user_data);
    const auto it = self.streams_.find(stream_id);
    if (it == self.streams_.end()) {
      (void)session;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    DohSession::Stream& s = *it->second;
    const size_t n = std::min(length, s.response.size() - s.sent);
    std::copy_n(s.response.begin() + static_cast<ptrdiff_t>(s.sent), n, buf);
    s.sent += n;
    if (s.sent == s.response.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

std::unique_ptr<DohSession> DohSession::create(Query query, Send send, void* context,
                                               uint32_t max_streams) {
  std::unique_ptr<DohSession> self(new DohSession(query, send, context));
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return nullptr;
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, DohCallbacks::beginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, DohCallbacks::header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, DohCallbacks::data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, DohCallbacks::frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, DohCallbacks::close);
  const int rc = nghttp2_session_server_new(&self->session_, callbacks, self.get());
  nghttp2_session_callbacks_del(callbacks);
  if (rc != 0) return nullptr;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams}};
  if (nghttp2_submit_settings(self->session_, NGHTTP2_FLAG_NONE, settings, 1) != 0) {
    return nullptr;
  }
  return self;
}

DohSession::DohSession(Query query, Send send, void* context)
    : query_(query), send_(send), context_(context) {}

DohSession::~DohSession() { nghttp2_session_del(session_); }

bool DohSession::receive(std::span<const uint8_t> plaintext) {
  if (failed_) return false;
  const ssize_t used = nghttp2_session_mem_recv(session_, plaintext.data(), plaintext.size());
  if (used < 0) {
    failed_ = true;  // nghttp2 has queued a GOAWAY where the error allows one
    return false;
  }
  return true;
}

void DohSession::complete(int32_t stream) {
  const auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  const std::string_view path(s.path);
  const size_t question = path.find('?');
  if (path.substr(0, question) != kPath) {
    respondStatus(stream, s, 404, {}, 0, false);
    return;
  }
  if (s.method == "GET") {
    if (question == std::string_view::npos) {
      respondStatus(stream, s, 400, {}, 0, false);
      return;
    }
    const std::string_view encoded = parameter(path.substr(question + 1), "dns");
    Base64Decoded query = decodeBase64Url(encoded);
    if (!query.ok || query.bytes.empty() || query.bytes.size() > kMaxQuery) {
      respondStatus(stream, s, 400, {}, 0, false);
      return;
    }
    query_(context_, stream, query.bytes);
    return;
  }
  if (s.method == "POST") {
    if (s.content_type != kDnsMessage) {
      respondStatus(stream, s, 415, {}, 0, false);
      return;
    }
    if (s.too_big) {
      respondStatus(stream, s, 413, {}, 0, false);
      return;
    }
    if (s.body.empty()) {
      respondStatus(stream, s, 400, {}, 0, false);
      return;
    }
    const std::vector<uint8_t> body = std::move(s.body);
    s.body.clear();
    pending_body_ -= body.size();
    query_(context_, stream, body);  // may respond (and close the stream) at once
    return;
  }
  respondStatus(stream, s, 405, {}, 0, false);
}

void DohSession::respond(int32_t stream, std::span<const uint8_t> answer) {
  const auto it = streams_.find(stream);
  if (it == streams_.end() || it->second->responded) return;  // reset by the client
  respondStatus(stream, *it->second, 200, answer, freshness(answer), true);
}

void DohSession::respondStatus(int32_t stream, Stream& s, int status,
                               std::span<const uint8_t> body, uint32_t max_age, bool dns) {
  if (s.responded) return;
  s.responded = true;
  if (status != 200) ++errors_;
  s.response.assign(body.begin(), body.end());
  s.sent = 0;
  const std::string code = std::to_string(status);
  const int length_chars =
      std::snprintf(s.length.data(), s.length.size(), "%zu", s.response.size());
  const int age_chars = std::snprintf(s.max_age.data(), s.max_age.size(), "max-age=%u", max_age);
  auto nv = [](std::string_view name, const char* value, size_t value_length) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value)), name.size(),
                      value_length, NGHTTP2_NV_FLAG_NONE};
  };
  std::vector<nghttp2_nv> headers = {
      nv(":status", code.c_str(), code.size()),
      nv("content-length", s.length.data(), static_cast<size_t>(length_chars))};
  if (dns) {
    headers.push_back(nv("content-type", kDnsMessage.data(), kDnsMessage.size()));
    headers.push_back(nv("cache-control", s.max_age.data(), static_cast<size_t>(age_chars)));
  }
  nghttp2_data_provider provider{};
  provider.read_callback = DohCallbacks::read;
  // nghttp2 copies the header names and values before it returns.
  if (nghttp2_submit_response(session_, stream, headers.data(), headers.size(),
                              s.response.empty() ? nullptr : &provider) != 0) {
    (void)nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, NGHTTP2_INTERNAL_ERROR);
  }
}

bool DohSession::flush() {
  // The frames of one flush (an answer's HEADERS and DATA, a SETTINGS ACK)
  // leave together: one TLS record and one write(2) per record's worth
  // rather than one per frame (bench/tcp-qps-bench.sh measured 1.92 writes
  // per DoH answer against 0.96 per DoT answer before). Gathered on the
  // stack: nothing stays with the session.
  uint8_t gathered[kTlsRecordPlaintext];
  size_t used = 0;
  auto send = [&]() {
    if (used == 0) return true;
    const bool ok = send_(context_, {gathered, used});
    used = 0;
    return ok;
  };
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t length = nghttp2_session_mem_send(session_, &data);
    if (length < 0) {
      failed_ = true;
      return false;
    }
    if (length == 0) break;
    auto chunk = std::span<const uint8_t>(data, static_cast<size_t>(length));
    while (!chunk.empty()) {
      const size_t n = std::min(chunk.size(), sizeof gathered - used);
      std::memcpy(gathered + used, chunk.data(), n);
      used += n;
      chunk = chunk.subspan(n);
      if (used == sizeof gathered && !send()) {
        failed_ = true;
        return false;
      }
    }
  }
  if (!send()) {
    failed_ = true;
    return false;
  }
  return true;
}

bool DohSession::finished() const {
  return failed_ || (nghttp2_session_want_read(session_) == 0 &&
                     nghttp2_session_want_write(session_) == 0);
}

Base64Decoded decodeBase64Url(std::string_view text) {
  Base64Decoded out;
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);  // padding tolerated
  if (text.size() % 4 == 1) return out;
  out.bytes.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const int v = valueOf(c);
    if (v < 0) {
      out.bytes.clear();
      return out;
    }
    bits = bits << 6 | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.bytes.push_back(static_cast<uint8_t>(bits >> count));
    }
  }
  out.ok = true;
  return out;
}

}  // namespace shoal::worker
