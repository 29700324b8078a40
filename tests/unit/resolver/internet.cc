#include "tests/unit/resolver/internet.h"

#include <string>

namespace shoal::resolver::testing_util {

namespace {

constexpr const char* kRoot = R"(
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

constexpr const char* kCom = R"(
@ 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ 172800 IN NS a.gtld-servers.net.
@ 172800 IN NS b.gtld-servers.net.
example 172800 IN NS ns1.example
example 172800 IN NS ns2.example
ns1.example 172800 IN A 192.0.2.21
ns2.example 172800 IN A 192.0.2.22
glueless 172800 IN NS ns1.example.net.
glueless 172800 IN NS ns2.example.net.
)";

constexpr const char* kNet = R"(
@ 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ 172800 IN NS a.gtld-servers.net.
@ 172800 IN NS b.gtld-servers.net.
a.gtld-servers 172800 IN A 192.0.2.11
b.gtld-servers 172800 IN A 192.0.2.12
a.root-servers 172800 IN A 192.0.2.1
b.root-servers 172800 IN A 192.0.2.2
example 172800 IN NS ns1.example
example 172800 IN NS ns2.example
ns1.example 172800 IN A 192.0.2.31
ns2.example 172800 IN A 192.0.2.32
victim 172800 IN NS ns.victim
ns.victim 172800 IN A 192.0.2.41
)";

constexpr const char* kExampleCom = R"(
@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
@ IN NS ns2
ns1 IN A 192.0.2.21
ns2 IN A 192.0.2.22
www 3600 IN A 192.0.2.80
www 3600 IN AAAA 2001:db8::80
mail 3600 IN A 192.0.2.25
alias IN CNAME www
alias2 IN CNAME alias
outside IN CNAME www.example.net.
dangling IN CNAME nothere
loop1 IN CNAME loop2
loop2 IN CNAME loop1
xloop IN CNAME xloop.example.net.
a.b.c IN A 192.0.2.90
dname IN DNAME example.net.
*.wild IN A 192.0.2.77
)";

constexpr const char* kExampleNet = R"(
@ 60 IN SOA ns1 hostmaster 1 7200 3600 1209600 3600
@ IN NS ns1
@ IN NS ns2
ns1 IN A 192.0.2.31
ns2 IN A 192.0.2.32
www 3600 IN A 192.0.2.81
xloop IN CNAME xloop.example.com.
)";

constexpr const char* kVictim = R"(
@ 3600 IN SOA ns hostmaster 1 7200 3600 1209600 300
@ IN NS ns
ns IN A 192.0.2.41
www 3600 IN A 192.0.2.99
)";

constexpr const char* kGlueless = R"(
@ 3600 IN SOA ns1.example.net. hostmaster 1 7200 3600 1209600 300
@ IN NS ns1.example.net.
@ IN NS ns2.example.net.
www 3600 IN A 192.0.2.60
)";

}  // namespace

void addStandardInternet(FakeNet& net) {
  net.addZone(".", kRoot, {kRootA, kRootB});
  net.addZone("com", kCom, {kGtldA, kGtldB});
  net.addZone("net", kNet, {kGtldA, kGtldB});
  std::string example_com = kExampleCom;
  for (int i = 1; i <= kBigRrsetSize; ++i) {
    example_com += "big 3600 IN A 10.0.0." + std::to_string(i) + "\n";
  }
  net.addZone("example.com", example_com, {kExampleCom1, kExampleCom2});
  net.addZone("example.net", kExampleNet, {kExampleNet1, kExampleNet2});
  net.addZone("victim.net", kVictim, {kVictimNet});
  net.addZone("glueless.com", kGlueless, {kExampleNet1, kExampleNet2});
}

}  // namespace shoal::resolver::testing_util
