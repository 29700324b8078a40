#include "resolver/negative_anchors.h"

#include <algorithm>
#include <array>

#include "resolver/cache_format.h"

namespace shoal::resolver {
namespace {

constexpr uint8_t kKind = static_cast<uint8_t>(Kind::kNegativeAnchor);
/// The header of a payload: the format octet and added_at.
constexpr size_t kHeaderSize = 1 + 8;

std::vector<uint8_t> encodePayload(int64_t added_at, std::string_view reason) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + reason.size());
  out.push_back(kNegativeAnchorFormat);
  const auto value = static_cast<uint64_t>(added_at);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
  out.insert(out.end(), reason.begin(), reason.end());
  return out;
}

/// Fills added_at and reason from a payload; leaves them unset when it is
/// not one this build wrote (the anchor still counts: the entry is the
/// anchor, the payload only describes it).
void decodePayload(std::span<const uint8_t> payload, NegativeAnchor& out) {
  if (payload.size() < kHeaderSize || payload.size() > kHeaderSize + kMaxAnchorReason ||
      payload[0] != kNegativeAnchorFormat) {
    return;
  }
  uint64_t value = 0;
  for (size_t i = 1; i < kHeaderSize; ++i) value = (value << 8) | payload[i];
  out.added_at = static_cast<int64_t>(value);
  out.reason.assign(payload.begin() + kHeaderSize, payload.end());
}

bool hasControlCharacters(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string normalised(const dns::Name& name) {
  dns::Name lower = name;
  lower.toLowerCase();
  return lower.toText();
}

}  // namespace

std::string anchorName(std::string_view text) {
  const auto name = dns::Name::fromText(text);
  return name ? normalised(*name) : std::string();
}

AnchorChange addNegativeAnchor(shmcache::Cache& cache, std::string_view name_text,
                               uint32_t lifetime_s, std::string_view reason, int64_t now_s) {
  AnchorChange out;
  const auto name = dns::Name::fromText(name_text);
  if (!name) {
    out.error = "bad name '" + std::string(name_text) + "': " + dns::toString(name.error());
    return out;
  }
  out.name = normalised(*name);
  if (name->isRoot()) {
    out.error = "a negative trust anchor for the root would turn validation off: "
                "set dnssec.validation = false instead";
  } else if (lifetime_s == 0 || lifetime_s > kMaxAnchorLifetimeS) {
    out.error = "the lifetime must be between 1 s and 7 days (RFC 7646 section 2), not " +
                std::to_string(lifetime_s) + " s";
  } else if (reason.size() > kMaxAnchorReason) {
    out.error = "the reason is longer than " + std::to_string(kMaxAnchorReason) + " octets";
  } else if (hasControlCharacters(reason)) {
    out.error = "the reason contains control characters";
  }
  if (!out.error.empty()) return out;
  const auto key = name->lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now_s + lifetime_s;
  meta.original_ttl = lifetime_s;
  meta.rank = static_cast<uint8_t>(Rank::kAuthoritativeAnswer);  // equal ranks replace
  const auto payload = encodePayload(now_s, reason);
  const auto stored =
      cache.insert({key.bytes(), 0, kKind}, shmcache::Partition::global(), meta, payload, now_s);
  if (!stored.ok()) {
    out.error = std::string("the cache refused the entry: ") + shmcache::toString(stored.error());
    return out;
  }
  out.changed = 1;
  return out;
}

AnchorChange removeNegativeAnchor(shmcache::Cache& cache, std::string_view name_text) {
  AnchorChange out;
  const auto name = dns::Name::fromText(name_text);
  if (!name) {
    out.error = "bad name '" + std::string(name_text) + "': " + dns::toString(name.error());
    return out;
  }
  out.name = normalised(*name);
  const auto key = name->lookupKey();
  out.changed = cache.remove({key.bytes(), 0, kKind});
  return out;
}

std::vector<NegativeAnchor> listNegativeAnchors(shmcache::Cache& cache, int64_t now_s) {
  std::vector<std::pair<std::vector<uint8_t>, NegativeAnchor>> found;
  constexpr std::array<uint8_t, 1> kOnly{kKind};
  for (const auto& copy : cache.collect({}, true, kOnly)) {
    if (copy.type != 0) continue;
    if (copy.meta.expires_at <= now_s) continue;
    const auto name = dns::Name::fromLookupKey(copy.name);
    if (!name) continue;  // not a lookup key: not ours
    NegativeAnchor anchor;
    anchor.name = normalised(*name);
    anchor.expires_at = copy.meta.expires_at;
    decodePayload(copy.payload, anchor);
    found.emplace_back(copy.name, std::move(anchor));
  }
  // Lookup keys sort in canonical order.
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<NegativeAnchor> out;
  out.reserve(found.size());
  for (auto& [key, anchor] : found) out.push_back(std::move(anchor));
  return out;
}

bool coveredByNegativeAnchor(shmcache::Cache& cache, const dns::Name& name, int64_t now_s) {
  std::array<uint8_t, kHeaderSize + kMaxAnchorReason> payload{};
  for (dns::Name zone = name; !zone.isRoot(); zone = zone.parent()) {
    const auto key = zone.lookupKey();
    const auto found = cache.lookup({key.bytes(), 0, kKind}, nullptr, now_s, payload);
    if (found.ok() || found.error() == shmcache::Error::kBufferTooSmall) return true;
  }
  return false;
}

}  // namespace shoal::resolver
