#pragma once
// The outcome of a resolution and the response built from it (slow path):
// answer RRsets (the CNAME chain first), the negative answer's SOA and
// proofs, an Extended DNS Error on failure. ResponseWriter does the
// writing, as for the hot path.

#include <cstdint>
#include <string>
#include <vector>

#include "dns/message.h"
#include "dnssec/verdict.h"
#include "resolver/response_writer.h"
#include "resolver/cache_format.h"

namespace shoal::resolver {

struct Outcome {
  uint16_t rcode = 0;
  /// The DNSSEC status of the whole answer (every link, the data or the
  /// negative answer): AD for secure (RFC 4035 section 3.2.3, RFC 6840
  /// section 5.7); bogus answers SERVFAIL with `ede_code`, except to CD
  /// clients, who get the data (RFC 4035 section 3.2.2).
  dnssec::Security security = dnssec::Security::kIndeterminate;
  std::vector<Rrset> answer;                  // in order
  std::vector<NegativeRecord> authority;      // SOA + proofs of a negative answer
  uint32_t negative_ttl = 0;
  /// The longest ECS scope of what the answer holds (RFC 7871 section
  /// 7.2.1: echoed to a client that sent ECS).
  uint8_t scope = 0;
  bool has_ede = false;
  uint16_t ede_code = 0;                      // RFC 8914 info code
  std::string ede_text;
};

/// The response packet. `our_udp_size` is advertised in our OPT. The
/// outcome's security decides AD and, for bogus data, SERVFAIL unless the
/// client set CD.
std::vector<uint8_t> buildResponse(const ClientRequest& request, const Outcome& outcome,
                                   uint16_t our_udp_size);

}  // namespace shoal::resolver
