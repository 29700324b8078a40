#include "tests/unit/dnssec/example_zones.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "dns/constants.h"
#include "dnssec/denial.h"

namespace shoal::dnssec::testing_util {

namespace {

using namespace dns::rrtype;  // NOLINT: kA, kNs, kNsec3... read like the RFCs

std::vector<std::pair<std::string_view, dns::Rrset>> rfc4035Rows() {
  return {
      {"example", nsec("example", "a.example", {kNs, kSoa, kMx, kRrsig, kNsec, kDnskey})},
      {"a.example", nsec("a.example", "ai.example", {kNs, kDs, kRrsig, kNsec})},
      {"ai.example", nsec("ai.example", "b.example", {kA, kHinfo, kAaaa, kRrsig, kNsec})},
      {"b.example", nsec("b.example", "ns1.example", {kNs, kRrsig, kNsec})},
      {"ns1.example", nsec("ns1.example", "ns2.example", {kA, kRrsig, kNsec})},
      {"ns2.example", nsec("ns2.example", "*.w.example", {kA, kRrsig, kNsec})},
      {"*.w.example", nsec("*.w.example", "x.w.example", {kMx, kRrsig, kNsec})},
      {"x.w.example", nsec("x.w.example", "x.y.w.example", {kMx, kRrsig, kNsec})},
      {"x.y.w.example", nsec("x.y.w.example", "xx.example", {kMx, kRrsig, kNsec})},
      {"xx.example", nsec("xx.example", "example", {kA, kHinfo, kAaaa, kRrsig, kNsec})},
  };
}

struct ChainRow {
  std::string_view owner;
  std::string_view next;
  Types types;
};

// RFC 5155 Appendix A: the NSEC3 chain of "example", in hash order.
std::vector<ChainRow> appendixA() {
  return {
      {"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
       {kNs, kSoa, kMx, kRrsig, kDnskey, kNsec3param}},                              // example
      {"2t7b4g4vsa5smi47k61mv5bv1a22bojr", "2vptu5timamqttgl4luu9kg21e0aor3s", {kA, kRrsig}},
      {"2vptu5timamqttgl4luu9kg21e0aor3s", "35mthgpgcu1qg68fab165klnsnk3dpvl", {kMx, kRrsig}},
      {"35mthgpgcu1qg68fab165klnsnk3dpvl", "b4um86eghhds6nea196smvmlo4ors995",
       {kNs, kDs, kRrsig}},                                                          // a.example
      {"b4um86eghhds6nea196smvmlo4ors995", "gjeqe526plbf1g8mklp59enfd789njgi", {kMx, kRrsig}},
      {"gjeqe526plbf1g8mklp59enfd789njgi", "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
       {kA, kHinfo, kAaaa, kRrsig}},                                                 // ai.example
      {"ji6neoaepv8b5o6k4ev33abha8ht9fgc", "k8udemvp1j2f7eg6jebps17vp3n8i58h", {}},  // y.w (ENT)
      {"k8udemvp1j2f7eg6jebps17vp3n8i58h", "kohar7mbb8dc2ce8a9qvl8hon4k53uhi", {}},  // w (ENT)
      {"kohar7mbb8dc2ce8a9qvl8hon4k53uhi", "q04jkcevqvmu85r014c7dkba38o0ji5r", {kA, kRrsig}},
      {"q04jkcevqvmu85r014c7dkba38o0ji5r", "r53bq7cc2uvmubfu5ocmm6pers9tk9en", {kA, kRrsig}},
      {"r53bq7cc2uvmubfu5ocmm6pers9tk9en", "t644ebqk9bibcna874givr6joj62mlhv", {kMx, kRrsig}},
      {"t644ebqk9bibcna874givr6joj62mlhv", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
       {kA, kHinfo, kAaaa, kRrsig}},                                                 // xx.example
  };
}

dns::Rrset rowRecord(const ChainRow& row, uint8_t flags) {
  Nsec3Fields fields;
  fields.flags = flags;
  return nsec3(decode(row.owner), decode(row.next), row.types, fields);
}

}  // namespace

const std::vector<uint8_t> kSalt = {0xaa, 0xbb, 0xcc, 0xdd};

dns::Name N(std::string_view text) {
  auto name = dns::Name::fromText(text);
  EXPECT_TRUE(name.ok()) << text;
  return name.ok() ? *name : dns::Name();
}

std::span<const uint8_t> asBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::vector<uint8_t> bitmap(Types types) {
  std::sort(types.begin(), types.end());
  std::vector<uint8_t> out;
  for (size_t i = 0; i < types.size();) {
    const auto window = static_cast<uint8_t>(types[i] >> 8);
    std::array<uint8_t, 32> bits{};
    size_t length = 0;
    for (; i < types.size() && (types[i] >> 8) == window; ++i) {
      const unsigned low = types[i] & 0xffu;
      bits[low / 8] = static_cast<uint8_t>(bits[low / 8] | (0x80u >> (low % 8)));
      length = std::max<size_t>(length, low / 8 + 1);
    }
    out.push_back(window);
    out.push_back(static_cast<uint8_t>(length));
    out.insert(out.end(), bits.begin(), bits.begin() + static_cast<std::ptrdiff_t>(length));
  }
  return out;
}

dns::Rrset rrset(const dns::Name& owner, uint16_t type, std::vector<uint8_t> rdata) {
  dns::Rrset set;
  set.owner = owner;
  set.type = type;
  set.ttl = 3600;
  set.rdatas.push_back(std::move(rdata));
  return set;
}

std::vector<uint8_t> nsecRdata(std::string_view next, const Types& types) {
  const dns::Name next_name = N(next);
  std::vector<uint8_t> rdata(next_name.wire().begin(), next_name.wire().end());
  const std::vector<uint8_t> map = bitmap(types);
  rdata.insert(rdata.end(), map.begin(), map.end());
  return rdata;
}

dns::Rrset nsec(std::string_view owner, std::string_view next, const Types& types) {
  return rrset(N(owner), kNsec, nsecRdata(next, types));
}

Rrsets rfc4035(std::initializer_list<std::string_view> owners) {
  const auto chain = rfc4035Rows();
  Rrsets out;
  for (std::string_view owner : owners) {
    const auto row = std::find_if(chain.begin(), chain.end(),
                                  [&](const auto& entry) { return entry.first == owner; });
    EXPECT_NE(row, chain.end()) << owner;
    if (row != chain.end()) out.push_back(row->second);
  }
  return out;
}

Rrsets rfc4035Chain() {
  Rrsets out;
  for (auto& [owner, record] : rfc4035Rows()) out.push_back(std::move(record));
  return out;
}

std::vector<uint8_t> decode(std::string_view base32hex) {
  const auto data = base32HexDecode(asBytes(base32hex));
  EXPECT_TRUE(data.has_value()) << base32hex;
  return data.value_or(std::vector<uint8_t>{});
}

std::vector<uint8_t> nsec3Rdata(const std::vector<uint8_t>& next_hash, const Types& types,
                                const Nsec3Fields& fields) {
  std::vector<uint8_t> rdata = {fields.algorithm, fields.flags,
                                static_cast<uint8_t>(fields.iterations >> 8),
                                static_cast<uint8_t>(fields.iterations & 0xff),
                                static_cast<uint8_t>(fields.salt.size())};
  rdata.insert(rdata.end(), fields.salt.begin(), fields.salt.end());
  rdata.push_back(static_cast<uint8_t>(next_hash.size()));
  rdata.insert(rdata.end(), next_hash.begin(), next_hash.end());
  const std::vector<uint8_t> map = bitmap(types);
  rdata.insert(rdata.end(), map.begin(), map.end());
  return rdata;
}

dns::Rrset nsec3(const std::vector<uint8_t>& owner_hash, const std::vector<uint8_t>& next_hash,
                 const Types& types, const Nsec3Fields& fields, std::string_view zone) {
  const std::string owner = base32HexEncode(owner_hash) + "." + std::string(zone);
  return rrset(N(owner), kNsec3, nsec3Rdata(next_hash, types, fields));
}

std::vector<uint8_t> hashOf(std::string_view name, uint16_t iterations) {
  return nsec3Hash(N(name), 1, iterations, kSalt);
}

std::vector<uint8_t> step(std::vector<uint8_t> hash, int delta) {
  for (size_t i = hash.size(); i-- > 0;) {
    const int value = hash[i] + delta;
    hash[i] = static_cast<uint8_t>(value & 0xff);
    if (value >= 0 && value <= 0xff) break;
  }
  return hash;
}

dns::Rrset coverOf(std::string_view name, const Nsec3Fields& fields) {
  const std::vector<uint8_t> hash = hashOf(name, fields.iterations);
  return nsec3(step(hash, -1), step(hash, 1), {kA}, fields);
}

dns::Rrset matchOf(std::string_view name, const Types& types, const Nsec3Fields& fields) {
  const std::vector<uint8_t> hash = hashOf(name, fields.iterations);
  return nsec3(hash, step(hash, 1), types, fields);
}

Rrsets rfc5155(std::initializer_list<std::string_view> prefixes, uint8_t flags) {
  Rrsets out;
  for (std::string_view prefix : prefixes) {
    for (const ChainRow& row : appendixA()) {
      if (row.owner.substr(0, prefix.size()) != prefix) continue;
      out.push_back(rowRecord(row, flags));
    }
  }
  EXPECT_EQ(out.size(), prefixes.size());
  return out;
}

Rrsets rfc5155Chain(uint8_t flags) {
  Rrsets out;
  for (const ChainRow& row : appendixA()) out.push_back(rowRecord(row, flags));
  return out;
}

}  // namespace shoal::dnssec::testing_util
