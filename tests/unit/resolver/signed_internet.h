#pragma once
// The signed DNS Internet of the DNSSEC engine scenarios
// (engine_dnssec_test.cc), built afresh (new keys) for each test:
//
//   .            signed (NSEC), DS for com and net
//   com          signed (NSEC): secure (DS), insecure (no DS), badsig,
//                expired, wrongds, keytrap, stripped, nokey (all with DS)
//   net          signed (NSEC3, opt-out): secure (DS), optout (no DS, not
//                in the chain)
//   secure.com   signed (NSEC): www, mail, alias, a.b.c, *.wild, CNAMEs to
//                insecure.com, secure.net and badsig.com, a DNAME to
//                secure.net
//   secure.net   signed with Ed25519 (NSEC3, salt, 2 iterations): www, *.wild
//   insecure.com (with a CNAME to secure.com), optout.net: unsigned
//   badsig.com   www's RRSIG corrupted; expired.com: www's RRSIG expired
//   wrongds.com  the DS in com is of a key the zone does not have
//   keytrap.com  25 DNSKEYs sharing the ZSK's tag, www with 24 bad RRSIGs
//   stripped.com DNSKEYs kept, every RRSIG stripped
//   nokey.com    served unsigned (no DNSKEY at all)
//
// Servers: the root and the TLDs as in internet.h; secure.com 192.0.2.21,
// insecure.com .23, stripped.com .24, badsig.com .25, expired.com .26,
// wrongds.com .27, keytrap.com .28, nokey.com .29, secure.net .31,
// optout.net .33. Signatures are valid from an hour before kStartS for 30
// days.

#include "resolver/roots.h"
#include "tests/unit/resolver/fake_net.h"

namespace shoal::resolver::testing_util {

inline constexpr const char* kSecureCom = "192.0.2.21";
inline constexpr const char* kInsecureCom = "192.0.2.23";
inline constexpr const char* kBadsigCom = "192.0.2.25";
inline constexpr const char* kSecureNet = "192.0.2.31";

/// The trust anchors a test may configure.
struct SignedInternet {
  TrustAnchor root_ds;
  TrustAnchor root_dnskey;
  TrustAnchor secure_com_ds;  // an island of security (no root anchor)
};

/// Adds the zones above to `net` (the test fails if signing fails).
SignedInternet addSignedInternet(FakeNet& net);

}  // namespace shoal::resolver::testing_util
