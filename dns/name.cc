#include "dns/name.h"

#include <algorithm>
#include <cstring>

namespace shoal::dns {

namespace {

constexpr uint8_t kPointerMask = 0xC0;

uint8_t asciiLower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

/// Walks a possibly compressed name. When `out` is given, copies the
/// uncompressed form into it. Returns the offset just past the name at its
/// original position.
WireResult<size_t> walkName(std::span<const uint8_t> packet, size_t offset, uint8_t* out,
                            uint8_t* out_length) {
  size_t pos = offset;
  size_t run_start = offset;  // start of the current label run
  size_t end = 0;             // set at the first pointer
  bool jumped = false;
  size_t length = 0;
  for (;;) {
    if (pos >= packet.size()) return base::fail(WireError::kTruncated);
    const uint8_t len = packet[pos];
    if ((len & kPointerMask) == kPointerMask) {
      if (pos + 1 >= packet.size()) return base::fail(WireError::kTruncated);
      const size_t target = (static_cast<size_t>(len & 0x3F) << 8) | packet[pos + 1];
      // Strictly backwards from the start of this run: run starts strictly
      // decrease, so the walk terminates.
      if (target >= run_start) return base::fail(WireError::kPointerLoop);
      if (!jumped) {
        end = pos + 2;
        jumped = true;
      }
      pos = target;
      run_start = target;
      continue;
    }
    if ((len & kPointerMask) != 0) return base::fail(WireError::kBadLabelType);
    if (len > kMaxLabelLength) return base::fail(WireError::kLabelTooLong);
    if (length + len + 1 > kMaxNameLength) return base::fail(WireError::kNameTooLong);
    if (pos + 1 + len > packet.size()) return base::fail(WireError::kTruncated);
    if (out != nullptr) std::memcpy(out + length, &packet[pos], len + 1u);
    length += len + 1u;
    pos += len + 1u;
    if (len == 0) break;
  }
  if (out_length != nullptr) *out_length = static_cast<uint8_t>(length);
  return jumped ? end : pos;
}

/// Offsets of each label's length octet, leftmost first, excluding the root.
size_t labelOffsets(std::span<const uint8_t> wire, uint8_t* offsets) {
  size_t n = 0;
  for (size_t pos = 0; wire[pos] != 0; pos += wire[pos] + 1u) offsets[n++] = static_cast<uint8_t>(pos);
  return n;
}

int compareLabelsLower(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const uint8_t ca = asciiLower(a[i]);
    const uint8_t cb = asciiLower(b[i]);
    if (ca != cb) return ca < cb ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

bool isSpecialInText(uint8_t c) {
  switch (c) {
    case '.': case '\\': case '"': case '(': case ')': case ';': case '@': case '$':
      return true;
    default:
      return false;
  }
}

}  // namespace

const char* toString(WireError error) {
  switch (error) {
    case WireError::kTruncated: return "truncated";
    case WireError::kPointerLoop: return "compression pointer loop or forward pointer";
    case WireError::kBadLabelType: return "bad label type";
    case WireError::kLabelTooLong: return "label longer than 63 octets";
    case WireError::kNameTooLong: return "name longer than 255 octets";
    case WireError::kBadText: return "bad presentation format";
    case WireError::kTooManyQuestions: return "more than one question";
    case WireError::kTrailingData: return "trailing data after the last record";
    case WireError::kOptNotInAdditional: return "OPT outside the additional section";
    case WireError::kDuplicateOpt: return "more than one OPT record";
    case WireError::kBadOpt: return "malformed OPT record";
    case WireError::kBadOption: return "malformed EDNS option";
    case WireError::kBadRdata: return "malformed rdata";
    case WireError::kNoSpace: return "no space left in the message";
    case WireError::kBadState: return "sections written out of order";
  }
  return "unknown wire error";
}

WireResult<Name::Parsed> Name::fromWire(std::span<const uint8_t> packet, size_t offset) {
  Parsed parsed;
  auto end = walkName(packet, offset, parsed.name.wire_, &parsed.name.length_);
  if (!end) return base::fail(end.error());
  parsed.end = *end;
  return parsed;
}

WireResult<size_t> skipName(std::span<const uint8_t> packet, size_t offset) {
  return walkName(packet, offset, nullptr, nullptr);
}

WireResult<Name> Name::fromUncompressed(std::span<const uint8_t> data) {
  Name name;
  size_t pos = 0;
  for (;;) {
    if (pos >= data.size()) return base::fail(WireError::kTruncated);
    const uint8_t len = data[pos];
    if ((len & kPointerMask) != 0) return base::fail(WireError::kBadLabelType);
    if (pos + len + 1u > kMaxNameLength) return base::fail(WireError::kNameTooLong);
    if (pos + 1u + len > data.size()) return base::fail(WireError::kTruncated);
    pos += len + 1u;
    if (len == 0) break;
  }
  std::memcpy(name.wire_, data.data(), pos);
  name.length_ = static_cast<uint8_t>(pos);
  return name;
}

WireResult<Name> Name::fromText(std::string_view text) {
  if (text.empty()) return base::fail(WireError::kBadText);
  if (text == ".") return Name();
  Name name;
  // wire_[label_start] receives the current label's length when it closes;
  // closing a label also writes the 0 octet that ends the name so far.
  size_t length = 1;
  size_t label_start = 0;
  size_t label_len = 0;
  auto closeLabel = [&]() -> WireStatus {
    if (label_len == 0) return base::fail(WireError::kBadText);  // "a..b", ".a"
    if (length >= kMaxNameLength) return base::fail(WireError::kNameTooLong);
    name.wire_[label_start] = static_cast<uint8_t>(label_len);
    label_start = length;
    label_len = 0;
    name.wire_[length++] = 0;
    return {};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c == '.') {
      if (auto st = closeLabel(); !st) return base::fail(st.error());
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) return base::fail(WireError::kBadText);
      const auto digit = [&](size_t k) -> unsigned {
        return (text[k] >= '0' && text[k] <= '9') ? static_cast<unsigned>(text[k] - '0') : 10u;
      };
      if (digit(i + 1) < 10) {  // \DDD
        if (i + 3 >= text.size()) return base::fail(WireError::kBadText);
        if (digit(i + 2) > 9 || digit(i + 3) > 9) return base::fail(WireError::kBadText);
        const unsigned v = digit(i + 1) * 100 + digit(i + 2) * 10 + digit(i + 3);
        if (v > 255) return base::fail(WireError::kBadText);
        c = static_cast<uint8_t>(v);
        i += 3;
      } else {
        c = static_cast<uint8_t>(text[i + 1]);
        i += 1;
      }
    }
    if (label_len >= kMaxLabelLength) return base::fail(WireError::kLabelTooLong);
    // Keep room for the 0 octet that must still follow.
    if (length + 1 >= kMaxNameLength) return base::fail(WireError::kNameTooLong);
    name.wire_[length++] = c;
    ++label_len;
  }
  if (label_len > 0) {
    if (auto st = closeLabel(); !st) return base::fail(st.error());
  }
  name.length_ = static_cast<uint8_t>(length);
  return name;
}

