#pragma once
// The one writer of client responses, for the hot path and the engine
// alike. It owns what every response must get right: the header flags (QR,
// RA, RD and CD echoed; AD only when earned and asked for, RFC 6840
// section 5.7), our OPT record (DO echoed, an Extended DNS Error), DNSSEC
// records only for clients that set DO (RFC 4035 section 3.2.1), and
// truncation (RFC 2181 section 9: a required RRset that does not fit
// empties the answer and sets TC). It writes into the caller's buffer and
// never allocates.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "resolver/ecs.h"

namespace shoal::resolver {

/// What the response needs to know about the client's query: read once, on
/// the hot path, and handed to the engine on a miss.
struct ClientRequest {
  uint16_t id = 0;
  uint16_t flags = 0;       // the query's flags (RD and CD are echoed)
  dns::Question question;   // as the client sent it (case preserved)
  bool edns = false;
  bool dnssec_ok = false;
  uint16_t udp_size = 512;  // the client's, clamped to [512, ours]
  bool tcp = false;
  /// EDNS Client Subnet: what the query means for ECS (set by the hot
  /// path from the query, its source address and the policy).
  ClientEcs ecs;
  /// edns-tcp-keepalive to send (RFC 7828): the idle timeout in units of
  /// 100 ms, for a TCP query that carried the option; none otherwise (and
  /// never over UDP, section 3.2.2).
  std::optional<uint16_t> tcp_keepalive;
  /// The COOKIE option of the response (RFC 7873 section 5.2): the
  /// client's cookie and a server cookie from us, when the query had one
  /// and cookies are on (set by the hot path).
  bool cookie = false;
  dns::Cookie cookie_out;

  bool checkingDisabled() const { return (flags & dns::flag::kCd) != 0; }
  /// The largest response the client takes.
  size_t sizeLimit() const { return tcp ? 65535 : udp_size; }
};

/// The request fields of a parsed query. `our_udp_size` clamps the
/// client's EDNS buffer size.
ClientRequest requestOf(const dns::Message& query, bool tcp, uint16_t our_udp_size);

/// An Extended DNS Error to attach (RFC 8914).
struct Ede {
  uint16_t code = 0;
  std::string_view text;
};

class ResponseWriter {
 public:
  /// Starts the response to `request` in `out` (at most the client's size
  /// limit): header, question, and our OPT if the client sent one, with
  /// `ede` if given.
  ResponseWriter(std::span<uint8_t> out, const ClientRequest& request, uint16_t our_udp_size,
                 const Ede* ede = nullptr);
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;

  /// False when not even the question and OPT fit (a tiny buffer).
  bool started() const { return started_; }
  /// Appends one record. RRSIG, NSEC and NSEC3 records are skipped for
  /// clients without DO, unless they asked for that type. False when it
  /// did not fit: the response will be truncated, later records are
  /// ignored.
  bool add(dns::Section section, const dns::Name& owner, uint16_t type, uint32_t ttl,
           std::span<const uint8_t> rdata) {
    if (truncated_ || !started_) return false;
    if (isDnssecRecord(type) && !request_.dnssec_ok && type != request_.question.type) return true;
    return addRecord(section, owner, type, ttl, rdata);
  }
  bool truncated() const { return truncated_; }
  /// Nothing more goes in: finish() sends the header, question and OPT
  /// with TC set (the rate limit's "slip", worker/query.cc).
  void truncate() { truncated_ = true; }
  /// The SCOPE PREFIX-LENGTH of the ECS option echoed to a client that
  /// sent one (RFC 7871 section 7.2.1); 0 until set.
  void setEcsScope(uint8_t scope) { edns_.options.setClientSubnetScope(scope); }
  /// Finishes with `rcode`; AD when `secure` and the client set DO or AD.
  /// Returns the length.
  size_t finish(uint16_t rcode, bool secure);

 private:
  static bool isDnssecRecord(uint16_t type) {
    return type == dns::rrtype::kRrsig || type == dns::rrtype::kNsec || type == dns::rrtype::kNsec3;
  }
  bool addRecord(dns::Section section, const dns::Name& owner, uint16_t type, uint32_t ttl,
                 std::span<const uint8_t> rdata);

  const ClientRequest& request_;
  dns::EdnsOut edns_;
  dns::MessageWriter writer_;
  dns::MessageWriter::Mark after_question_{};
  bool started_ = false;
  bool truncated_ = false;
};

/// A response to a query that cannot be answered normally (FORMERR,
/// NOTIMP, REFUSED, BADVERS): header, the question and an OPT when they
/// parsed. Works from the raw header when the packet did not parse
/// (`query` null). 0 when the packet is not worth an answer (too short, a
/// response).
size_t writeErrorResponse(std::span<const uint8_t> packet, const dns::Message* query,
                          uint16_t rcode, std::span<uint8_t> out);

}  // namespace shoal::resolver
