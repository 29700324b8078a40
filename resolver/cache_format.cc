#include "resolver/cache_format.h"

#include "dns/wire_io.h"

namespace shoal::resolver {

namespace {

void put16(std::vector<uint8_t>& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

/// Walks `count` (u16 length, bytes) items from `pos`; returns the end or
/// nullopt if they overrun.
std::optional<size_t> skipItems(std::span<const uint8_t> p, size_t pos, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (pos + 2 > p.size()) return std::nullopt;
    pos += 2u + dns::load16(p.data() + pos);
    if (pos > p.size()) return std::nullopt;
  }
  return pos;
}

}  // namespace

std::optional<RrsetView> RrsetView::parse(std::span<const uint8_t> payload) {
  if (payload.size() < 4 || payload[0] != kPayloadFormat) return std::nullopt;
  RrsetView v;
  v.payload_ = payload;
  v.count_ = dns::load16(payload.data() + 2);
  auto end = skipItems(payload, 4, v.count_);
  if (!end || *end + 2 > payload.size()) return std::nullopt;
  v.sig_count_ = dns::load16(payload.data() + *end);
  v.sigs_offset_ = *end + 2;
  auto sigs_end = skipItems(payload, v.sigs_offset_, v.sig_count_);
  if (!sigs_end || *sigs_end != payload.size()) return std::nullopt;
  return v;
}

RrsetView::Item RrsetView::rdata(size_t offset) const {
  const size_t len = dns::load16(payload_.data() + offset);
  return {payload_.subspan(offset + 2, len), offset + 2 + len};
}

std::vector<uint8_t> encodeRrset(const Rrset& rrset) {
  std::vector<uint8_t> out;
  out.push_back(kPayloadFormat);
  out.push_back(rrset.flags);
  put16(out, rrset.rdatas.size());
  for (const auto& rd : rrset.rdatas) {
    put16(out, rd.size());
    out.insert(out.end(), rd.begin(), rd.end());
  }
  put16(out, rrset.sigs.size());
  for (const auto& sig : rrset.sigs) {
    put16(out, sig.size());
    out.insert(out.end(), sig.begin(), sig.end());
  }
  return out;
}

std::vector<uint8_t> encodeNegative(const std::vector<NegativeRecord>& records) {
  std::vector<uint8_t> out;
  out.push_back(kPayloadFormat);
  out.push_back(0);
  put16(out, records.size());
  for (const auto& r : records) {
    out.insert(out.end(), r.owner.wire().begin(), r.owner.wire().end());
    put16(out, r.type);
    put16(out, r.rdata.size());
    out.insert(out.end(), r.rdata.begin(), r.rdata.end());
  }
  return out;
}

std::optional<NegativeView> NegativeView::parse(std::span<const uint8_t> payload) {
  if (payload.size() < 4 || payload[0] != kPayloadFormat) return std::nullopt;
  NegativeView v;
  v.payload_ = payload;
  v.count_ = dns::load16(payload.data() + 2);
  size_t pos = 4;
  for (size_t i = 0; i < v.count_; ++i) {
    auto name = dns::Name::fromUncompressed(payload.subspan(pos));
    if (!name) return std::nullopt;
    pos += name->length();
    if (pos + 4 > payload.size()) return std::nullopt;
    pos += 4u + dns::load16(payload.data() + pos + 2);
    if (pos > payload.size()) return std::nullopt;
  }
  if (pos != payload.size()) return std::nullopt;
  return v;
}

NegativeView::Item NegativeView::record(size_t offset) const {
  auto name = dns::Name::fromUncompressed(payload_.subspan(offset));  // validated by parse
  const size_t pos = offset + name->length();
  const uint16_t type = dns::load16(payload_.data() + pos);
  const size_t len = dns::load16(payload_.data() + pos + 2);
  return {*name, type, payload_.subspan(pos + 4, len), pos + 4 + len};
}

std::optional<uint32_t> soaMinimum(std::span<const uint8_t> rdata) {
  auto mname = dns::Name::fromUncompressed(rdata);
  if (!mname) return std::nullopt;
  auto rname = dns::Name::fromUncompressed(rdata.subspan(mname->length()));
  if (!rname) return std::nullopt;
  const size_t pos = mname->length() + rname->length();
  if (rdata.size() != pos + 20) return std::nullopt;
  return dns::load32(rdata.data() + pos + 16);
}

}  // namespace shoal::resolver
