#include "resolver/response_writer.h"

#include <algorithm>

#include "dns/constants.h"

namespace shoal::resolver {

namespace {

constexpr uint16_t kMinUdpSize = 512;

}  // namespace

ClientRequest requestOf(const dns::Message& query, bool tcp, uint16_t our_udp_size) {
  ClientRequest request;
  request.id = query.header().id;
  request.flags = query.header().flags;
  if (query.question()) request.question = *query.question();
  request.tcp = tcp;
  if (query.edns()) {
    request.edns = true;
    request.dnssec_ok = query.edns()->dnssec_ok;
    request.udp_size = std::clamp<uint16_t>(query.edns()->udp_size, kMinUdpSize,
                                            std::max(our_udp_size, kMinUdpSize));
  }
  return request;
}

ResponseWriter::ResponseWriter(std::span<uint8_t> out, const ClientRequest& request,
                               uint16_t our_udp_size, const Ede* ede)
    : request_(request), writer_(out, request.sizeLimit()) {
  writer_.setId(request.id);
  writer_.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kRa |
                                         (request.flags & (dns::flag::kRd | dns::flag::kCd))));
  const dns::Question& q = request.question;
  if (!writer_.addQuestion(q.name, q.type, q.qclass)) return;
  if (request.edns) {
    edns_.udp_size = our_udp_size;
    edns_.dnssec_ok = request.dnssec_ok;
    if (ede != nullptr) (void)edns_.options.addExtendedError(ede->code, ede->text);
    if (request.tcp_keepalive) (void)edns_.options.addTcpKeepalive(*request.tcp_keepalive);
    if (request.cookie) (void)edns_.options.addCookie(request.cookie_out);
    if (request.ecs.echo) {
      dns::ClientSubnet echoed = request.ecs.echoed;
      echoed.scope_prefix = 0;
      (void)edns_.options.addClientSubnet(echoed);
    }
    if (!writer_.setEdns(edns_)) return;
  }
  after_question_ = writer_.mark();
  started_ = true;
}

bool ResponseWriter::addRecord(dns::Section section, const dns::Name& owner, uint16_t type,
                               uint32_t ttl, std::span<const uint8_t> rdata) {
  if (!writer_.addRr(section, owner, type, dns::rrclass::kIn, ttl, rdata)) {
    truncated_ = true;
    return false;
  }
  return true;
}

size_t ResponseWriter::finish(uint16_t rcode, bool secure) {
  if (truncated_) {
    // RFC 2181 section 9: the client retries over TCP for the whole answer.
    writer_.rollback(after_question_);
    writer_.setTruncated();
  }
  const bool asked = request_.dnssec_ok || (request_.flags & dns::flag::kAd) != 0;
  if (secure && asked) {
    writer_.setFlags(static_cast<uint16_t>(writer_.header().flags | dns::flag::kAd));
  }
  writer_.setRcode(rcode);
  return writer_.finish();
}

size_t writeErrorResponse(std::span<const uint8_t> packet, const dns::Message* query,
                          uint16_t rcode, std::span<uint8_t> out) {
  if (packet.size() < dns::kHeaderSize) return 0;
  const auto header = dns::Header::fromWire(packet.data());
  if (header.has(dns::flag::kQr)) return 0;
  dns::MessageWriter w(out, kMinUdpSize);
  w.setId(header.id);
  w.setFlags(static_cast<uint16_t>(dns::flag::kQr | dns::flag::kRa |
                                   (header.flags & (dns::flag::kRd | dns::flag::kCd)) |
                                   (header.flags & 0x7800u)));  // opcode echoed
  w.setRcode(rcode);
  dns::EdnsOut edns;
  if (query != nullptr) {
    if (query->question()) {
      (void)w.addQuestion(query->question()->name, query->question()->type,
                          query->question()->qclass);
    }
    if (query->edns()) (void)w.setEdns(edns);
  }
  return w.finish();
}

}  // namespace shoal::resolver
