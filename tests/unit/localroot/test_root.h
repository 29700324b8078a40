#pragma once
// A small signed root zone for the local root's tests, with a ZONEMD
// (RFC 8976, SIMPLE SHA-384) computed here, independently of ldns (which
// shoal uses to verify it): RRs in canonical order (RFC 4034 section 6),
// the apex ZONEMD RRset and its RRSIGs left out, hashed with OpenSSL.
//
// The zone: the apex (SOA, NS, DNSKEY, ZONEMD, NSEC), a signed delegation
// (com., with DS), an unsigned one (net., no DS; optionally many more
// between them), glue under net.
// (a.root-servers.net, a.gtld-servers.net), an occluded TXT below com.,
// and the NSEC chain . -> com. -> net. -> . One key (flags 257, ECDSA
// P-256) signs everything; its DS is the trust anchor.
//
// Test code: failures go through GoogleTest.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dns/zone_text.h"
#include "localroot/verify.h"
#include "tests/unit/dnssec/signer.h"

namespace shoal::localroot::testing_util {

inline constexpr int64_t kNow = 1'700'000'000;  // 2023-11-14 22:13:20 UTC
inline constexpr uint32_t kSerial = 2023111400;
inline constexpr uint32_t kDay = 86400;

struct RootOptions {
  uint32_t serial = kSerial;
  bool zonemd = true;
  uint32_t zonemd_serial = kSerial;  // what the ZONEMD says
  /// Signature validity (wall seconds; serial arithmetic in the rdata).
  uint32_t inception = static_cast<uint32_t>(kNow - kDay);
  uint32_t expiration = static_cast<uint32_t>(kNow + 30 * kDay);
  /// The ZONEMD's own signature window (defaults: the zone's).
  uint32_t zonemd_inception = 0;
  uint32_t zonemd_expiration = 0;
  /// More unsigned delegations d000. d001. ... between com. and net., each
  /// with its NSEC: a zone with many ranges.
  int extra_delegations = 0;
};

class TestRoot {
 public:
  static TestRoot make(const RootOptions& options = {});

  /// The zone as a transfer yields it (SOA first).
  ZoneData zone() const;
  /// The signing key's DS as a trust anchor.
  ApexAnchors anchors() const;
  std::vector<dns::Record>& records() { return records_; }
  const dnssec::testing_util::TestKey& key() const { return *key_; }

 private:
  std::unique_ptr<dnssec::testing_util::TestKey> key_;
  std::vector<dns::Record> records_;
};

/// The SIMPLE SHA-384 digest of `records` (RFC 8976 section 3), the apex
/// ZONEMD RRset and its RRSIGs excluded. Names must be lowercase.
std::vector<uint8_t> simpleSha384(const std::vector<dns::Record>& records, const dns::Name& apex);

/// Records from zone text (fails the test on a parse error).
std::vector<dns::Record> recordsOf(const std::string& text);

}  // namespace shoal::localroot::testing_util
