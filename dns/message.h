#pragma once
// Zero-copy DNS message parsing (RFC 1035 section 4.1).
//
// Message::parse validates a whole packet in one pass: header, question,
// every RR's owner name (compression included), fixed fields and rdata
// bounds, and the rules for OPT (RFC 6891). It allocates nothing and keeps
// only offsets into the caller's buffer; iterating a section afterwards
// cannot fail. The caller keeps the packet alive while it uses the Message.
//
// Rdata contents are not interpreted here (see dns/rdata.h): the hot path
// only needs the header, the question and EDNS.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "dns/edns.h"
#include "dns/name.h"
#include "dns/wire_error.h"

namespace shoal::dns {

inline constexpr size_t kHeaderSize = 12;

enum class Section : uint8_t { kQuestion = 0, kAnswer = 1, kAuthority = 2, kAdditional = 3 };

/// Header flag bits in the second 16-bit word (RFC 1035, RFC 4035 for AD/CD).
namespace flag {
inline constexpr uint16_t kQr = 0x8000;
inline constexpr uint16_t kAa = 0x0400;
inline constexpr uint16_t kTc = 0x0200;
inline constexpr uint16_t kRd = 0x0100;
inline constexpr uint16_t kRa = 0x0080;
inline constexpr uint16_t kAd = 0x0020;
inline constexpr uint16_t kCd = 0x0010;
}  // namespace flag

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;  // QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  bool has(uint16_t f) const { return (flags & f) != 0; }
  uint8_t opcode() const { return static_cast<uint8_t>((flags >> 11) & 0xF); }
  /// The low 4 bits of the rcode (the rest is in OPT).
  uint8_t rcodeLow() const { return static_cast<uint8_t>(flags & 0xF); }

  static Header fromWire(const uint8_t* p);
  void toWire(uint8_t* p) const;
};

struct Question {
  Name name;  // case preserved, as the client sent it
  uint16_t type = 0;
  uint16_t qclass = 0;
};

/// One resource record, by reference into the packet.
struct RrView {
  Section section = Section::kAnswer;
  size_t owner_offset = 0;  // may start a compressed name
  uint16_t type = 0;
  uint16_t rrclass = 0;
  uint32_t ttl = 0;
  size_t rdata_offset = 0;
  uint16_t rdlength = 0;
};

/// Iterates the RRs of one section of a validated message.
class RrIterator {
 public:
  RrIterator(std::span<const uint8_t> packet, Section section, size_t pos, size_t remaining);
  const RrView& operator*() const { return current_; }
  const RrView* operator->() const { return &current_; }
  RrIterator& operator++();
  bool operator!=(const RrIterator& other) const { return remaining_ != other.remaining_; }

 private:
  void load();
  std::span<const uint8_t> packet_;
  Section section_;
  size_t pos_;
  size_t remaining_;
  RrView current_;
};

class RrRange {
 public:
  RrRange(RrIterator begin, RrIterator end) : begin_(begin), end_(end) {}
  RrIterator begin() const { return begin_; }
  RrIterator end() const { return end_; }

 private:
  RrIterator begin_;
  RrIterator end_;
};

class Message {
 public:
  /// Validates `packet` and returns a view over it.
  static WireResult<Message> parse(std::span<const uint8_t> packet);

  const Header& header() const { return header_; }
  /// The question, if QDCOUNT is 1.
  const std::optional<Question>& question() const { return question_; }
  /// EDNS(0) data from the OPT record, if there is one.
  const std::optional<OptView>& edns() const { return edns_; }
  /// The full 12-bit rcode (header low bits + OPT extended bits).
  uint16_t rcode() const;

  RrRange section(Section section) const;
  uint16_t count(Section section) const;

  std::span<const uint8_t> packet() const { return packet_; }
  /// Decodes the owner name of `rr` (already validated by parse).
  Name ownerOf(const RrView& rr) const;
  std::span<const uint8_t> rdataOf(const RrView& rr) const {
    return packet_.subspan(rr.rdata_offset, rr.rdlength);
  }

 private:
  std::span<const uint8_t> packet_;
  Header header_;
  std::optional<Question> question_;
  std::optional<OptView> edns_;
  size_t section_start_[4] = {};  // question, answer, authority, additional
};

}  // namespace shoal::dns