std::string Name::toText() const {
  if (isRoot()) return ".";
  std::string out;
  out.reserve(length_ + 8);
  for (size_t pos = 0; wire_[pos] != 0; pos += wire_[pos] + 1u) {
    for (size_t i = 1; i <= wire_[pos]; ++i) {
      const uint8_t c = wire_[pos + i];
      if (isSpecialInText(c)) {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c <= 0x20 || c >= 0x7F) {
        char buf[5];
        buf[0] = '\\';
        buf[1] = static_cast<char>('0' + c / 100);
        buf[2] = static_cast<char>('0' + (c / 10) % 10);
        buf[3] = static_cast<char>('0' + c % 10);
        buf[4] = 0;
        out.append(buf, 4);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('.');
  }
  return out;
}

size_t Name::labelCount() const {
  size_t n = 0;
  for (size_t pos = 0; wire_[pos] != 0; pos += wire_[pos] + 1u) ++n;
  return n;
}

std::span<const uint8_t> Name::label(size_t i) const {
  size_t pos = 0;
  for (size_t n = 0; n < i && wire_[pos] != 0; ++n) pos += wire_[pos] + 1u;
  return {wire_ + pos + 1, wire_[pos]};
}

Name Name::parent() const {
  if (isRoot()) return *this;
  Name out;
  const size_t skip = wire_[0] + 1u;
  out.length_ = static_cast<uint8_t>(length_ - skip);
  std::memcpy(out.wire_, wire_ + skip, out.length_);
  return out;
}

Name Name::suffix(size_t labels) const {
  const size_t total = labelCount();
  if (labels >= total) return *this;
  size_t pos = 0;
  for (size_t n = 0; n < total - labels; ++n) pos += wire_[pos] + 1u;
  Name out;
  out.length_ = static_cast<uint8_t>(length_ - pos);
  std::memcpy(out.wire_, wire_ + pos, out.length_);
  return out;
}

WireResult<Name> Name::prepend(std::span<const uint8_t> label) const {
  if (label.empty()) return base::fail(WireError::kBadText);
  if (label.size() > kMaxLabelLength) return base::fail(WireError::kLabelTooLong);
  if (length_ + label.size() + 1 > kMaxNameLength) return base::fail(WireError::kNameTooLong);
  Name out;
  out.wire_[0] = static_cast<uint8_t>(label.size());
  std::memcpy(out.wire_ + 1, label.data(), label.size());
  std::memcpy(out.wire_ + 1 + label.size(), wire_, length_);
  out.length_ = static_cast<uint8_t>(length_ + label.size() + 1);
  return out;
}

bool Name::isSubdomainOf(const Name& zone) const {
  if (zone.length_ > length_) return false;
  // Find the label boundary at which the tail has zone's length.
  size_t pos = 0;
  while (length_ - pos > zone.length_) pos += wire_[pos] + 1u;
  if (length_ - pos != zone.length_) return false;
  for (size_t i = 0; i < zone.length_; ++i) {
    if (asciiLower(wire_[pos + i]) != asciiLower(zone.wire_[i])) return false;
  }
  return true;
}

void Name::toLowerCase() {
  for (size_t i = 0; i < length_; ++i) wire_[i] = asciiLower(wire_[i]);
}

bool Name::operator==(const Name& other) const {
  if (length_ != other.length_) return false;
  // Length octets are < 64 and so unaffected by asciiLower.
  for (size_t i = 0; i < length_; ++i) {
    if (asciiLower(wire_[i]) != asciiLower(other.wire_[i])) return false;
  }
  return true;
}

bool Name::equalsExactly(const Name& other) const {
  return length_ == other.length_ && std::memcmp(wire_, other.wire_, length_) == 0;
}

int Name::compareCanonical(const Name& other) const {
  uint8_t a_off[kMaxLabels];
  uint8_t b_off[kMaxLabels];
  const size_t na = labelOffsets(wire(), a_off);
  const size_t nb = labelOffsets(other.wire(), b_off);
  for (size_t i = 1; i <= std::min(na, nb); ++i) {
    const uint8_t* la = wire_ + a_off[na - i];
    const uint8_t* lb = other.wire_ + b_off[nb - i];
    const int c = compareLabelsLower({la + 1, la[0]}, {lb + 1, lb[0]});
    if (c != 0) return c;
  }
  if (na == nb) return 0;
  return na < nb ? -1 : 1;
}

LookupKey Name::lookupKey() const {
  LookupKey key;
  uint8_t offsets[kMaxLabels];
  const size_t n = labelOffsets(wire(), offsets);
  size_t out = 0;
  for (size_t i = n; i-- > 0;) {
    const uint8_t* label = wire_ + offsets[i];
    for (size_t k = 1; k <= label[0]; ++k) {
      const uint8_t c = asciiLower(label[k]);
      if (c <= 0x01) {
        key.bytes_[out++] = 0x01;
        key.bytes_[out++] = static_cast<uint8_t>(c + 1);
      } else {
        key.bytes_[out++] = c;
      }
    }
    key.bytes_[out++] = 0x00;
  }
  key.length_ = static_cast<uint16_t>(out);
  return key;
}

WireResult<Name> Name::fromLookupKey(std::span<const uint8_t> key) {
  // Decode labels (in reverse order) into a scratch area, then emit them in
  // wire order.
  uint8_t labels[kMaxNameLength];
  size_t starts[kMaxLabels];
  size_t lens[kMaxLabels];
  size_t n = 0;
  size_t used = 0;
  size_t i = 0;
  while (i < key.size()) {
    if (n >= kMaxLabels - 1) return base::fail(WireError::kNameTooLong);
    starts[n] = used;
    size_t len = 0;
    for (;;) {
      if (i >= key.size()) return base::fail(WireError::kTruncated);
      uint8_t c = key[i++];
      if (c == 0x00) break;
      if (c == 0x01) {
        if (i >= key.size() || key[i] < 0x01 || key[i] > 0x02) return base::fail(WireError::kBadText);
        c = static_cast<uint8_t>(key[i++] - 1);
      }
      if (used >= kMaxNameLength) return base::fail(WireError::kNameTooLong);
      labels[used++] = c;
      ++len;
    }
    if (len == 0) return base::fail(WireError::kBadText);
    if (len > kMaxLabelLength) return base::fail(WireError::kLabelTooLong);
    lens[n++] = len;
  }
  if (used + n + 1 > kMaxNameLength) return base::fail(WireError::kNameTooLong);
  Name name;
  size_t pos = 0;
  for (size_t k = n; k-- > 0;) {
    name.wire_[pos++] = static_cast<uint8_t>(lens[k]);
    std::memcpy(name.wire_ + pos, labels + starts[k], lens[k]);
    pos += lens[k];
  }
  name.wire_[pos++] = 0;
  name.length_ = static_cast<uint8_t>(pos);
  return name;
}

int LookupKey::compare(const LookupKey& other) const {
  const size_t n = std::min(length_, other.length_);
  const int c = std::memcmp(bytes_, other.bytes_, n);
  if (c != 0) return c < 0 ? -1 : 1;
  if (length_ == other.length_) return 0;
  return length_ < other.length_ ? -1 : 1;
}

}  // namespace shoal::dns
