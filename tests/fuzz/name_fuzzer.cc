// libFuzzer target: domain names. The input is tried as presentation text,
// as a (possibly compressed) wire name, as an uncompressed wire name and as a
// LookupKey; every name that parses must survive the round trips
//   toText -> fromText            (exactly, case preserved)
//   lookupKey -> fromLookupKey    (equal to the lowercased name)
// and the LookupKey order must agree with canonical order (RFC 4034 6.1).
//
// Any invariant violation calls __builtin_trap().

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dns/name.h"

namespace shoal::dns {
namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();
}

int sign(int v) { return (v > 0) - (v < 0); }

uint8_t fold(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

void checkName(const Name& n) {
  // Structure: labels add up to the length.
  const auto wire = n.wire();
  require(wire.size() == n.length() && n.length() >= 1 && n.length() <= kMaxNameLength);
  require(wire[wire.size() - 1] == 0);
  size_t sum = 1;
  const size_t labels = n.labelCount();
  for (size_t i = 0; i < labels; ++i) {
    const auto l = n.label(i);
    require(!l.empty() && l.size() <= kMaxLabelLength);
    sum += 1 + l.size();
  }
  require(sum == n.length());
  require(n.isRoot() == (labels == 0));

  // Text round trip, exact.
  const std::string text = n.toText();
  require(!text.empty() && text.back() == '.');
  auto back = Name::fromText(text);
  require(back.ok());
  require(back->equalsExactly(n));
  // The trailing dot is optional.
  if (!n.isRoot()) {
    auto no_dot = Name::fromText(std::string_view(text).substr(0, text.size() - 1));
    require(no_dot.ok() && no_dot->equalsExactly(n));
  }

  // Lookup key round trip, case-folded.
  Name lower = n;
  lower.toLowerCase();
  require(lower == n);
  const LookupKey key = n.lookupKey();
  require(key.length() <= kMaxLookupKeyLength);
  auto from_key = Name::fromLookupKey(key.bytes());
  require(from_key.ok());
  require(from_key->equalsExactly(lower));
  require(key.compare(lower.lookupKey()) == 0);

  // Orders and relations with itself and its ancestors.
  require(n.compareCanonical(n) == 0);
  require(n.compareCanonical(lower) == 0);
  require(n.isSubdomainOf(n));
  require(n.isSubdomainOf(Name()));
  if (!n.isRoot()) {
    const Name parent = n.parent();
    require(parent.labelCount() + 1 == labels);
    require(n.isSubdomainOf(parent));
    require(!parent.isSubdomainOf(n));
    require(parent.compareCanonical(n) < 0);
    require(parent.lookupKey().compare(key) < 0);
    require(n.suffix(labels - 1).equalsExactly(parent));
  }
}

void compareOrders(const Name& a, const Name& b) {
  const int c = sign(a.compareCanonical(b));
  require(c == -sign(b.compareCanonical(a)));
  require(c == sign(a.lookupKey().compare(b.lookupKey())));
  require((c == 0) == (a == b));
}

}  // namespace
}  // namespace shoal::dns

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal::dns;
  const std::span<const uint8_t> input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto from_text = Name::fromText(text);
  if (from_text) checkName(*from_text);

  auto from_wire = Name::fromWire(input, 0);
  if (from_wire) {
    require(from_wire->end <= size);
    require(*skipName(input, 0) == from_wire->end);
    checkName(from_wire->name);
  } else {
    require(!skipName(input, 0).ok());
  }

  auto uncompressed = Name::fromUncompressed(input);
  if (uncompressed) {
    checkName(*uncompressed);
    // An uncompressed name reads the same through the wire parser.
    auto again = Name::fromWire(input, 0);
    require(again.ok() && again->name.equalsExactly(*uncompressed));
    require(again->end == uncompressed->length());
  }

  auto from_key = Name::fromLookupKey(input);
  if (from_key) {
    checkName(*from_key);
    // Keys are canonical up to letter case: re-encoding gives the input back
    // with ASCII letters lowercased.
    const LookupKey key = from_key->lookupKey();
    const auto bytes = key.bytes();
    require(bytes.size() == size);
    for (size_t i = 0; i < size; ++i) require(bytes[i] == fold(data[i]));
  }

  // Two names from the two halves of the input: the orders must agree.
  const size_t half = size / 2;
  auto a = Name::fromText(text.substr(0, half));
  auto b = Name::fromText(text.substr(half));
  if (a && b) compareOrders(*a, *b);
  if (from_text && from_wire) compareOrders(*from_text, from_wire->name);
  return 0;
}
