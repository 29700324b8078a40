#include "dnstap/sink.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdlib>
#include <cstring>

extern "C" {
#include <fstrm.h>
}

#include "dnstap/dnstap.pb-c.h"

namespace shoal::dnstap {
namespace {

constexpr char kContentType[] = "protobuf:dnstap.Dnstap";
// The I/O thread tries the collector's socket again this often (seconds).
constexpr unsigned kReopenSeconds = 2;

Dnstap__Message__Type typeOf(Kind kind) {
  switch (kind) {
    case Kind::kClientQuery: return DNSTAP__MESSAGE__TYPE__CLIENT_QUERY;
    case Kind::kClientResponse: return DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
    case Kind::kResolverQuery: return DNSTAP__MESSAGE__TYPE__RESOLVER_QUERY;
    case Kind::kResolverResponse: return DNSTAP__MESSAGE__TYPE__RESOLVER_RESPONSE;
  }
  return DNSTAP__MESSAGE__TYPE__CLIENT_QUERY;
}

Dnstap__SocketProtocol protocolOf(Transport transport) {
  switch (transport) {
    case Transport::kUdp: return DNSTAP__SOCKET_PROTOCOL__UDP;
    case Transport::kTcp: return DNSTAP__SOCKET_PROTOCOL__TCP;
    case Transport::kTls: return DNSTAP__SOCKET_PROTOCOL__DOT;
    case Transport::kHttps: return DNSTAP__SOCKET_PROTOCOL__DOH;
  }
  return DNSTAP__SOCKET_PROTOCOL__UDP;
}

ProtobufCBinaryData bytesOf(const void* data, size_t length) {
  ProtobufCBinaryData b;
  b.data = static_cast<uint8_t*>(const_cast<void*>(data));
  b.len = length;
  return b;
}

}  // namespace

std::unique_ptr<Sink> Sink::open(const Options& options, std::string* error) {
  if (options.socket_path.empty() || options.socket_path.size() >= sizeof(sockaddr::sa_data) + 94) {
    *error = "dnstap socket path empty or too long";
    return nullptr;
  }
  std::unique_ptr<Sink> sink(new Sink());
  for (int i = 0; i < 4; ++i) sink->kinds_[i] = options.kinds[i];
  sink->identity_ = options.identity;
  sink->version_ = options.version;

  fstrm_writer_options* wopt = fstrm_writer_options_init();
  fstrm_writer_options_add_content_type(wopt, kContentType, sizeof kContentType - 1);
  fstrm_unix_writer_options* uwopt = fstrm_unix_writer_options_init();
  fstrm_unix_writer_options_set_socket_path(uwopt, options.socket_path.c_str());
  fstrm_writer* writer = fstrm_unix_writer_init(uwopt, wopt);
  fstrm_unix_writer_options_destroy(&uwopt);
  fstrm_writer_options_destroy(&wopt);
  if (writer == nullptr) {
    *error = "dnstap: cannot make an fstrm writer for " + options.socket_path;
    return nullptr;
  }
  fstrm_iothr_options* topt = fstrm_iothr_options_init();
  fstrm_iothr_options_set_num_input_queues(topt, 1);  // the worker's loop only
  fstrm_iothr_options_set_input_queue_size(topt, options.queue);
  fstrm_iothr_options_set_queue_model(topt, FSTRM_IOTHR_QUEUE_MODEL_SPSC);
  fstrm_iothr_options_set_reopen_interval(topt, kReopenSeconds);
  sink->iothr_ = fstrm_iothr_init(topt, &writer);  // takes the writer
  fstrm_iothr_options_destroy(&topt);
  if (sink->iothr_ == nullptr) {
    if (writer != nullptr) fstrm_writer_destroy(&writer);
    *error = "dnstap: cannot start the fstrm I/O thread (queue size a power of two?)";
    return nullptr;
  }
  sink->queue_ = fstrm_iothr_get_input_queue(sink->iothr_);
  if (sink->queue_ == nullptr) {
    *error = "dnstap: no fstrm input queue";
    return nullptr;
  }
  return sink;
}

Sink::~Sink() {
  if (iothr_ != nullptr) fstrm_iothr_destroy(&iothr_);
}

bool Sink::log(Kind kind, Transport transport, const Endpoint& initiator,
               const Endpoint& responder, std::span<const uint8_t> message, int64_t query_us,
               int64_t response_us) {
  Dnstap__Message m = DNSTAP__MESSAGE__INIT;
  m.type = typeOf(kind);
  m.has_socket_protocol = true;
  m.socket_protocol = protocolOf(transport);
  // The family of whichever end is known (the client, or the server).
  const base::IpAddress& family_of = initiator.port != 0 ? initiator.address : responder.address;
  m.has_socket_family = true;
  m.socket_family = family_of.isV4() ? DNSTAP__SOCKET_FAMILY__INET : DNSTAP__SOCKET_FAMILY__INET6;
  // Addresses in network order, 4 or 16 octets; an unknown one is left out.
  const auto initiator_bytes = initiator.address.bytes();
  const auto responder_bytes = responder.address.bytes();
  if (initiator.port != 0) {
    m.has_query_address = true;
    m.query_address = bytesOf(initiator_bytes.data(), initiator.address.isV4() ? 4 : 16);
    m.has_query_port = true;
    m.query_port = initiator.port;
  }
  if (responder.port != 0) {
    m.has_response_address = true;
    m.response_address = bytesOf(responder_bytes.data(), responder.address.isV4() ? 4 : 16);
    m.has_response_port = true;
    m.response_port = responder.port;
  }
  if (query_us > 0) {
    m.has_query_time_sec = m.has_query_time_nsec = true;
    m.query_time_sec = static_cast<uint64_t>(query_us / 1000000);
    m.query_time_nsec = static_cast<uint32_t>(query_us % 1000000 * 1000);
  }
  if (response_us > 0) {
    m.has_response_time_sec = m.has_response_time_nsec = true;
    m.response_time_sec = static_cast<uint64_t>(response_us / 1000000);
    m.response_time_nsec = static_cast<uint32_t>(response_us % 1000000 * 1000);
  }
  const bool is_query = kind == Kind::kClientQuery || kind == Kind::kResolverQuery;
  if (is_query) {
    m.has_query_message = true;
    m.query_message = bytesOf(message.data(), message.size());
  } else {
    m.has_response_message = true;
    m.response_message = bytesOf(message.data(), message.size());
  }
  Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
  d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
  d.message = &m;
  if (!identity_.empty()) {
    d.has_identity = true;
    d.identity = bytesOf(identity_.data(), identity_.size());
  }
  if (!version_.empty()) {
    d.has_version = true;
    d.version = bytesOf(version_.data(), version_.size());
  }
  const size_t size = dnstap__dnstap__get_packed_size(&d);
  auto* frame = static_cast<uint8_t*>(std::malloc(size));
  if (frame == nullptr) {
    ++dropped_;
    return false;
  }
  dnstap__dnstap__pack(&d, frame);
  if (fstrm_iothr_submit(iothr_, queue_, frame, size, fstrm_free_wrapper, nullptr) !=
      fstrm_res_success) {
    std::free(frame);  // still ours (the queue is full, or fstrm is stopping)
    ++dropped_;
    return false;
  }
  ++sent_;
  return true;
}

}  // namespace shoal::dnstap
