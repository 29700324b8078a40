#include "dns/writer.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "dns/constants.h"
#include "dns/rdata.h"
#include "dns/wire_io.h"

namespace shoal::dns {

namespace {

constexpr size_t kMaxPointerTarget = 0x3FFF;
constexpr size_t kOptFixedSize = 11;  // root owner + type + class + ttl + rdlength

uint8_t asciiLower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

}  // namespace

MessageWriter::MessageWriter(std::span<uint8_t> buffer, size_t limit)
    : buffer_(buffer), limit_(std::min(limit, buffer.size())) {
  SHOAL_CHECK(limit_ >= kHeaderSize);
}

void MessageWriter::setFlags(uint16_t flags) {
  header_.flags = static_cast<uint16_t>((flags & 0xFFF0u) | (header_.flags & 0xFu));
}

void MessageWriter::setRcode(uint16_t rcode) {
  rcode_ = rcode;
  header_.flags = static_cast<uint16_t>((header_.flags & 0xFFF0u) | (rcode & 0xFu));
}

bool MessageWriter::matchesAt(size_t offset, std::span<const uint8_t> suffix) const {
  // Compare the name written at `offset` (following our own pointers) with
  // the uncompressed `suffix`, case-insensitively.
  size_t pos = offset;
  size_t i = 0;
  for (int hops = 0; hops < 128;) {
    const uint8_t len = buffer_[pos];
    if ((len & 0xC0) == 0xC0) {
      pos = (static_cast<size_t>(len & 0x3F) << 8) | buffer_[pos + 1];
      ++hops;
      continue;
    }
    if (i >= suffix.size() || suffix[i] != len) return false;
    // Usually the same case (an owner repeating the question): compare the
    // octets first, and fold case only where they differ.
    if (std::memcmp(buffer_.data() + pos + 1, suffix.data() + i + 1, len) != 0) {
      for (size_t k = 1; k <= len; ++k) {
        if (asciiLower(buffer_[pos + k]) != asciiLower(suffix[i + k])) return false;
      }
    }
    if (len == 0) return true;
    i += len + 1u;
    pos += len + 1u;
  }
  return false;
}

void MessageWriter::remember(size_t offset) {
  if (offset > kMaxPointerTarget || compression_entries_ >= kMaxCompressionEntries) return;
  compression_[compression_entries_++] = static_cast<uint16_t>(offset);
}

WireStatus MessageWriter::writeName(const Name& name, bool compress) {
  const auto wire = name.wire();
  const size_t room = limit_ - reserved_;
  // Try each suffix, longest first; the root label is never worth a pointer.
  size_t pos = 0;
  if (compress) {
    for (; wire[pos] != 0; pos += wire[pos] + 1u) {
      const auto suffix = wire.subspan(pos);
      for (size_t e = 0; e < compression_entries_; ++e) {
        if (!matchesAt(compression_[e], suffix)) continue;
        if (length_ + pos + 2 > room) return base::fail(WireError::kNoSpace);
        std::memcpy(buffer_.data() + length_, wire.data(), pos);
        for (size_t l = 0; l < pos; l += wire[l] + 1u) remember(length_ + l);
        length_ += pos;
        store16(buffer_.data() + length_, static_cast<uint16_t>(0xC000u | compression_[e]));
        length_ += 2;
        return {};
      }
    }
  }
  if (length_ + wire.size() > room) return base::fail(WireError::kNoSpace);
  std::memcpy(buffer_.data() + length_, wire.data(), wire.size());
  if (compress) {
    for (size_t l = 0; wire[l] != 0; l += wire[l] + 1u) remember(length_ + l);
  }
  length_ += wire.size();
  return {};
}

WireStatus MessageWriter::addQuestion(const Name& name, uint16_t type, uint16_t qclass) {
  if (section_ != 0 || counts_[0] != 0) return base::fail(WireError::kBadState);
  const Mark m = mark();
  if (auto st = writeName(name, true); !st) return st;
  if (length_ + 4 > limit_ - reserved_) {
    rollback(m);
    return base::fail(WireError::kNoSpace);
  }
  store16(buffer_.data() + length_, type);
  store16(buffer_.data() + length_ + 2, qclass);
  length_ += 4;
  counts_[0] = 1;
  return {};
}

WireStatus MessageWriter::addRr(Section section, const Name& owner, uint16_t type,
                                uint16_t rrclass, uint32_t ttl, std::span<const uint8_t> rdata) {
  const auto s = static_cast<uint8_t>(section);
  if (s == 0 || s < section_) return base::fail(WireError::kBadState);
  if (counts_[s] == 0xFFFF) return base::fail(WireError::kNoSpace);
  const Mark m = mark();
  auto fail = [&](WireError e) {
    rollback(m);
    return base::fail(e);
  };
  section_ = s;
  if (auto st = writeName(owner, true); !st) return fail(st.error());
  if (length_ + 10 > limit_ - reserved_) return fail(WireError::kNoSpace);
  uint8_t* fixed = buffer_.data() + length_;
  store16(fixed, type);
  store16(fixed + 2, rrclass);
  store32(fixed + 4, ttl);
  length_ += 10;
  const size_t rdata_start = length_;

  const RdataNameLayout layout = rdataNameLayout(type);
  if (layout.rfc1035 && layout.names > 0) {
    // Re-compress the embedded names of RFC 1035 types.
    if (rdata.size() < layout.prefix) return fail(WireError::kBadRdata);
    if (length_ + layout.prefix > limit_ - reserved_) return fail(WireError::kNoSpace);
    std::memcpy(buffer_.data() + length_, rdata.data(), layout.prefix);
    length_ += layout.prefix;
    size_t pos = layout.prefix;
    for (int i = 0; i < layout.names; ++i) {
      auto name = Name::fromUncompressed(rdata.subspan(pos));
      if (!name) return fail(WireError::kBadRdata);
      if (auto st = writeName(*name, true); !st) return fail(st.error());
      pos += name->length();
    }
    const size_t tail = rdata.size() - pos;
    if (length_ + tail > limit_ - reserved_) return fail(WireError::kNoSpace);
    if (tail > 0) std::memcpy(buffer_.data() + length_, rdata.data() + pos, tail);
    length_ += tail;
  } else {
    if (length_ + rdata.size() > limit_ - reserved_) return fail(WireError::kNoSpace);
    if (!rdata.empty()) std::memcpy(buffer_.data() + length_, rdata.data(), rdata.size());
    length_ += rdata.size();
  }
  const size_t rdlength = length_ - rdata_start;
  if (rdlength > 0xFFFF) return fail(WireError::kBadRdata);
  store16(buffer_.data() + rdata_start - 2, static_cast<uint16_t>(rdlength));
  ++counts_[s];
  return {};
}

WireStatus MessageWriter::setEdns(const EdnsOut& edns) {
  const size_t need = kOptFixedSize + edns.options.bytes().size() + (edns.pad_block ? 4 : 0);
  if (length_ + need > limit_) return base::fail(WireError::kNoSpace);
  edns_ = &edns;
  reserved_ = need;
  return {};
}

MessageWriter::Mark MessageWriter::mark() const {
  return Mark{length_, {counts_[0], counts_[1], counts_[2], counts_[3]}, section_,
              compression_entries_};
}

void MessageWriter::rollback(const Mark& m) {
  length_ = m.length;
  std::copy(std::begin(m.counts), std::end(m.counts), std::begin(counts_));
  section_ = m.section;
  compression_entries_ = m.compression_entries;
}

size_t MessageWriter::finish() {
  if (edns_ != nullptr) {
    const auto opts = edns_->options.bytes();
    uint8_t* p = buffer_.data() + length_;
    p[0] = 0;  // root owner
    store16(p + 1, rrtype::kOpt);
    store16(p + 3, edns_->udp_size);
    uint32_t ttl = static_cast<uint32_t>((rcode_ >> 4) & 0xFF) << 24;
    ttl |= static_cast<uint32_t>(edns_->version) << 16;
    if (edns_->dnssec_ok) ttl |= 0x8000u;
    store32(p + 5, ttl);
    size_t rdlength = opts.size();
    std::memcpy(p + kOptFixedSize, opts.data(), opts.size());
    if (edns_->pad_block != 0) {
      // RFC 7830: pad the whole message up to a multiple of the block size,
      // without crossing the limit.
      const size_t unpadded = length_ + kOptFixedSize + rdlength + 4;
      size_t pad = (edns_->pad_block - unpadded % edns_->pad_block) % edns_->pad_block;
      pad = std::min(pad, limit_ - unpadded);
      uint8_t* o = p + kOptFixedSize + rdlength;
      store16(o, ednsopt::kPadding);
      store16(o + 2, static_cast<uint16_t>(pad));
      std::memset(o + 4, 0, pad);
      rdlength += 4 + pad;
    }
    store16(p + 9, static_cast<uint16_t>(rdlength));
    length_ += kOptFixedSize + rdlength;
    reserved_ = 0;
    ++counts_[3];
    edns_ = nullptr;
  }
  header_.qdcount = counts_[0];
  header_.ancount = counts_[1];
  header_.nscount = counts_[2];
  header_.arcount = counts_[3];
  header_.toWire(buffer_.data());
  return length_;
}

}  // namespace shoal::dns
