#include "resolver/cache_format.h"

#include <algorithm>

#include "dns/rdata.h"
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

/// Walks `count` (owner, type, rdlength, rdata) records from `pos`; returns
/// the end or nullopt if they overrun.
std::optional<size_t> skipRecords(std::span<const uint8_t> p, size_t pos, size_t count) {
  if (count == 0) return pos;  // the common case: an RRset without proofs
  for (size_t i = 0; i < count; ++i) {
    auto name = dns::Name::fromUncompressed(p.subspan(std::min(pos, p.size())));
    if (!name) return std::nullopt;
    pos += name->length();
    if (pos + 4 > p.size()) return std::nullopt;
    pos += 4u + dns::load16(p.data() + pos + 2);
    if (pos > p.size()) return std::nullopt;
  }
  return pos;
}

void putRecords(std::vector<uint8_t>& out, const std::vector<NegativeRecord>& records) {
  put16(out, records.size());
  for (const auto& r : records) {
    out.insert(out.end(), r.owner.wire().begin(), r.owner.wire().end());
    put16(out, r.type);
    put16(out, r.rdata.size());
    out.insert(out.end(), r.rdata.begin(), r.rdata.end());
  }
}

/// The record at `offset` (bounds checked by the parse before).
PayloadRecord recordAt(std::span<const uint8_t> payload, size_t offset) {
  auto name = dns::Name::fromUncompressed(payload.subspan(offset));
  const size_t pos = offset + name->length();
  const uint16_t type = dns::load16(payload.data() + pos);
  const size_t len = dns::load16(payload.data() + pos + 2);
  return {*name, type, payload.subspan(pos + 4, len), pos + 4 + len};
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
  if (!sigs_end || *sigs_end + 2 > payload.size()) return std::nullopt;
  v.proof_count_ = dns::load16(payload.data() + *sigs_end);
  v.proofs_offset_ = *sigs_end + 2;
  auto proofs_end = skipRecords(payload, v.proofs_offset_, v.proof_count_);
  if (!proofs_end || *proofs_end != payload.size()) return std::nullopt;
  return v;
}

PayloadRecord RrsetView::proof(size_t offset) const { return recordAt(payload_, offset); }

RrsetView::Item RrsetView::rdata(size_t offset) const {
  const size_t len = dns::load16(payload_.data() + offset);
  return {payload_.subspan(offset + 2, len), offset + 2 + len};
}

std::vector<uint8_t> encodeRrset(const Rrset& rrset, const std::vector<NegativeRecord>& proofs) {
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
  putRecords(out, proofs);
  return out;
}

std::vector<uint8_t> encodeNegative(const std::vector<NegativeRecord>& records, uint8_t flags) {
  std::vector<uint8_t> out;
  out.push_back(kPayloadFormat);
  out.push_back(flags);
  putRecords(out, records);
  return out;
}

std::optional<NegativeView> NegativeView::parse(std::span<const uint8_t> payload) {
  if (payload.size() < 4 || payload[0] != kPayloadFormat) return std::nullopt;
  NegativeView v;
  v.payload_ = payload;
  v.count_ = dns::load16(payload.data() + 2);
  auto end = skipRecords(payload, 4, v.count_);
  if (!end || *end != payload.size()) return std::nullopt;
  return v;
}

PayloadRecord NegativeView::record(size_t offset) const {
  return recordAt(payload_, offset);  // validated by parse
}

std::optional<uint32_t> soaMinimum(std::span<const uint8_t> rdata) {
  const auto soa = dns::parseSoa(rdata);
  if (!soa) return std::nullopt;
  return soa->minimum;
}

}  // namespace shoal::resolver
