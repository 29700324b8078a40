#pragma once
// The root key trust anchor sentinel (RFC 8509): a client learns which root
// KSKs a validating resolver trusts by asking for
// "root-key-sentinel-is-ta-<key tag>.<a signed name>" and
// "root-key-sentinel-not-ta-<key tag>.<...>" (A or AAAA). When the answer is
// secure, "is-ta" of a key tag the resolver does not trust, and "not-ta" of
// one it does, are answered SERVFAIL (section 3.2); everything else is
// answered as usual.

#include <cstdint>
#include <optional>
#include <span>

#include "dns/name.h"

namespace shoal::resolver {

struct SentinelQuestion {
  bool is_ta = false;  // "is-ta" (else "not-ta")
  uint16_t key_tag = 0;
};

/// The sentinel question `qname` asks, if its leftmost label is one
/// (case-insensitive, the key tag five decimal digits).
std::optional<SentinelQuestion> sentinelOf(const dns::Name& qname);

/// Cheap check for the hot path: the leftmost label starts like a sentinel
/// label (such queries go to the engine, which knows the anchors).
bool mayBeSentinel(const dns::Name& qname);

/// True when the answer to a secure sentinel question must be SERVFAIL,
/// given the key tags of the root trust anchors.
bool sentinelFails(const SentinelQuestion& question, std::span<const uint16_t> anchor_tags);

}  // namespace shoal::resolver
