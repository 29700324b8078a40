#pragma once
// The zone transfer protocol without the network (RFC 5936): the query a
// client sends, and a reader that consumes the response messages one by one
// and yields the zone. Every message is validated by dns::Message::parse and
// checked against the query (ID, question, opcode, rcode); the transfer ends
// at the second SOA of the apex. Bounded: a source cannot make it hold more
// than `max_bytes` of records. The network side is transfer.h; IXFR, which
// shares the checks below, is ixfr.h.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"
#include "localroot/zone.h"

namespace shoal::localroot {

/// A query for (apex, type) class IN with `id`, RD clear, no EDNS: an AXFR
/// or the SOA query of a refresh (RFC 1996 section 3.11 style), in wire
/// form without the TCP length prefix.
std::vector<uint8_t> buildQuery(const dns::Name& apex, uint16_t type, uint16_t id);

/// The serial of the SOA of `apex` in `message`, the answer to the SOA
/// query `id`; an error text when the message is no such answer.
struct SerialAnswer {
  uint32_t serial = 0;
  std::string error;  // empty on success
};
SerialAnswer readSerialAnswer(std::span<const uint8_t> message, const dns::Name& apex,
                              uint16_t id);

/// The checks every message of a transfer passes: the reply to our query
/// `id` for (apex, qtype), opcode QUERY, NOERROR, not truncated; the
/// question required or not (RFC 5936 section 2.2.1: only the first
/// message must carry it). Returns an error text, empty when fine.
std::string checkTransferReply(const dns::Message& message, const dns::Name& apex, uint16_t qtype,
                               uint16_t id, bool question_required);

/// Appends the records of `message`'s answer section to `out`, rdata names
/// expanded; each must be of class IN and inside `apex`. Adds their size to
/// `bytes`. Returns an error text (nothing appended past the bad record).
std::string readTransferRecords(const dns::Message& message, const dns::Name& apex,
                                std::vector<dns::Record>& out, size_t& bytes);

/// The serial of an SOA record's rdata; nullopt when malformed.
std::optional<uint32_t> soaSerial(const dns::Record& soa);

class AxfrReader {
 public:
  /// The root zone is about 2 MB; a source sending far more is broken or
  /// hostile.
  static constexpr size_t kDefaultMaxBytes = size_t{256} << 20;

  AxfrReader(const dns::Name& apex, uint16_t id, size_t max_bytes = kDefaultMaxBytes);

  enum class Step : uint8_t { kMore, kDone, kError };
  /// Consumes the next response message (without its TCP length prefix).
  /// kError is final: error() says why.
  Step consume(std::span<const uint8_t> message);

  const std::string& error() const { return error_; }
  /// The zone, once consume() returned kDone (records moved out).
  ZoneData take();

 private:
  Step fail(std::string why);
  Step readAnswer(const dns::Message& message);

  dns::Name apex_;
  uint16_t id_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  size_t messages_ = 0;
  bool done_ = false;
  bool failed_ = false;
  uint32_t first_serial_ = 0;
  std::string error_;
  ZoneData zone_;
};

}  // namespace shoal::localroot
