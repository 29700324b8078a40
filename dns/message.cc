#include "dns/message.h"

#include "base/check.h"
#include "dns/constants.h"
#include "dns/wire_io.h"

namespace shoal::dns {

namespace {

constexpr size_t kRrFixedSize = 10;  // type, class, ttl, rdlength

/// Reads the fixed part of an RR whose owner ends at `pos`.
RrView readRr(std::span<const uint8_t> packet, Section section, size_t owner, size_t pos) {
  const uint8_t* p = packet.data() + pos;
  RrView rr;
  rr.section = section;
  rr.owner_offset = owner;
  rr.type = load16(p);
  rr.rrclass = load16(p + 2);
  rr.ttl = load32(p + 4);
  rr.rdlength = load16(p + 8);
  rr.rdata_offset = pos + kRrFixedSize;
  return rr;
}

}  // namespace

Header Header::fromWire(const uint8_t* p) {
  Header h;
  h.id = load16(p);
  h.flags = load16(p + 2);
  h.qdcount = load16(p + 4);
  h.ancount = load16(p + 6);
  h.nscount = load16(p + 8);
  h.arcount = load16(p + 10);
  return h;
}

void Header::toWire(uint8_t* p) const {
  store16(p, id);
  store16(p + 2, flags);
  store16(p + 4, qdcount);
  store16(p + 6, ancount);
  store16(p + 8, nscount);
  store16(p + 10, arcount);
}

WireResult<Message> Message::parse(std::span<const uint8_t> packet) {
  if (packet.size() < kHeaderSize) return base::fail(WireError::kTruncated);
  Message msg;
  msg.packet_ = packet;
  msg.header_ = Header::fromWire(packet.data());
  if (msg.header_.qdcount > 1) return base::fail(WireError::kTooManyQuestions);

  size_t pos = kHeaderSize;
  msg.section_start_[0] = pos;
  if (msg.header_.qdcount == 1) {
    auto name = Name::fromWire(packet, pos);
    if (!name) return base::fail(name.error());
    pos = name->end;
    if (pos + 4 > packet.size()) return base::fail(WireError::kTruncated);
    msg.question_.emplace();
    msg.question_->name = name->name;
    msg.question_->type = load16(packet.data() + pos);
    msg.question_->qclass = load16(packet.data() + pos + 2);
    pos += 4;
  }

  const uint16_t counts[3] = {msg.header_.ancount, msg.header_.nscount, msg.header_.arcount};
  for (int s = 0; s < 3; ++s) {
    const auto section = static_cast<Section>(s + 1);
    msg.section_start_[s + 1] = pos;
    for (uint16_t i = 0; i < counts[s]; ++i) {
      const size_t owner = pos;
      auto end = skipName(packet, pos);
      if (!end) return base::fail(end.error());
      pos = *end;
      if (pos + kRrFixedSize > packet.size()) return base::fail(WireError::kTruncated);
      const RrView rr = readRr(packet, section, owner, pos);
      pos = rr.rdata_offset + rr.rdlength;
      if (pos > packet.size()) return base::fail(WireError::kTruncated);
      if (rr.type != rrtype::kOpt) continue;
      // RFC 6891 section 6.1.1: one OPT, in the additional section, owned
      // by the root.
      if (section != Section::kAdditional) return base::fail(WireError::kOptNotInAdditional);
      if (msg.edns_) return base::fail(WireError::kDuplicateOpt);
      if (packet[owner] != 0) return base::fail(WireError::kBadOpt);
      const auto rdata = packet.subspan(rr.rdata_offset, rr.rdlength);
      if (auto st = validateOptions(rdata); !st) return base::fail(st.error());
      OptView opt;
      opt.udp_size = rr.rrclass;
      opt.ext_rcode = static_cast<uint8_t>(rr.ttl >> 24);
      opt.version = static_cast<uint8_t>(rr.ttl >> 16);
      opt.dnssec_ok = (rr.ttl & 0x8000u) != 0;
      opt.z = static_cast<uint16_t>(rr.ttl & 0x7FFFu);
      opt.options = rdata;
      msg.edns_ = opt;
    }
  }
  if (pos != packet.size()) return base::fail(WireError::kTrailingData);
  return msg;
}

uint16_t Message::rcode() const {
  const uint16_t high = edns_ ? static_cast<uint16_t>(edns_->ext_rcode << 4) : 0;
  return static_cast<uint16_t>(high | header_.rcodeLow());
}

uint16_t Message::count(Section section) const {
  switch (section) {
    case Section::kQuestion: return header_.qdcount;
    case Section::kAnswer: return header_.ancount;
    case Section::kAuthority: return header_.nscount;
    case Section::kAdditional: return header_.arcount;
  }
  return 0;
}

RrRange Message::section(Section section) const {
  SHOAL_CHECK(section != Section::kQuestion);
  const auto idx = static_cast<size_t>(section);
  const uint16_t n = count(section);
  return RrRange(RrIterator(packet_, section, section_start_[idx], n),
                 RrIterator(packet_, section, 0, 0));
}

Name Message::ownerOf(const RrView& rr) const {
  auto parsed = Name::fromWire(packet_, rr.owner_offset);
  SHOAL_CHECK(parsed.ok());  // validated by parse()
  return parsed->name;
}

RrIterator::RrIterator(std::span<const uint8_t> packet, Section section, size_t pos,
                       size_t remaining)
    : packet_(packet), section_(section), pos_(pos), remaining_(remaining) {
  if (remaining_ > 0) load();
}

void RrIterator::load() {
  auto end = skipName(packet_, pos_);
  SHOAL_CHECK(end.ok());  // validated by Message::parse
  current_ = readRr(packet_, section_, pos_, *end);
}

RrIterator& RrIterator::operator++() {
  pos_ = current_.rdata_offset + current_.rdlength;
  if (--remaining_ > 0) load();
  return *this;
}

}  // namespace shoal::dns
