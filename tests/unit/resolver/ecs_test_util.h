#pragma once
// A client subnet (RFC 7871) from text, for the ECS tests.

#include <cstdint>
#include <cstring>

#include "base/ip_address.h"
#include "dns/edns.h"

namespace shoal::resolver::testing_util {

/// `address` masked to `source` bits, with `scope`. `address` must parse.
inline dns::ClientSubnet Subnet(const char* address, uint8_t source, uint8_t scope = 0) {
  const auto ip = base::IpAddress::parse(address);
  dns::ClientSubnet s;
  if (!ip) return s;
  s.family = ip->isV4() ? 1 : 2;
  s.source_prefix = source;
  s.scope_prefix = scope;
  const auto masked = ip->masked(source);
  std::memcpy(s.address.data(), masked.bytes().data(), ip->size());
  return s;
}

}  // namespace shoal::resolver::testing_util
