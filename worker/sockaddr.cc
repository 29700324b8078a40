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

bool boundToWildcard(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  if (address.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&address)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (address.ss_family == AF_INET6) {
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr);
  }
  return false;
}

bool enablePacketInfo(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  const int on = 1;
  if (address.ss_family == AF_INET) {
    return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) == 0;
  }
  return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) == 0;
}

LocalAddress localAddressOf(const msghdr& message) {
  LocalAddress local;
  if (message.msg_control == nullptr || message.msg_controllen > kPacketInfoSpace) return local;
  // CMSG_NXTHDR takes a non-const msghdr; it only reads it.
  auto& m = const_cast<msghdr&>(message);
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      local.family = AF_INET;
      local.ifindex = static_cast<uint32_t>(info.ipi_ifindex);
      std::memcpy(local.bytes, &info.ipi_addr, 4);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      local.family = AF_INET6;
      local.ifindex = info.ipi6_ifindex;
      std::memcpy(local.bytes, &info.ipi6_addr, 16);
    }
  }
  return local;
}

size_t writePacketInfo(const LocalAddress& local, uint8_t* control) {
  std::memset(control, 0, kPacketInfoSpace);
  auto* c = reinterpret_cast<cmsghdr*>(control);
  if (local.family == AF_INET) {
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, local.bytes, 4);  // the source; routing picks the interface
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return CMSG_SPACE(sizeof info);
  }
  if (local.family == AF_INET6) {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, local.bytes, 16);
    info.ipi6_ifindex = local.ifindex;  // needed for link-local addresses
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return CMSG_SPACE(sizeof info);
  }
  return 0;
}

}  // namespace shoal::worker
