#include "tests/unit/dnssec/signer.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <string>

#include "dns/constants.h"
#include "dns/ldns_ptr.h"
#include "dns/zone_text.h"

namespace shoal::dnssec::testing_util {

namespace {

constexpr size_t kRrsigFixed = 18;

struct FreeWire {
  void operator()(uint8_t* p) const { std::free(p); }  // ldns allocates with malloc
};

dns::LdnsRdf dnameRdf(const dns::Name& name) {
  return dns::LdnsRdf(ldns_dname_new_frm_data(static_cast<uint16_t>(name.length()),
                                              name.wire().data()));
}

/// The rdata of an ldns RR, from its uncompressed wire form.
std::vector<uint8_t> rdataOf(const ldns_rr* rr) {
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_rr2wire(&wire, rr, LDNS_SECTION_ANSWER, &size) != LDNS_STATUS_OK) {
    ADD_FAILURE() << "ldns_rr2wire failed";
    return {};
  }
  std::unique_ptr<uint8_t, FreeWire> owned(wire);
  const size_t header = ldns_rdf_size(ldns_rr_owner(rr)) + 10;
  if (size < header) return {};
  return {wire + header, wire + size};
}

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

size_t labelsWithoutWildcard(const dns::Name& owner) {
  const size_t count = owner.labelCount();
  const auto first = owner.label(0);
  return count > 0 && first.size() == 1 && first[0] == '*' ? count - 1 : count;
}

/// `rrset` as ldns RRs with TTL `ttl`, canonical (RFC 4034 section 6.2) and
/// in canonical order, the way ldns_sign_public prepares an RRset.
dns::LdnsRrList canonicalList(const dns::Rrset& rrset, uint32_t ttl) {
  dns::LdnsRrList list(ldns_rr_list_new());
  for (const auto& rdata : rrset.rdatas) {
    std::vector<uint8_t> wire(rrset.owner.wire().begin(), rrset.owner.wire().end());
    put16(wire, rrset.type);
    put16(wire, dns::rrclass::kIn);
    put32(wire, ttl);
    put16(wire, static_cast<uint16_t>(rdata.size()));
    wire.insert(wire.end(), rdata.begin(), rdata.end());
    ldns_rr* rr = nullptr;
    size_t pos = 0;
    if (ldns_wire2rr(&rr, wire.data(), wire.size(), &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK) {
      ADD_FAILURE() << "ldns cannot parse an rdata of " << rrset.owner.toText();
      continue;
    }
    ldns_rr2canonical(rr);
    ldns_rr_list_push_rr(list.get(), rr);
  }
  ldns_rr_list_sort(list.get());
  return list;
}

}  // namespace

void LdnsKeyFree::operator()(ldns_struct_key* key) const { ldns_key_deep_free(key); }

dns::Name name(std::string_view text) {
  auto parsed = dns::Name::fromText(text);
  if (!parsed) {
    ADD_FAILURE() << "bad name " << text;
    return dns::Name();
  }
  return *parsed;
}

dns::Rrset makeRrset(std::string_view zone_text) {
  const dns::RecordsParse parsed = dns::parseRecords(zone_text);
  dns::Rrset rrset;
  if (!parsed.ok() || parsed.records.empty()) {
    ADD_FAILURE() << "cannot parse records: " << parsed.error << "\n" << zone_text;
    return rrset;
  }
  rrset.owner = parsed.records.front().owner;
  rrset.type = parsed.records.front().type;
  rrset.ttl = parsed.records.front().ttl;
  for (const dns::Record& record : parsed.records) {
    if (record.type == dns::rrtype::kRrsig) {
      rrset.sigs.push_back(record.rdata);
      continue;
    }
    if (!(record.owner == rrset.owner) || record.type != rrset.type) {
      ADD_FAILURE() << "records of more than one RRset: " << zone_text;
    }
    rrset.rdatas.push_back(record.rdata);
  }
  return rrset;
}

TestKey TestKey::generate(uint8_t algorithm, const dns::Name& owner, uint16_t flags,
                          uint16_t rsa_bits) {
  ldns_key* key =
      ldns_key_new_frm_algorithm(static_cast<ldns_signing_algorithm>(algorithm), rsa_bits);
  if (key == nullptr) ADD_FAILURE() << "ldns cannot generate a key of algorithm " << int{algorithm};
  return fromLdns(key, algorithm, owner, flags);
}

TestKey TestKey::generateRsa(uint8_t algorithm, const dns::Name& owner, uint16_t flags,
                             uint16_t bits, std::span<const uint8_t> exponent) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), &EVP_PKEY_CTX_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> e(
      BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr), &BN_free);
  EVP_PKEY* pkey = nullptr;
  if (!ctx || !e || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &pkey) != 1) {
    ADD_FAILURE() << "OpenSSL cannot generate the RSA key";
    return fromLdns(nullptr, algorithm, owner, flags);
  }
  ldns_key* key = ldns_key_new();
  ldns_key_set_algorithm(key, static_cast<ldns_signing_algorithm>(algorithm));
  ldns_key_set_evp_key(key, pkey);  // owned by the ldns_key now
  return fromLdns(key, algorithm, owner, flags);
}

