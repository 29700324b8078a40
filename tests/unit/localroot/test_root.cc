#include "tests/unit/localroot/test_root.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

#include "dns/constants.h"
#include "dns/wire_io.h"

namespace shoal::localroot::testing_util {

namespace {

using dnssec::testing_util::SignSpec;
using dnssec::testing_util::TestKey;

dns::Name root() { return dns::Name(); }

/// Authoritative data of the zone: what a signer signs (not the NS of a
/// delegation, not glue, not occluded data).
bool signedType(const dns::Rrset& rrset) {
  if (rrset.owner.isRoot()) return true;
  return rrset.type == dns::rrtype::kDs || rrset.type == dns::rrtype::kNsec;
}

void addSignature(std::vector<dns::Record>& records, const TestKey& key, const dns::Rrset& rrset,
                  uint32_t inception, uint32_t expiration) {
  SignSpec spec;
  spec.inception = inception;
  spec.expiration = expiration;
  records.push_back({rrset.owner, dns::rrtype::kRrsig, dns::rrclass::kIn, rrset.ttl,
                     key.sign(rrset, spec)});
}

}  // namespace

std::vector<dns::Record> recordsOf(const std::string& text) {
  auto parsed = dns::parseRecords(text);
  EXPECT_TRUE(parsed.ok()) << parsed.error;
  return parsed.records;
}

std::vector<uint8_t> simpleSha384(const std::vector<dns::Record>& records, const dns::Name& apex) {
  std::vector<const dns::Record*> chosen;
  for (const auto& r : records) {
    const bool apex_zonemd =
        r.owner == apex && (r.type == kZonemd ||
                            (r.type == dns::rrtype::kRrsig && typeCovered(r.rdata) == kZonemd));
    if (!apex_zonemd) chosen.push_back(&r);
  }
  // RFC 4034 section 6: owner (canonical order), type, then rdata as
  // left-justified octet strings.
  const auto less = [](const dns::Record* a, const dns::Record* b) {
    const int owner = a->owner.compareCanonical(b->owner);
    if (owner != 0) return owner < 0;
    if (a->type != b->type) return a->type < b->type;
    return std::lexicographical_compare(a->rdata.begin(), a->rdata.end(), b->rdata.begin(),
                                        b->rdata.end());
  };
  std::sort(chosen.begin(), chosen.end(), less);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha384(), nullptr);
  const dns::Record* previous = nullptr;
  for (const dns::Record* r : chosen) {
    if (previous != nullptr && !less(previous, r) && !less(r, previous)) continue;  // duplicate
    previous = r;
    uint8_t fixed[10];
    dns::store16(fixed, r->type);
    dns::store16(fixed + 2, r->rrclass);
    dns::store32(fixed + 4, r->ttl);
    dns::store16(fixed + 8, static_cast<uint16_t>(r->rdata.size()));
    EVP_DigestUpdate(ctx, r->owner.wire().data(), r->owner.length());
    EVP_DigestUpdate(ctx, fixed, sizeof fixed);
    EVP_DigestUpdate(ctx, r->rdata.data(), r->rdata.size());
  }
  std::vector<uint8_t> digest(48);
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &length);
  EVP_MD_CTX_free(ctx);
  EXPECT_EQ(length, 48u);
  return digest;
}

TestRoot TestRoot::make(const RootOptions& options) {
  TestRoot zone;
  zone.key_ = std::make_unique<TestKey>(TestKey::generate(13, root(), 257));
  const std::string serial = std::to_string(options.serial);
  std::string extra;
  std::string after_com = "net.";
  for (int i = options.extra_delegations - 1; i >= 0; --i) {
    char owner[16];
    std::snprintf(owner, sizeof owner, "d%03d.", i);
    extra += std::string(owner) + " 172800 IN NS a.gtld-servers.net.\n" + owner +
             " 86400 IN NSEC " + after_com + " NS RRSIG NSEC\n";
    after_com = owner;
  }
  zone.records_ = recordsOf(
      ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. " + serial +
      " 1800 900 604800 86400\n"
      ". 518400 IN NS a.root-servers.net.\n"
      "com. 172800 IN NS a.gtld-servers.net.\n"
      "com. 86400 IN DS 19718 13 2 "
      "8ACBB0CD28F41250A80A491389424D341522D946B0DA0C0291F2D3D771D7805A\n"
      "xyz.com. 3600 IN TXT \"occluded\"\n"
      "net. 172800 IN NS a.gtld-servers.net.\n"
      "a.gtld-servers.net. 172800 IN A 192.0.2.30\n"
      "a.gtld-servers.net. 172800 IN AAAA 2001:db8::30\n"
      "a.root-servers.net. 518400 IN A 198.41.0.4\n" +
      std::string(options.zonemd ? ". 86400 IN NSEC com. NS SOA RRSIG NSEC DNSKEY ZONEMD\n"
                                 : ". 86400 IN NSEC com. NS SOA RRSIG NSEC DNSKEY\n") +
      "com. 86400 IN NSEC " + after_com + " NS DS RRSIG NSEC\n" + extra +
      "net. 86400 IN NSEC . NS RRSIG NSEC\n");
  zone.records_.push_back(
      {root(), dns::rrtype::kDnskey, dns::rrclass::kIn, 86400, zone.key_->dnskey()});
  for (const auto& rrset : groupRrsets(zone.records_)) {
    if (signedType(rrset)) {
      addSignature(zone.records_, *zone.key_, rrset, options.inception, options.expiration);
    }
  }
  if (!options.zonemd) return zone;
  // RFC 8976 section 2.2: serial, scheme 1 (SIMPLE), hash 1 (SHA-384), digest.
  std::vector<uint8_t> rdata(6);
  dns::store32(rdata.data(), options.zonemd_serial);
  rdata[4] = 1;
  rdata[5] = 1;
  const auto digest = simpleSha384(zone.records_, root());
  rdata.insert(rdata.end(), digest.begin(), digest.end());
  zone.records_.push_back({root(), kZonemd, dns::rrclass::kIn, 86400, rdata});
  dns::Rrset zonemd{root(), kZonemd, 86400, 0, {rdata}, {}};
  addSignature(zone.records_, *zone.key_, zonemd,
               options.zonemd_inception ? options.zonemd_inception : options.inception,
               options.zonemd_expiration ? options.zonemd_expiration : options.expiration);
  return zone;
}

ZoneData TestRoot::zone() const { return {root(), records_, "192.0.2.53:53"}; }

ApexAnchors TestRoot::anchors() const { return {{key_->ds(2)}, {}}; }

}  // namespace shoal::localroot::testing_util
