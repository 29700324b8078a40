#pragma once
// Builds DNS messages into a caller-provided buffer, with name compression
// (RFC 1035 section 4.1.4), a hard size limit and truncation support
// (RFC 2181 section 9). Allocates nothing: it is on the hot path, writing
// cache answers into a per-worker buffer.
//
// Usage: setHeader, addQuestion, then records section by section (answer,
// authority, additional; never back), optionally setEdns, then finish().
// Space for the OPT record is reserved as soon as setEdns is called, so a
// truncated answer always keeps its OPT.

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/edns.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/wire_error.h"

namespace shoal::dns {

class MessageWriter {
 public:
  /// Writes into `buffer`, never past `limit` octets (clamped to the buffer).
  MessageWriter(std::span<uint8_t> buffer, size_t limit);

  void setId(uint16_t id) { header_.id = id; }
  /// Flag bits of the second header word (without the rcode).
  void setFlags(uint16_t flags);
  /// Sets the 12-bit rcode: low 4 bits in the header, the rest in the OPT.
  void setRcode(uint16_t rcode);
  void setTruncated() { header_.flags |= flag::kTc; }
  const Header& header() const { return header_; }

  WireStatus addQuestion(const Name& name, uint16_t type, uint16_t qclass);

  /// Appends one RR. `rdata` is uncompressed; names inside the rdata of
  /// RFC 1035 types are compressed. Fails with kNoSpace, writing nothing,
  /// when the RR does not fit; kBadState when `section` comes before one
  /// already written.
  WireStatus addRr(Section section, const Name& owner, uint16_t type, uint16_t rrclass,
                   uint32_t ttl, std::span<const uint8_t> rdata);

  /// Adds an OPT record at finish(); reserves its space now. `edns` is
  /// referenced, not copied: it must outlive finish(). Fails with
  /// kNoSpace if what is already written leaves no room for it.
  WireStatus setEdns(const EdnsOut& edns);

  /// A point to roll back to (e.g. to drop a partial RRset).
  struct Mark {
    size_t length;
    uint16_t counts[4];
    uint8_t section;
    uint8_t compression_entries;
  };
  Mark mark() const;
  void rollback(const Mark& mark);

  /// Writes the header and the OPT record; returns the message length.
  size_t finish();

  size_t length() const { return length_; }
  /// Octets still available before the limit (after the OPT reservation).
  size_t remaining() const { return limit_ - reserved_ - length_; }

 private:
  WireStatus writeName(const Name& name, bool compress);
  bool matchesAt(size_t offset, std::span<const uint8_t> suffix) const;
  void remember(size_t offset);

  static constexpr size_t kMaxCompressionEntries = 96;

  std::span<uint8_t> buffer_;
  size_t limit_;
  size_t length_ = kHeaderSize;
  size_t reserved_ = 0;  // space held back for the OPT record
  Header header_;
  uint16_t counts_[4] = {};
  uint8_t section_ = 0;
  uint16_t rcode_ = 0;
  const EdnsOut* edns_ = nullptr;
  // Offsets of names (and of each of their labels) already written; each is
  // a possible compression target for a later suffix.
  uint16_t compression_[kMaxCompressionEntries] = {};
  uint8_t compression_entries_ = 0;
};

}  // namespace shoal::dns
