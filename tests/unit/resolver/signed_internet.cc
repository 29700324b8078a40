#include "tests/unit/resolver/signed_internet.h"

#include <string>
#include <utility>

#include "dns/constants.h"
#include "tests/unit/resolver/internet.h"
#include "tests/unit/resolver/signed_zone.h"

namespace shoal::resolver::testing_util {

namespace {

constexpr const char* kRootText = R"(
@ 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ 518400 IN NS a.root-servers.net.
@ 518400 IN NS b.root-servers.net.
a.root-servers.net. 518400 IN A 192.0.2.1
b.root-servers.net. 518400 IN A 192.0.2.2
com. 172800 IN NS a.gtld-servers.net.
com. 172800 IN NS b.gtld-servers.net.
net. 172800 IN NS a.gtld-servers.net.
net. 172800 IN NS b.gtld-servers.net.
a.gtld-servers.net. 172800 IN A 192.0.2.11
b.gtld-servers.net. 172800 IN A 192.0.2.12
)";

constexpr const char* kComText = R"(
@ 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ 172800 IN NS a.gtld-servers.net.
@ 172800 IN NS b.gtld-servers.net.
secure 172800 IN NS ns1.secure
ns1.secure 172800 IN A 192.0.2.21
insecure 172800 IN NS ns1.insecure
ns1.insecure 172800 IN A 192.0.2.23
stripped 172800 IN NS ns1.stripped
ns1.stripped 172800 IN A 192.0.2.24
badsig 172800 IN NS ns1.badsig
ns1.badsig 172800 IN A 192.0.2.25
expired 172800 IN NS ns1.expired
ns1.expired 172800 IN A 192.0.2.26
wrongds 172800 IN NS ns1.wrongds
ns1.wrongds 172800 IN A 192.0.2.27
keytrap 172800 IN NS ns1.keytrap
ns1.keytrap 172800 IN A 192.0.2.28
nokey 172800 IN NS ns1.nokey
ns1.nokey 172800 IN A 192.0.2.29
)";

constexpr const char* kNetText = R"(
@ 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ 172800 IN NS a.gtld-servers.net.
@ 172800 IN NS b.gtld-servers.net.
a.gtld-servers 172800 IN A 192.0.2.11
b.gtld-servers 172800 IN A 192.0.2.12
a.root-servers 172800 IN A 192.0.2.1
b.root-servers 172800 IN A 192.0.2.2
secure 172800 IN NS ns1.secure
ns1.secure 172800 IN A 192.0.2.31
optout 172800 IN NS ns1.optout
ns1.optout 172800 IN A 192.0.2.33
)";

constexpr const char* kSecureComText = R"(
@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.21
www IN A 192.0.2.80
www IN AAAA 2001:db8::80
mail IN A 192.0.2.25
alias IN CNAME www
dname IN DNAME secure.net.
to-insecure IN CNAME www.insecure.com.
to-net IN CNAME www.secure.net.
to-badsig IN CNAME www.badsig.com.
a.b.c IN A 192.0.2.90
*.wild IN A 192.0.2.77
)";

constexpr const char* kSecureNetText = R"(
@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.31
www IN A 192.0.2.81
*.wild IN A 192.0.2.78
)";

/// A small signed zone served at `ns_address` ("www" at `www_address`).
std::string leafText(const char* ns_address, const char* www_address) {
  return std::string("@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\n") +
         "ns1 IN A " + ns_address + "\nwww IN A " + www_address + "\n";
}

}  // namespace

