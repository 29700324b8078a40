#pragma once
// SOA serial number arithmetic (RFC 1982 section 3.2): serials wrap at
// 2^32, and s1 is newer than s2 when it is ahead by less than 2^31. Two
// serials exactly 2^31 apart are not comparable: neither is newer, so a
// refresh never transfers on such a pair (the zone's next serial settles it).

#include <cstdint>

namespace shoal::localroot {

/// True if `a` is newer than `b` (RFC 1982 section 3.2, SERIAL_BITS = 32).
constexpr bool serialNewer(uint32_t a, uint32_t b) {
  const uint32_t ahead = a - b;  // modulo 2^32
  return ahead != 0 && ahead < (uint32_t{1} << 31);
}

}  // namespace shoal::localroot
