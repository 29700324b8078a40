#pragma once
// The small DNS Internet most engine scenarios run against:
//
//   .             a.root-servers.net 192.0.2.1, b.root-servers.net 192.0.2.2
//   com, net      a.gtld-servers.net 192.0.2.11, b.gtld-servers.net 192.0.2.12
//   example.com   ns1/ns2.example.com 192.0.2.21, 192.0.2.22 (glue in com)
//   example.net   ns1/ns2.example.net 192.0.2.31, 192.0.2.32 (glue in net)
//   victim.net    ns.victim.net 192.0.2.41
//   glueless.com  ns1/ns2.example.net (no glue: another TLD)
//
// example.com holds www, an empty non-terminal path (a.b.c), CNAMEs (in
// zone, to example.net, dangling, loops), a DNAME to example.net, a
// wildcard and a large RRset. Its SOA has TTL 3600 and MINIMUM 300;
// example.net's has TTL 60 and MINIMUM 3600 (negative TTL tests).

#include "tests/unit/resolver/fake_net.h"

namespace shoal::resolver::testing_util {

inline constexpr const char* kRootA = "192.0.2.1";
inline constexpr const char* kRootB = "192.0.2.2";
inline constexpr const char* kGtldA = "192.0.2.11";
inline constexpr const char* kGtldB = "192.0.2.12";
inline constexpr const char* kExampleCom1 = "192.0.2.21";
inline constexpr const char* kExampleCom2 = "192.0.2.22";
inline constexpr const char* kExampleNet1 = "192.0.2.31";
inline constexpr const char* kExampleNet2 = "192.0.2.32";
inline constexpr const char* kVictimNet = "192.0.2.41";

/// Records in example.com's "big" RRset (over 512 octets in a response).
inline constexpr int kBigRrsetSize = 40;

/// Adds the zones above to `net`.
void addStandardInternet(FakeNet& net);

}  // namespace shoal::resolver::testing_util
