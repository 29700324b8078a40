#pragma once
// NSEC and NSEC3 records of the example zones of RFC 4035 Appendix A and
// RFC 5155 Appendix A (salt aabbccdd, 12 iterations), built here, unsigned,
// for the denial-proof tests (denial_test.cc: proofs from the records a
// reply brought; aggressive_test.cc: proofs from ranges kept in a cache).
// Bitmaps and rdata are written independently of the code under test.
//
// Test code: failures go through GoogleTest (EXPECT/ADD_FAILURE).

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "dns/name.h"
#include "dns/rrset.h"

namespace shoal::dnssec::testing_util {

using Rrsets = std::vector<dns::Rrset>;
using Types = std::vector<uint16_t>;

/// Parses a name, failing the test when it is not valid.
dns::Name N(std::string_view text);

std::span<const uint8_t> asBytes(std::string_view text);

/// RFC 4034 section 4.1.2 type bitmap.
std::vector<uint8_t> bitmap(Types types);

/// A one-record RRset, TTL 3600, unsigned.
dns::Rrset rrset(const dns::Name& owner, uint16_t type, std::vector<uint8_t> rdata);

std::vector<uint8_t> nsecRdata(std::string_view next, const Types& types);
dns::Rrset nsec(std::string_view owner, std::string_view next, const Types& types);

/// RFC 4035 Appendix A: the NSEC records of "example" owned by `owners`.
Rrsets rfc4035(std::initializer_list<std::string_view> owners);
/// Every NSEC record of RFC 4035 Appendix A, in canonical order.
Rrsets rfc4035Chain();

/// RFC 5155 Appendix A's salt.
extern const std::vector<uint8_t> kSalt;

struct Nsec3Fields {
  uint8_t algorithm = 1;
  uint8_t flags = 0;
  uint16_t iterations = 12;
  std::vector<uint8_t> salt = kSalt;
};

/// Base32hex to octets (the test fails on bad input).
std::vector<uint8_t> decode(std::string_view base32hex);

std::vector<uint8_t> nsec3Rdata(const std::vector<uint8_t>& next_hash, const Types& types,
                                const Nsec3Fields& fields);
dns::Rrset nsec3(const std::vector<uint8_t>& owner_hash, const std::vector<uint8_t>& next_hash,
                 const Types& types, const Nsec3Fields& fields = {},
                 std::string_view zone = "example");

/// The NSEC3 hash of `name` with RFC 5155's salt.
std::vector<uint8_t> hashOf(std::string_view name, uint16_t iterations = 12);

/// A hash one above or below (big-endian arithmetic): a range just around it.
std::vector<uint8_t> step(std::vector<uint8_t> hash, int delta);

/// An NSEC3 whose range covers exactly the hash of `name`.
dns::Rrset coverOf(std::string_view name, const Nsec3Fields& fields = {});
/// An NSEC3 that matches `name`.
dns::Rrset matchOf(std::string_view name, const Types& types, const Nsec3Fields& fields = {});

/// RFC 5155 Appendix A: the NSEC3 records of "example" whose owner hash
/// starts with each prefix. The RFC signs the zone with opt-out (flags 1);
/// tests choose the flags.
Rrsets rfc5155(std::initializer_list<std::string_view> prefixes, uint8_t flags = 0);
/// Every NSEC3 record of RFC 5155 Appendix A, in hash order.
Rrsets rfc5155Chain(uint8_t flags = 0);

}  // namespace shoal::dnssec::testing_util
