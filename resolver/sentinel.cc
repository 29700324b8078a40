#include "resolver/sentinel.h"

#include <algorithm>
#include <string_view>

namespace shoal::resolver {

namespace {

constexpr std::string_view kPrefix = "root-key-sentinel-";
constexpr std::string_view kIsTa = "root-key-sentinel-is-ta-";
constexpr std::string_view kNotTa = "root-key-sentinel-not-ta-";

bool startsWithIgnoringCase(std::span<const uint8_t> label, std::string_view prefix) {
  if (label.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    uint8_t c = label[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
    if (c != static_cast<uint8_t>(prefix[i])) return false;
  }
  return true;
}

}  // namespace

bool mayBeSentinel(const dns::Name& qname) {
  // The leftmost label straight from the wire form: this runs on every
  // query of the hot path.
  const auto wire = qname.wire();
  return wire[0] >= kPrefix.size() && startsWithIgnoringCase(wire.subspan(1, wire[0]), kPrefix);
}

std::optional<SentinelQuestion> sentinelOf(const dns::Name& qname) {
  if (!mayBeSentinel(qname)) return std::nullopt;
  const auto label = qname.label(0);
  SentinelQuestion out;
  size_t digits_at = 0;
  if (startsWithIgnoringCase(label, kIsTa)) {
    out.is_ta = true;
    digits_at = kIsTa.size();
  } else if (startsWithIgnoringCase(label, kNotTa)) {
    digits_at = kNotTa.size();
  } else {
    return std::nullopt;
  }
  // RFC 8509 section 2: exactly five decimal digits, zero-padded.
  if (label.size() != digits_at + 5) return std::nullopt;
  uint32_t tag = 0;
  for (size_t i = digits_at; i < label.size(); ++i) {
    if (label[i] < '0' || label[i] > '9') return std::nullopt;
    tag = tag * 10 + (label[i] - '0');
  }
  if (tag > 0xFFFF) return std::nullopt;
  out.key_tag = static_cast<uint16_t>(tag);
  return out;
}

bool sentinelFails(const SentinelQuestion& question, std::span<const uint16_t> anchor_tags) {
  const bool trusted =
      std::find(anchor_tags.begin(), anchor_tags.end(), question.key_tag) != anchor_tags.end();
  return question.is_ta ? !trusted : trusted;
}

}  // namespace shoal::resolver
