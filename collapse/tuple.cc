#include "collapse/tuple.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace shoal::collapse {
namespace {

constexpr uint8_t kProtoTcp = 6;

bool fromSockaddr(const sockaddr_storage& ss, uint8_t* address, uint16_t* port, uint8_t* family) {
  if (ss.ss_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, &ss, sizeof in);
    std::memcpy(address, &in.sin_addr, 4);
    *port = ntohs(in.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, &ss, sizeof in6);
    std::memcpy(address, &in6.sin6_addr, 16);
    *port = ntohs(in6.sin6_port);
  } else {
    return false;
  }
  *family = static_cast<uint8_t>(ss.ss_family);
  return true;
}

socklen_t toSockaddr(uint8_t family, const uint8_t* address, uint16_t port, sockaddr_storage& out) {
  out = {};
  if (family == AF_INET) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, address, 4);
    std::memcpy(&out, &in, sizeof in);
    return sizeof in;
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&in6.sin6_addr, address, 16);
  std::memcpy(&out, &in6, sizeof in6);
  return sizeof in6;
}

uint16_t read16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

}  // namespace

std::optional<ConnTuple> ConnTuple::ofSocket(int fd) {
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t local_length = sizeof local;
  socklen_t remote_length = sizeof remote;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0 ||
      getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_length) != 0) {
    return std::nullopt;
  }
  ConnTuple t;
  uint8_t remote_family = 0;
  if (!fromSockaddr(local, t.local, &t.local_port, &t.family) ||
      !fromSockaddr(remote, t.remote, &t.remote_port, &remote_family) ||
      remote_family != t.family) {
    return std::nullopt;
  }
  return t;
}

std::optional<ConnTuple> ConnTuple::ofIncoming(std::span<const uint8_t> packet) {
  if (packet.empty()) return std::nullopt;
  ConnTuple t;
  size_t transport = 0;
  const unsigned version = packet[0] >> 4;
  if (version == 4) {
    if (packet.size() < 20) return std::nullopt;
    const size_t header = (packet[0] & 0x0fu) * 4u;
    // A fragment other than the first carries no TCP header.
    const bool later_fragment = (read16(&packet[6]) & 0x1fff) != 0;
    if (header < 20 || packet[9] != kProtoTcp || later_fragment) return std::nullopt;
    t.family = AF_INET;
    std::memcpy(t.remote, &packet[12], 4);
    std::memcpy(t.local, &packet[16], 4);
    transport = header;
  } else if (version == 6) {
    if (packet.size() < 40 || packet[6] != kProtoTcp) return std::nullopt;
    t.family = AF_INET6;
    std::memcpy(t.remote, &packet[8], 16);
    std::memcpy(t.local, &packet[24], 16);
    transport = 40;
  } else {
    return std::nullopt;
  }
  if (packet.size() < transport + 4) return std::nullopt;
  t.remote_port = read16(&packet[transport]);
  t.local_port = read16(&packet[transport + 2]);
  return t;
}

socklen_t ConnTuple::localAddress(sockaddr_storage& out) const {
  return toSockaddr(family, local, local_port, out);
}

socklen_t ConnTuple::remoteAddress(sockaddr_storage& out) const {
  return toSockaddr(family, remote, remote_port, out);
}

size_t ConnTuple::setKey(std::span<uint8_t> out) const {
  const size_t address = family == AF_INET ? 4 : 16;
  const size_t length = 2 * (address + 4);
  if (out.size() < length) return 0;
  std::memset(out.data(), 0, length);
  uint8_t* p = out.data();
  std::memcpy(p, remote, address);
  p += address;
  p[0] = static_cast<uint8_t>(remote_port >> 8);
  p[1] = static_cast<uint8_t>(remote_port);
  p += 4;
  std::memcpy(p, local, address);
  p += address;
  p[0] = static_cast<uint8_t>(local_port >> 8);
  p[1] = static_cast<uint8_t>(local_port);
  return length;
}

std::string ConnTuple::toText() const {
  char local_text[INET6_ADDRSTRLEN] = {};
  char remote_text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, local, local_text, sizeof local_text);
  inet_ntop(family, remote, remote_text, sizeof remote_text);
  const bool v6 = family == AF_INET6;
  std::string text;
  text += v6 ? "[" : "";
  text += local_text;
  text += v6 ? "]:" : ":";
  text += std::to_string(local_port);
  text += v6 ? " <- [" : " <- ";
  text += remote_text;
  text += v6 ? "]:" : ":";
  text += std::to_string(remote_port);
  return text;
}

size_t ConnTupleHash::operator()(const ConnTuple& t) const {
  // FNV-1a over the fields that vary; the remote port varies most.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  };
  const size_t address = t.family == AF_INET ? 4 : 16;
  const uint8_t ports[4] = {static_cast<uint8_t>(t.remote_port >> 8),
                            static_cast<uint8_t>(t.remote_port),
                            static_cast<uint8_t>(t.local_port >> 8),
                            static_cast<uint8_t>(t.local_port)};
  mix(ports, sizeof ports);
  mix(t.remote, address);
  mix(t.local, address);
  return static_cast<size_t>(h);
}

}  // namespace shoal::collapse
