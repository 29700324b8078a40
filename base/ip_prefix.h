#pragma once
// Address prefixes ("10.0.0.0/8") for ACLs and upstream deny lists, and
// socket addresses ("192.0.2.1:53", "[2001:db8::1]:53") for listeners.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip_address.h"

namespace shoal::base {

/// A network: an address with every bit after the first length() bits zero.
class IpPrefix {
 public:
  /// Masks `address` to `length` bits; `length` must not exceed the family's
  /// width (checked).
  IpPrefix(const IpAddress& address, unsigned length);

  /// Parses "10.0.0.0/8" or "2001:db8::/32"; a bare address is a /32 or /128.
  /// Host bits are accepted and cleared ("10.1.2.3/8" is 10.0.0.0/8), as most
  /// resolvers do; a length beyond the family's width is rejected.
  static std::optional<IpPrefix> parse(std::string_view text);

  /// True if `address` is inside the network. An IPv4-mapped IPv6 address
  /// (::ffff:192.0.2.1, RFC 4291 section 2.5.5.2) is the IPv4 host it maps:
  /// "127.0.0.0/8" contains ::ffff:127.0.0.1, and "::ffff:127.0.0.0/104"
  /// contains 127.0.0.1, so an ACL or deny list cannot be bypassed by
  /// changing notation. Other IPv6 prefixes ("::/0") contain no IPv4 address.
  bool contains(const IpAddress& address) const;

  const IpAddress& network() const { return network_; }
  unsigned length() const { return length_; }
  /// "10.0.0.0/8"; always with the length, even for a host.
  std::string toString() const;
  bool operator==(const IpPrefix& other) const = default;

 private:
  IpAddress network_;
  unsigned length_ = 0;
};

/// An IP address and a port.
struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;

  /// Parses "192.0.2.1:53", "[2001:db8::1]:53", or, when `default_port` is
  /// given, a bare "192.0.2.1", "[2001:db8::1]" or "2001:db8::1". The port is
  /// decimal, 0..65535 (whether 0 is acceptable is the caller's decision).
  static std::optional<SocketAddress> parse(std::string_view text,
                                            std::optional<uint16_t> default_port = std::nullopt);
  /// "192.0.2.1:53" or "[2001:db8::1]:53".
  std::string toString() const;
  bool operator==(const SocketAddress& other) const = default;
};

}  // namespace shoal::base
