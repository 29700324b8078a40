#pragma once
// An IPv4 or IPv6 address as a value (no sockaddr juggling in callers), with
// prefix masking for ACLs and EDNS Client Subnet.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::base {

class IpAddress {
 public:
  enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

  static IpAddress v4(const uint8_t bytes[4]);
  static IpAddress v6(const uint8_t bytes[16]);
  /// Parses "192.0.2.1" or "2001:db8::1".
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::kV4; }
  /// 4 or 16 meaningful octets at the front of bytes().
  size_t size() const { return isV4() ? 4 : 16; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  unsigned maxPrefix() const { return isV4() ? 32 : 128; }

  /// The address with every bit after the first `prefix` bits cleared.
  IpAddress masked(unsigned prefix) const;
  /// True if the first `prefix` bits equal those of `network`.
  bool inPrefix(const IpAddress& network, unsigned prefix) const;

  std::string toString() const;
  bool operator==(const IpAddress& other) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace shoal::base
