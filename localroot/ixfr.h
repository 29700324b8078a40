#pragma once
// Incremental zone transfer (IXFR, RFC 1995) without the network: the
// query, carrying the SOA of the version we hold, and a reader that
// consumes the response messages and yields the new version of the zone.
// The network side is transfer.h, which falls back to AXFR whenever this
// reader fails.
//
// A response is one of (RFC 1995 section 4):
//  - a single SOA whose serial is not newer than ours: we are up to date;
//  - the differences: the new SOA, then for each version step the old SOA,
//    the records deleted, the step's new SOA, the records added, and the
//    new SOA again at the end ("condensed" steps are just steps);
//  - the whole zone, AXFR style (the server keeps no history that far
//    back), which is taken as an AXFR.
// The differences are applied to a copy of the zone we hold, checked as
// they go: each step must start from the serial the previous one ended
// at, the first from ours; every record deleted must be in the zone; a
// record added that is already there (same owner, type and rdata) only
// takes the new TTL. The result is checked again like any transfer
// (verify.h: ZONEMD over the whole zone and DNSSEC) before it is used, so
// a wrong difference can at worst cost a full AXFR.
// Every message passes the checks of axfr.h (ID, question, rcode) and the
// same bound on size.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"
#include "localroot/axfr.h"
#include "localroot/zone.h"

namespace shoal::localroot {

/// An IXFR query for `current.apex` with `id`, RD clear, no EDNS, and the
/// SOA record of `current` (its first record) in the authority section
/// (RFC 1995 section 3). Without the TCP length prefix.
std::vector<uint8_t> buildIxfrQuery(const ZoneData& current, uint16_t id);

class IxfrReader {
 public:
  /// `current` is the zone we hold, its SOA first (as a transfer leaves
  /// it); it must outlive the reader.
  IxfrReader(const ZoneData& current, uint16_t id,
             size_t max_bytes = AxfrReader::kDefaultMaxBytes);

  enum class Step : uint8_t { kMore, kDone, kError };
  /// Consumes the next response message (without its TCP length prefix).
  /// kError is final: error() says why.
  Step consume(std::span<const uint8_t> message);
  const std::string& error() const { return error_; }

  /// What the response was, once consume() returned kDone.
  enum class Kind : uint8_t { kUpToDate, kIncremental, kFull };
  Kind kind() const { return kind_; }
  /// The new version (kIncremental, kFull), records moved out. kUpToDate:
  /// nothing (the zone we hold is current).
  ZoneData take();

  /// The server's serial (the first SOA of the response).
  uint32_t serial() const { return new_serial_; }
  /// kIncremental: the version steps applied and the records they deleted
  /// and added (SOAs included).
  size_t steps() const { return steps_; }
  size_t deleted() const { return deleted_; }
  size_t added() const { return added_; }

 private:
  enum class Phase : uint8_t { kFirst, kSecond, kFull, kDeleting, kAdding, kDone };

  Step fail(std::string why);
  /// One record of the response, in order; an error text or empty.
  std::string take(dns::Record record);
  std::string startIncremental();
  std::string remove(const dns::Record& record);
  void add(dns::Record record);
  bool tooLarge() const { return bytes_ > max_bytes_; }

  const ZoneData& current_;
  uint16_t id_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  size_t messages_ = 0;
  size_t records_ = 0;
  Phase phase_ = Phase::kFirst;
  Kind kind_ = Kind::kUpToDate;
  bool failed_ = false;
  std::string error_;
  uint32_t our_serial_ = 0;
  uint32_t new_serial_ = 0;
  uint32_t step_serial_ = 0;  // the serial the current step ends at
  size_t steps_ = 0;
  size_t deleted_ = 0;
  size_t added_ = 0;
  dns::Record first_soa_;
  // kFull: the records as they come; kIncremental: the zone being changed,
  // records indexed by owner (lower case), type, class and rdata, removed
  // ones left as holes (an empty owner never occurs: owners are at or
  // below the apex, and the root's is "."; holes have type 0).
  std::vector<dns::Record> records_out_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace shoal::localroot
