#include "base/ip_address.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

namespace shoal::base {

IpAddress IpAddress::v4(const uint8_t bytes[4]) {
  IpAddress a;
  a.family_ = Family::kV4;
  std::memcpy(a.bytes_.data(), bytes, 4);
  return a;
}

IpAddress IpAddress::v6(const uint8_t bytes[16]) {
  IpAddress a;
  a.family_ = Family::kV6;
  std::memcpy(a.bytes_.data(), bytes, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return v4(buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return v6(buf);
  return std::nullopt;
}

IpAddress IpAddress::masked(unsigned prefix) const {
  IpAddress out = *this;
  const size_t n = size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix) {
      out.bytes_[i] = 0;
    } else if (prefix - bit < 8) {
      out.bytes_[i] &= static_cast<uint8_t>(0xFFu << (8 - (prefix - bit)));
    }
  }
  return out;
}

bool IpAddress::inPrefix(const IpAddress& network, unsigned prefix) const {
  if (family_ != network.family_) return false;
  return masked(prefix) == network.masked(prefix);
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

}  // namespace shoal::base