SignedInternet addSignedInternet(FakeNet& net) {
  using dns::rrtype::kA;
  std::string com = kComText;
  std::string net_tld = kNetText;

  SignedZone secure_com = SignedZone::sign("secure.com", kSecureComText);
  com += secure_com.dsText() + "\n";
  TrustAnchor secure_com_ds = secure_com.dsAnchor();
  net.addZone("secure.com", secure_com.records(), {kSecureCom});

  net.addZone("insecure.com",
              leafText(kInsecureCom, "192.0.2.82") + "to-secure IN CNAME www.secure.com.\n",
              {kInsecureCom});
  net.addZone("optout.net", leafText("192.0.2.33", "192.0.2.83"), {"192.0.2.33"});

  SignedZone stripped = SignedZone::sign("stripped.com", leafText("192.0.2.24", "192.0.2.84"));
  com += stripped.dsText() + "\n";
  stripped.stripSignatures();
  net.addZone("stripped.com", stripped.records(), {"192.0.2.24"});

  SignedZone badsig = SignedZone::sign("badsig.com", leafText(kBadsigCom, "192.0.2.85"));
  badsig.corruptSignatures("www", kA);
  com += badsig.dsText() + "\n";
  net.addZone("badsig.com", badsig.records(), {kBadsigCom});

  SignedZone expired = SignedZone::sign("expired.com", leafText("192.0.2.26", "192.0.2.86"));
  expired.resign("www", kA, Window{static_cast<uint32_t>(kStartS - 40 * 86400),
                                   static_cast<uint32_t>(kStartS - 86400)});
  com += expired.dsText() + "\n";
  net.addZone("expired.com", expired.records(), {"192.0.2.26"});

  // The DS in com is of a key that wrongds.com does not publish.
  SignedZone wrongds = SignedZone::sign("wrongds.com", leafText("192.0.2.27", "192.0.2.87"));
  SignedZone other_key = SignedZone::sign("wrongds.com", leafText("192.0.2.27", "192.0.2.87"));
  com += other_key.dsText() + "\n";
  net.addZone("wrongds.com", wrongds.records(), {"192.0.2.27"});

  // KeyTrap (CVE-2023-50387): 24 more DNSKEYs with the ZSK's tag, and www
  // signed 24 times with that tag, every signature broken.
  SignOptions trap_options;
  trap_options.separate_zsk = true;
  SignedZone keytrap =
      SignedZone::sign("keytrap.com", leafText("192.0.2.28", "192.0.2.88"), trap_options);
  keytrap.addDnskeys(dnssec::testing_util::collidingKeys(keytrap.zsk().dnskey(), 24));
  {
    auto& records = keytrap.records();
    const dns::Name www = *dns::Name::fromText("www.keytrap.com");
    std::erase_if(records, [&](const dns::Record& r) {
      return r.type == dns::rrtype::kRrsig && r.owner == www && typeCovered(r.rdata) == kA;
    });
    for (int i = 0; i < 24; ++i) {
      auto sig = keytrap.signatureOver("www", kA, Window{});
      dnssec::testing_util::flipLastOctet(sig);
      records.push_back({www, dns::rrtype::kRrsig, dns::rrclass::kIn, 3600, std::move(sig)});
    }
  }
  com += keytrap.dsText() + "\n";
  net.addZone("keytrap.com", keytrap.records(), {"192.0.2.28"});

  // A DS in com, but the zone is served unsigned: no DNSKEY at all.
  SignedZone nokey = SignedZone::sign("nokey.com", leafText("192.0.2.29", "192.0.2.89"));
  com += nokey.dsText() + "\n";
  nokey.unsign();
  net.addZone("nokey.com", nokey.records(), {"192.0.2.29"});

  SignOptions nsec3;
  nsec3.algorithm = 15;  // Ed25519
  nsec3.denial = DenialKind::kNsec3;
  nsec3.nsec3_iterations = 2;
  nsec3.nsec3_salt = {0xbe, 0xef};
  SignedZone secure_net = SignedZone::sign("secure.net", kSecureNetText, nsec3);
  net_tld += secure_net.dsText() + "\n";
  net.addZone("secure.net", secure_net.records(), {kSecureNet});

  SignedZone com_zone = SignedZone::sign("com", com);
  net.addZone("com", com_zone.records(), {kGtldA, kGtldB});
  SignOptions optout;
  optout.denial = DenialKind::kNsec3OptOut;
  optout.nsec3_iterations = 1;
  optout.nsec3_salt = {0xaa, 0xbb};
  SignedZone net_zone = SignedZone::sign("net", net_tld, optout);
  net.addZone("net", net_zone.records(), {kGtldA, kGtldB});

  std::string root = kRootText;
  root += com_zone.dsText() + "\n" + net_zone.dsText() + "\n";
  SignedZone root_zone = SignedZone::sign(".", root);
  net.addZone(".", root_zone.records(), {kRootA, kRootB});
  return {root_zone.dsAnchor(), root_zone.dnskeyAnchor(), std::move(secure_com_ds)};
}

}  // namespace shoal::resolver::testing_util
