#include "base/ip_prefix.h"

#include <algorithm>
#include <charconv>

#include "base/check.h"

namespace shoal::base {
namespace {

// ::ffff:0:0/96 (RFC 4291 section 2.5.5.2).
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool isV4Mapped(const IpAddress& address) {
  return !address.isV4() &&
         std::equal(kMappedPrefix, kMappedPrefix + 12, address.bytes().begin());
}

IpAddress toV4(const IpAddress& mapped) { return IpAddress::v4(mapped.bytes().data() + 12); }

/// A decimal number of at most `max_digits` digits, no sign, no spaces.
std::optional<unsigned> parseDecimal(std::string_view text, size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

IpPrefix::IpPrefix(const IpAddress& address, unsigned length)
    : network_(address.masked(length)), length_(length) {
  SHOAL_CHECK(length <= address.maxPrefix());
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  const auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  if (slash == std::string_view::npos) return IpPrefix(*address, address->maxPrefix());
  const auto length = parseDecimal(text.substr(slash + 1), 3);
  if (!length || *length > address->maxPrefix()) return std::nullopt;
  return IpPrefix(*address, *length);
}

bool IpPrefix::contains(const IpAddress& address) const {
  // An IPv4 host is compared as IPv4, whichever notation either side uses.
  if (network_.isV4() && isV4Mapped(address)) return toV4(address).inPrefix(network_, length_);
  if (address.isV4() && length_ >= 96 && isV4Mapped(network_)) {
    return address.inPrefix(toV4(network_), length_ - 96);
  }
  return address.inPrefix(network_, length_);
}

std::string IpPrefix::toString() const {
  return network_.toString() + "/" + std::to_string(length_);
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text,
                                                  std::optional<uint16_t> default_port) {
  std::string_view host = text;
  std::optional<std::string_view> port_text;
  const bool bracketed = !text.empty() && text.front() == '[';
  if (bracketed) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
    }
  } else if (const size_t colon = text.find(':');
             colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    // Exactly one colon: IPv4 (or a name, rejected below) with a port. More
    // than one: a bare IPv6 address.
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  const auto ip = IpAddress::parse(host);
  if (!ip || (bracketed && ip->isV4())) return std::nullopt;  // brackets are for IPv6
  if (!port_text) {
    if (!default_port) return std::nullopt;
    return SocketAddress{*ip, *default_port};
  }
  const auto port = parseDecimal(*port_text, 5);
  if (!port || *port > 65535) return std::nullopt;
  return SocketAddress{*ip, static_cast<uint16_t>(*port)};
}

std::string SocketAddress::toString() const {
  const std::string port_text = std::to_string(port);
  return ip.isV4() ? ip.toString() + ":" + port_text : "[" + ip.toString() + "]:" + port_text;
}

}  // namespace shoal::base
