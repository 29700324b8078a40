#include "dns/rdata.h"

#include <cstring>

#include "dns/constants.h"
#include "dns/wire_io.h"

namespace shoal::dns {

RdataNameLayout rdataNameLayout(uint16_t type) {
  switch (type) {
    case rrtype::kNs: case 3 /* MD */: case 4 /* MF */: case rrtype::kCname:
    case rrtype::kMb: case rrtype::kMg: case rrtype::kMr: case rrtype::kPtr:
      return {0, 1, true};
    case rrtype::kSoa: return {0, 2, true};
    case rrtype::kMinfo: return {0, 2, true};
    case rrtype::kMx: return {2, 1, true};
    case rrtype::kRp: return {0, 2, false};
    case rrtype::kAfsdb: case rrtype::kRt: case rrtype::kKx: return {2, 1, false};
    case rrtype::kPx: return {2, 2, false};
    case rrtype::kSrv: return {6, 1, false};
    case rrtype::kDname: return {0, 1, false};
    default: return {0, 0, false};
  }
}

namespace {

/// Expands one possibly compressed name at `pos` (inside the rdata of a
/// message) into out[written..]. Updates pos and written.
WireStatus copyName(std::span<const uint8_t> packet, size_t rdata_end, size_t& pos,
                    std::span<uint8_t> out, size_t& written) {
  if (pos >= rdata_end) return base::fail(WireError::kBadRdata);
  // Names inside rdata may point anywhere earlier in the packet, but their
  // in-place part must stay within the rdata.
  auto parsed = Name::fromWire(packet.first(rdata_end), pos);
  if (!parsed) return base::fail(parsed.error() == WireError::kTruncated ? WireError::kBadRdata
                                                                          : parsed.error());
  const auto wire = parsed->name.wire();
  if (written + wire.size() > out.size()) return base::fail(WireError::kNoSpace);
  std::memcpy(out.data() + written, wire.data(), wire.size());
  written += wire.size();
  pos = parsed->end;
  return {};
}

WireStatus copyBytes(std::span<const uint8_t> packet, size_t& pos, size_t n, size_t rdata_end,
                     std::span<uint8_t> out, size_t& written) {
  if (pos + n > rdata_end) return base::fail(WireError::kBadRdata);
  if (written + n > out.size()) return base::fail(WireError::kNoSpace);
  if (n > 0) std::memcpy(out.data() + written, packet.data() + pos, n);
  pos += n;
  written += n;
  return {};
}

}  // namespace

WireResult<size_t> decompressRdata(const Message& msg, const RrView& rr, std::span<uint8_t> out) {
  const auto packet = msg.packet();
  const size_t end = rr.rdata_offset + rr.rdlength;
  size_t pos = rr.rdata_offset;
  size_t written = 0;
  auto rest = [&]() { return copyBytes(packet, pos, end - pos, end, out, written); };

  // Address sizes are class-specific: Chaosnet A records differ.
  if (rr.rrclass == rrclass::kIn && rr.type == rrtype::kA && rr.rdlength != 4) {
    return base::fail(WireError::kBadRdata);
  }
  if (rr.rrclass == rrclass::kIn && rr.type == rrtype::kAaaa && rr.rdlength != 16) {
    return base::fail(WireError::kBadRdata);
  }

  if (rr.type == rrtype::kNaptr) {  // RFC 3403: order, preference, 3 strings, name
    if (auto st = copyBytes(packet, pos, 4, end, out, written); !st) return base::fail(st.error());
    for (int i = 0; i < 3; ++i) {
      if (pos >= end) return base::fail(WireError::kBadRdata);
      if (auto st = copyBytes(packet, pos, 1u + packet[pos], end, out, written); !st) {
        return base::fail(st.error());
      }
    }
    if (auto st = copyName(packet, end, pos, out, written); !st) return base::fail(st.error());
    if (pos != end) return base::fail(WireError::kBadRdata);
    return written;
  }

  const RdataNameLayout layout = rdataNameLayout(rr.type);
  if (layout.names == 0) {
    if (auto st = rest(); !st) return base::fail(st.error());
    return written;
  }
  if (auto st = copyBytes(packet, pos, layout.prefix, end, out, written); !st) {
    return base::fail(st.error());
  }
  for (int i = 0; i < layout.names; ++i) {
    if (auto st = copyName(packet, end, pos, out, written); !st) return base::fail(st.error());
  }
  // Every layout type ends right after its names, except SOA's 5 counters.
  const size_t trailing = rr.type == rrtype::kSoa ? 20 : 0;
  if (end - pos != trailing) return base::fail(WireError::kBadRdata);
  if (auto st = rest(); !st) return base::fail(st.error());
  return written;
}

std::optional<Soa> parseSoa(std::span<const uint8_t> rdata) {
  size_t pos = 0;
  for (int i = 0; i < 2; ++i) {  // MNAME, RNAME
    auto name = Name::fromUncompressed(rdata.subspan(pos));
    if (!name) return std::nullopt;
    pos += name->length();
  }
  if (rdata.size() != pos + 20) return std::nullopt;
  const uint8_t* p = rdata.data() + pos;
  return Soa{load32(p), load32(p + 4), load32(p + 8), load32(p + 12), load32(p + 16)};
}

}  // namespace shoal::dns
