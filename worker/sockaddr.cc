#include "worker/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace shoal::worker {

std::optional<base::IpAddress> addressOf(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    uint8_t bytes[4];
    std::memcpy(bytes, &in->sin_addr, 4);
    return base::IpAddress::v4(bytes);
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    uint8_t bytes[16];
    std::memcpy(bytes, &in6->sin6_addr, 16);
    return base::IpAddress::v6(bytes);
  }
  return std::nullopt;
}

uint16_t portOf(const sockaddr* address) {
  if (address == nullptr) return 0;
  if (address->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  }
  if (address->sa_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  }
  return 0;
}

socklen_t toSockaddr(const base::IpAddress& address, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (address.isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, address.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, address.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

base::IpAddress anyAddressLike(const base::IpAddress& like) {
  const uint8_t zeroes[16] = {};
  return like.isV4() ? base::IpAddress::v4(zeroes) : base::IpAddress::v6(zeroes);
}

void setPort(sockaddr_storage& address, uint16_t port) {
  if (address.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  } else if (address.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  }
}

socklen_t sockaddrLength(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

std::string toText(const base::IpAddress& address, uint16_t port) {
  const std::string host = address.toString();
  return (address.isV4() ? host : "[" + host + "]") + ":" + std::to_string(port);
}

}  // namespace shoal::worker
