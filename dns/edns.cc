#include "dns/edns.h"

#include <cstring>

#include "dns/constants.h"
#include "dns/wire_io.h"

namespace shoal::dns {

EdnsOptionIterator::EdnsOptionIterator(std::span<const uint8_t> rdata, size_t pos)
    : rdata_(rdata), pos_(pos) {}

EdnsOption EdnsOptionIterator::operator*() const {
  const uint8_t* p = rdata_.data() + pos_;
  return {load16(p), rdata_.subspan(pos_ + 4, load16(p + 2))};
}

EdnsOptionIterator& EdnsOptionIterator::operator++() {
  pos_ += 4u + load16(rdata_.data() + pos_ + 2);
  return *this;
}

WireStatus validateOptions(std::span<const uint8_t> rdata) {
  size_t pos = 0;
  while (pos < rdata.size()) {
    if (pos + 4 > rdata.size()) return base::fail(WireError::kBadOpt);
    const size_t len = load16(rdata.data() + pos + 2);
    if (pos + 4 + len > rdata.size()) return base::fail(WireError::kBadOpt);
    pos += 4 + len;
  }
  return {};
}

std::optional<EdnsOption> findOption(const OptView& opt, uint16_t code) {
  for (EdnsOption o : options(opt)) {
    if (o.code == code) return o;
  }
  return std::nullopt;
}

WireResult<ClientSubnet> parseClientSubnet(std::span<const uint8_t> body) {
  if (body.size() < 4) return base::fail(WireError::kBadOption);
  ClientSubnet ecs;
  ecs.family = load16(body.data());
  ecs.source_prefix = body[2];
  ecs.scope_prefix = body[3];
  unsigned width = 0;
  if (ecs.family == 1) {
    width = 32;
  } else if (ecs.family == 2) {
    width = 128;
  } else {
    return base::fail(WireError::kBadOption);
  }
  if (ecs.source_prefix > width || ecs.scope_prefix > width) return base::fail(WireError::kBadOption);
  const size_t octets = (ecs.source_prefix + 7u) / 8u;
  if (body.size() != 4 + octets) return base::fail(WireError::kBadOption);
  std::memcpy(ecs.address.data(), body.data() + 4, octets);
  // Bits beyond the source prefix must be zero (RFC 7871 section 6).
  if (ecs.source_prefix % 8 != 0) {
    const uint8_t mask = static_cast<uint8_t>(0xFFu >> (ecs.source_prefix % 8));
    if ((ecs.address[octets - 1] & mask) != 0) return base::fail(WireError::kBadOption);
  }
  return ecs;
}

WireResult<Cookie> parseCookie(std::span<const uint8_t> body) {
  // Client cookie alone (8) or with a server cookie of 8 to 32 octets.
  if (body.size() != 8 && (body.size() < 16 || body.size() > 40)) {
    return base::fail(WireError::kBadOption);
  }
  Cookie cookie;
  std::memcpy(cookie.client.data(), body.data(), 8);
  cookie.server_length = static_cast<uint8_t>(body.size() - 8);
  std::memcpy(cookie.server.data(), body.data() + 8, cookie.server_length);
  return cookie;
}

WireResult<ExtendedError> parseExtendedError(std::span<const uint8_t> body) {
  if (body.size() < 2) return base::fail(WireError::kBadOption);
  ExtendedError ede;
  ede.info_code = load16(body.data());
  ede.text = std::string_view(reinterpret_cast<const char*>(body.data() + 2), body.size() - 2);
  return ede;
}

WireResult<TcpKeepalive> parseTcpKeepalive(std::span<const uint8_t> body) {
  if (body.empty()) return TcpKeepalive{};
  if (body.size() != 2) return base::fail(WireError::kBadOption);
  return TcpKeepalive{load16(body.data())};
}

WireStatus EdnsOptionsBuilder::addRaw(uint16_t code, std::span<const uint8_t> body) {
  if (body.size() > 0xFFFF || length_ + 4 + body.size() > kCapacity) {
    return base::fail(WireError::kNoSpace);
  }
  store16(bytes_.data() + length_, code);
  store16(bytes_.data() + length_ + 2, static_cast<uint16_t>(body.size()));
  if (!body.empty()) std::memcpy(bytes_.data() + length_ + 4, body.data(), body.size());
  length_ += 4 + body.size();
  return {};
}

void EdnsOptionsBuilder::setClientSubnetScope(uint8_t scope) {
  size_t pos = 0;
  while (pos + 4 <= length_) {
    const uint16_t code = load16(bytes_.data() + pos);
    const uint16_t length = load16(bytes_.data() + pos + 2);
    if (code == ednsopt::kClientSubnet && length >= 4) {
      bytes_[pos + 4 + 3] = scope;  // family (2), source (1), scope (1)
      return;
    }
    pos += 4 + length;
  }
}

WireStatus EdnsOptionsBuilder::addClientSubnet(const ClientSubnet& ecs) {
  uint8_t body[4 + 16];
  store16(body, ecs.family);
  body[2] = ecs.source_prefix;
  body[3] = ecs.scope_prefix;
  const size_t octets = (ecs.source_prefix + 7u) / 8u;
  if (octets > 16) return base::fail(WireError::kBadOption);
  std::memcpy(body + 4, ecs.address.data(), octets);
  // Mask trailing bits so that what we send is always valid.
  if (ecs.source_prefix % 8 != 0) {
    body[4 + octets - 1] &= static_cast<uint8_t>(0xFFu << (8 - ecs.source_prefix % 8));
  }
  return addRaw(ednsopt::kClientSubnet, {body, 4 + octets});
}

WireStatus EdnsOptionsBuilder::addCookie(const Cookie& cookie) {
  if (cookie.server_length != 0 && (cookie.server_length < 8 || cookie.server_length > 32)) {
    return base::fail(WireError::kBadOption);
  }
  uint8_t body[40];
  std::memcpy(body, cookie.client.data(), 8);
  std::memcpy(body + 8, cookie.server.data(), cookie.server_length);
  return addRaw(ednsopt::kCookie, {body, 8u + cookie.server_length});
}

WireStatus EdnsOptionsBuilder::addExtendedError(uint16_t info_code, std::string_view text) {
  uint8_t body[2 + 256];
  if (text.size() > 256) text = text.substr(0, 256);
  store16(body, info_code);
  std::memcpy(body + 2, text.data(), text.size());
  return addRaw(ednsopt::kExtendedError, {body, 2 + text.size()});
}

WireStatus EdnsOptionsBuilder::addTcpKeepalive(std::optional<uint16_t> timeout) {
  uint8_t body[2];
  if (!timeout) return addRaw(ednsopt::kTcpKeepalive, {});
  store16(body, *timeout);
  return addRaw(ednsopt::kTcpKeepalive, {body, 2});
}

}  // namespace shoal::dns
