#pragma once
// Rdata with embedded domain names. Upstream servers may compress names
// inside the rdata of well-known types (RFC 3597 section 4); caches store
// rdata uncompressed, and writers may compress again only the RFC 1035 types.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "dns/message.h"
#include "dns/wire_error.h"

namespace shoal::dns {

/// Where the names sit in a type's rdata: `prefix` fixed octets, then
/// `names` consecutive domain names, then opaque octets to the end.
/// NAPTR (three character-strings before its name) is handled separately.
struct RdataNameLayout {
  uint8_t prefix = 0;
  uint8_t names = 0;
  bool rfc1035 = false;  // may be compressed when written (RFC 3597 section 4)
};

/// The layout for `type`, or nullopt-like {0,0} when it has no embedded
/// compressible names.
RdataNameLayout rdataNameLayout(uint16_t type);

/// Copies the rdata of `rr` into `out` with every embedded name expanded,
/// validating the rdata's structure for the types it knows (fixed sizes of
/// A/AAAA, name fields, SOA's 20 trailing octets). Returns the length written.
WireResult<size_t> decompressRdata(const Message& msg, const RrView& rr, std::span<uint8_t> out);

/// The fields of an uncompressed SOA rdata after its two names (RFC 1035
/// section 3.3.13).
struct Soa {
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;
};
/// Reads them (MNAME, RNAME, then exactly five 32-bit fields); nullopt if
/// malformed.
std::optional<Soa> parseSoa(std::span<const uint8_t> rdata);

/// Maximum size of any rdata.
inline constexpr size_t kMaxRdataLength = 65535;

}  // namespace shoal::dns