TestKey TestKey::fromLdns(ldns_struct_key* ldns, uint8_t algorithm, const dns::Name& owner,
                          uint16_t flags) {
  TestKey key;
  key.key_.reset(ldns);
  key.owner_ = owner;
  key.owner_.toLowerCase();
  key.algorithm_ = algorithm;
  key.flags_ = flags;
  if (!key.key_) return key;
  ldns_key_set_pubkey_owner(key.key_.get(), dnameRdf(key.owner_).release());
  ldns_key_set_flags(key.key_.get(), flags);
  const dns::LdnsRr rr(ldns_key2rr(key.key_.get()));
  if (!rr) {
    ADD_FAILURE() << "ldns_key2rr failed for algorithm " << int{algorithm};
    return key;
  }
  key.dnskey_ = rdataOf(rr.get());
  key.tag_ = ldns_calc_keytag(rr.get());
  ldns_key_set_keytag(key.key_.get(), key.tag_);
  return key;
}

std::vector<uint8_t> TestKey::ds(uint8_t digest_type) const {
  const dns::LdnsRr rr(ldns_key2rr(key_.get()));
  if (!rr) return {};
  const dns::LdnsRr ds(ldns_key_rr2ds(rr.get(), static_cast<ldns_hash>(digest_type)));
  if (!ds) {
    ADD_FAILURE() << "ldns_key_rr2ds failed for digest type " << int{digest_type};
    return {};
  }
  return rdataOf(ds.get());
}

std::vector<uint8_t> TestKey::signData(std::span<const uint8_t> data) const {
  dns::LdnsBuffer buffer(ldns_buffer_new(data.size() + 1));
  ldns_buffer_write(buffer.get(), data.data(), data.size());
  const dns::LdnsRdf sig(ldns_sign_public_buffer(buffer.get(), key_.get()));
  if (!sig) {
    ADD_FAILURE() << "ldns cannot sign with algorithm " << int{algorithm_};
    return {};
  }
  const uint8_t* octets = ldns_rdf_data(sig.get());
  return {octets, octets + ldns_rdf_size(sig.get())};
}

std::vector<uint8_t> TestKey::sign(const dns::Rrset& rrset, const SignSpec& spec) const {
  const dns::Name signer = spec.signer.value_or(owner_);
  const uint32_t original_ttl = spec.original_ttl.value_or(rrset.ttl);
  // RFC 4034 section 3.1: the RRSIG rdata before the signature.
  std::vector<uint8_t> rdata;
  put16(rdata, spec.type_covered.value_or(rrset.type));
  rdata.push_back(spec.algorithm.value_or(algorithm_));
  rdata.push_back(spec.labels.value_or(static_cast<uint8_t>(labelsWithoutWildcard(rrset.owner))));
  put32(rdata, original_ttl);
  put32(rdata, spec.expiration);
  put32(rdata, spec.inception);
  put16(rdata, spec.key_tag.value_or(tag_));

  // Signed data (RFC 4034 section 3.1.8.1): the fields with the signer in
  // canonical form, then the RRset as ldns canonicalises and orders it.
  dns::Name canonical_signer = signer;
  canonical_signer.toLowerCase();
  std::vector<uint8_t> prefix(rdata.begin(), rdata.begin() + kRrsigFixed);
  prefix.insert(prefix.end(), canonical_signer.wire().begin(), canonical_signer.wire().end());
  dns::LdnsBuffer buffer(ldns_buffer_new(LDNS_MAX_PACKETLEN));
  ldns_buffer_write(buffer.get(), prefix.data(), prefix.size());
  const dns::LdnsRrList list = canonicalList(rrset, original_ttl);
  if (ldns_rr_list2buffer_wire(buffer.get(), list.get()) != LDNS_STATUS_OK) {
    ADD_FAILURE() << "ldns_rr_list2buffer_wire failed";
    return {};
  }
  const dns::LdnsRdf sig(ldns_sign_public_buffer(buffer.get(), key_.get()));
  if (!sig) {
    ADD_FAILURE() << "ldns cannot sign with algorithm " << int{algorithm_};
    return {};
  }
  rdata.insert(rdata.end(), signer.wire().begin(), signer.wire().end());
  const uint8_t* octets = ldns_rdf_data(sig.get());
  rdata.insert(rdata.end(), octets, octets + ldns_rdf_size(sig.get()));
  return rdata;
}

void signInto(dns::Rrset& rrset, std::span<const TestKey* const> keys, const SignSpec& spec) {
  for (const TestKey* key : keys) rrset.sigs.push_back(key->sign(rrset, spec));
}

void flipLastOctet(std::vector<uint8_t>& rdata) {
  if (rdata.empty()) {
    ADD_FAILURE() << "nothing to flip";
    return;
  }
  rdata.back() ^= 0x01;
}

std::vector<std::vector<uint8_t>> collidingKeys(const std::vector<uint8_t>& dnskey,
                                                size_t count) {
  std::vector<std::vector<uint8_t>> out;
  // Even rdata offsets in the public key; for a long (RSA) key only its back
  // half, the modulus, so that every copy parses as a key of the same size.
  std::vector<size_t> even;
  const size_t key_size = dnskey.size() < 4 ? 0 : dnskey.size() - 4;
  for (size_t i = 4 + (key_size > 64 ? key_size / 2 : 0); i < dnskey.size(); ++i) {
    if (i % 2 == 0) even.push_back(i);
  }
  // Copy n raises the octet at even[a] by one and lowers the one at
  // even[b]: a distinct (a, b) pair per copy, same sum.
  for (size_t a = 0; a < even.size() && out.size() < count; ++a) {
    for (size_t b = 0; b < even.size() && out.size() < count; ++b) {
      if (a == b || dnskey[even[a]] == 0xFF || dnskey[even[b]] == 0x00) continue;
      std::vector<uint8_t> copy = dnskey;
      ++copy[even[a]];
      --copy[even[b]];
      out.push_back(std::move(copy));
    }
  }
  if (out.size() < count) ADD_FAILURE() << "public key too short for " << count << " copies";
  return out;
}

}  // namespace shoal::dnssec::testing_util
