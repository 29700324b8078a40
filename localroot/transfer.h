#pragma once
// The network side of the local root: the SOA query of a refresh and the
// zone transfer (AXFR, RFC 5936; IXFR, RFC 1995), both over TCP, blocking, with a timeout
// on the connection and on every read and a deadline for the whole
// exchange. Run by the local-root process (supervisor/local_root.cc), never
// by the supervisor's loop or a worker.
//
// Why a client of our own on top of dns/ rather than ldns_axfr_start and
// ldns_axfr_next (libldns 1.8.3):
//  - ldns closes the socket when a transfer ends or fails but keeps the
//    descriptor number in the resolver, and ldns_resolver_deep_free closes
//    it again: a second close(2) of a number the process may have reused;
//  - it has a timeout per read only: a source sending a message every few
//    seconds holds the transfer forever; there is no bound on its size;
//  - it does not check the reply's ID or question, and reports a failure
//    as a null record (and a line on stderr), with no reason to log.
// The wire checks live in axfr.h and ixfr.h (sans-I/O, unit-tested); this
// file only moves octets.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "base/ip_address.h"
#include "base/ip_prefix.h"
#include "dns/name.h"
#include "localroot/axfr.h"
#include "localroot/ixfr.h"
#include "localroot/zone.h"

namespace shoal::localroot {

struct TransferOptions {
  /// Connecting, and each read or write, must progress within this.
  int timeout_ms = 5000;
  /// The whole exchange (a transfer of the root zone takes seconds).
  int deadline_ms = 600'000;
  /// Source addresses to bind (resolver.outgoing_addresses); unset: the
  /// kernel chooses.
  std::optional<base::IpAddress> source_v4;
  std::optional<base::IpAddress> source_v6;
  size_t max_bytes = AxfrReader::kDefaultMaxBytes;
};

struct SerialResult {
  std::optional<uint32_t> serial;
  std::string error;  // set when serial is not
};

struct TransferResult {
  std::optional<ZoneData> zone;
  std::string error;  // set when zone is not
  /// How the zone came, for the log: "AXFR", "IXFR (1 step, 6 records
  /// deleted, 6 added)", "IXFR answered with the whole zone", "AXFR
  /// (IXFR failed: why)".
  std::string method;
  /// The zone was built by applying differences to the one held (a failed
  /// verification is then worth a full transfer).
  bool incremental = false;
};

/// Asks `server` for the SOA serial of `apex` (one query over TCP).
SerialResult querySerial(const base::SocketAddress& server, const dns::Name& apex,
                         const TransferOptions& options);

/// Transfers `apex` from `server`: with `current` (the version held, its
/// SOA first), IXFR over TCP, and AXFR over a new connection if that
/// fails (the server refuses IXFR, or its differences do not apply); a
/// server whose IXFR says `current` is up to date gives an error, not a
/// zone. Without `current`, AXFR.
TransferResult transferZone(const base::SocketAddress& server, const dns::Name& apex,
                            const TransferOptions& options, const ZoneData* current = nullptr);

}  // namespace shoal::localroot
