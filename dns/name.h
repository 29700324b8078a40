#pragma once
// Domain names (RFC 1035 section 3.1) as fixed-size values: parsing from wire
// (with compression) and from presentation text, label operations, case-
// insensitive comparison, canonical ordering (RFC 4034 section 6.1) and the
// "lookup key" whose byte order equals canonical order.
//
// A Name never allocates: it holds the uncompressed wire form (at most 255
// octets) inline, case preserved. It is trivially copyable so it can be copied
// in and out of shared memory and packet buffers on the hot path.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "dns/wire_error.h"

namespace shoal::dns {

inline constexpr size_t kMaxNameLength = 255;  // wire octets, incl. root label
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxLabels = 128;  // incl. the root label
/// Lookup keys escape 0x00/0x01 octets (see LookupKey), so at most double.
inline constexpr size_t kMaxLookupKeyLength = 2 * kMaxNameLength;

class LookupKey;

class Name {
 public:
  /// The root name ".".
  Name() : length_(1) { wire_[0] = 0; }

  struct Parsed;
  /// Reads a possibly compressed name starting at `offset` in `packet`.
  /// Compression pointers must point strictly backwards from the start of the
  /// label run that contains them, which rules out loops.
  static WireResult<Parsed> fromWire(std::span<const uint8_t> packet, size_t offset);
  /// Reads an uncompressed name occupying a prefix of `data` (e.g. rdata
  /// already decompressed, or a shared-memory record).
  static WireResult<Name> fromUncompressed(std::span<const uint8_t> data);
  /// Parses presentation format ("www.Example.com.", "\\046.", "."); the
  /// trailing dot is optional, names are always absolute.
  static WireResult<Name> fromText(std::string_view text);
  /// Rebuilds a name from the bytes of a LookupKey.
  static WireResult<Name> fromLookupKey(std::span<const uint8_t> key);

  /// Presentation format with a trailing dot, escaping per RFC 4343. Slow
  /// path only: allocates.
  std::string toText() const;

  /// Uncompressed wire form, case preserved.
  std::span<const uint8_t> wire() const { return {wire_, length_}; }
  size_t length() const { return length_; }
  bool isRoot() const { return length_ == 1; }
  /// Number of labels, not counting the root label ("a.b." has 2).
  size_t labelCount() const;
  /// The i-th label from the left (0 = leftmost), without its length octet.
  std::span<const uint8_t> label(size_t i) const;

  /// The name without its leftmost label; the root's parent is the root.
  Name parent() const;
  /// The rightmost `labels` labels ("www.example.com" suffix(2) = "example.com").
  Name suffix(size_t labels) const;
  /// Prepends one label. Fails if the result would exceed 255 octets.
  WireResult<Name> prepend(std::span<const uint8_t> label) const;
  /// True if this name equals `zone` or lies below it (case-insensitive).
  bool isSubdomainOf(const Name& zone) const;

  /// Lowercases ASCII letters in place (RFC 4034 section 6.2 canonical form).
  void toLowerCase();
  /// Case-insensitive equality (RFC 4343).
  bool operator==(const Name& other) const;
  /// Canonical order (RFC 4034 section 6.1): <0, 0 or >0.
  int compareCanonical(const Name& other) const;
  /// Case-sensitive equality of the wire bytes (0x20-bit checks).
  bool equalsExactly(const Name& other) const;

  LookupKey lookupKey() const;

 private:
  uint8_t wire_[kMaxNameLength];
  uint8_t length_;
};
static_assert(std::is_trivially_copyable_v<Name>);

struct Name::Parsed {
  Name name;
  size_t end;  // offset just past the name at its original position
};

/// Validates a possibly compressed name at `offset` without copying it;
/// returns the offset just past it. Same rules as Name::fromWire.
WireResult<size_t> skipName(std::span<const uint8_t> packet, size_t offset);

/// The key under which caches and ordered indexes store a name: labels in
/// reverse order, each lowercased and terminated by 0x00, so that plain
/// memcmp order equals RFC 4034 canonical order ("www.Example.com" ->
/// "com\0example\0www\0"; the root is the empty key). Octets 0x00 and 0x01
/// inside a label are escaped as 0x01 0x01 and 0x01 0x02: that keeps the
/// terminator smaller than every label octet, so the order stays exact even
/// for binary labels, where a bare-0x00 scheme would misorder them.
class LookupKey {
 public:
  std::span<const uint8_t> bytes() const { return {bytes_, length_}; }
  size_t length() const { return length_; }
  int compare(const LookupKey& other) const;

 private:
  friend class Name;
  uint8_t bytes_[kMaxLookupKeyLength];
  uint16_t length_ = 0;
};
static_assert(std::is_trivially_copyable_v<LookupKey>);

}  // namespace shoal::dns
