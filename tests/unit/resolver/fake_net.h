#pragma once
// A fake DNS Internet for the resolver's scenario tests: authoritative zones
// given as zone text, each served by one or more (documentation) addresses,
// and an authoritative server good enough to iterate against: referrals
// with glue, answers, CNAME chasing inside a zone, wildcards, DNAME, NODATA
// and NXDOMAIN with the SOA, REFUSED outside its zones, truncation.
//
// A signed zone (signed_zone.h) is served the DNSSEC way to queries with
// DO: RRSIGs with every RRset, NSEC/NSEC3 proofs with negative answers,
// wildcard expansions and delegations without DS (RFC 4035 section 3.1).
//
// Every server can misbehave on purpose (the knobs of Behavior): truncate
// every UDP answer, lose packets, be slow, refuse, refer upwards (lame),
// answer FORMERR to EDNS, answer NXDOMAIN for empty non-terminals, add
// out-of-bailiwick records, do DNS cookies (and refuse them with
// BADCOOKIE), or have its replies rewritten by a hook.
//
// Nothing here touches a socket: the scenario driver (scenario.h) hands
// each upstream packet to transmit() and schedules what comes back.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "dns/name.h"
#include "dns/zone_text.h"
#include "resolver/roots.h"

namespace shoal::resolver::testing_util {

enum class Proof : uint8_t;  // signed_zone.h

/// Parses "192.0.2.1" / "2001:db8::1" (the test fails on a typo).
base::IpAddress Ip(std::string_view text);

/// One packet coming back from a server, `delay_ms` after it was sent.
struct Delivery {
  int64_t delay_ms = 0;
  std::vector<uint8_t> packet;
  bool error = false;  // not a packet: the send failed (ICMP unreachable, RST)
};

/// How a server (one address) behaves. Defaults: a well-behaved server
/// 10 ms away.
struct Behavior {
  int64_t latency_ms = 10;        // one way and back, UDP; TCP takes twice that
  bool udp_always_truncated = false;  // like Knot's mod-noudp
  int drop_percent = 0;           // lose this share of packets (seeded)
  int drop_next = 0;              // lose the next K packets
  bool dead = false;              // lose everything
  bool unreachable = false;       // every send fails at once (port unreachable)
  bool refused = false;           // REFUSED to everything
  int servfail_next = 0;          // SERVFAIL to the next K queries (a zone loading)
  bool upward_referral = false;   // lame: refers to the root instead of answering
  bool formerr_on_edns = false;   // FORMERR to queries with an OPT record
  bool nxdomain_for_ent = false;  // NXDOMAIN for empty non-terminals (broken)
  /// DNS cookies (RFC 7873 section 5.2): a query's COOKIE option is
  /// answered with its client cookie and `server_cookie` (the client
  /// cookie alone when empty, as a broken server would). Off: the option
  /// is ignored, as by a server without cookies.
  bool cookies = false;
  std::vector<uint8_t> server_cookie;
  /// With `cookies`: BADCOOKIE (with the cookie above) to the next K
  /// queries that carry a COOKIE option.
  int badcookie_next = 0;
  /// Records appended to the answer section of every answer.
  std::vector<dns::Record> extra_answer;
  /// Records appended to the additional section of every answer (e.g. an
  /// out-of-bailiwick poisoning attempt).
  std::vector<dns::Record> extra_additional;
  /// Rewrites what goes back for one query (insert spoofs before the real
  /// reply, replace it by garbage...). Replies are delivered in order.
  std::function<void(std::span<const uint8_t> query, std::vector<Delivery>& replies)> tamper;
};

class FakeNet {
 public:
  explicit FakeNet(uint64_t seed = 7) : rng_(seed) {}

  /// Adds the zone `origin` from zone text (relative names are relative to
  /// `origin`; default TTL 3600), served by `servers`. The test fails if the
  /// text does not parse or has no SOA at the apex.
  void addZone(std::string_view origin, std::string_view text,
               const std::vector<std::string>& servers);
  /// Adds the zone `origin` from records (a signed zone, signed_zone.h).
  /// A zone holding RRSIGs is served as a signed zone: to queries with DO,
  /// RRsets come with their RRSIGs, and negative answers, wildcard answers
  /// and referrals without DS with their NSEC/NSEC3 proofs.
  void addZone(std::string_view origin, std::vector<dns::Record> records,
               const std::vector<std::string>& servers);

  /// Adds records to the zone `origin` added before (a delegation in a TLD,
  /// say).
  void addToZone(std::string_view origin, std::string_view text);

  /// The behaviour of one server address (created on first use).
  Behavior& server(std::string_view address);
  Behavior& server(const base::IpAddress& address);

  /// Root hints for the engine: the root zone's NS names and their
  /// addresses from the root zone's glue.
  RootHints rootHints() const;

  /// What an authoritative server at `server` answers to `query`, ignoring
  /// loss, latency and the tamper hook (but applying the other knobs).
  /// nullopt when it would not answer at all (unparsable query, a response).
  std::optional<std::vector<uint8_t>> answer(const base::IpAddress& server,
                                             std::span<const uint8_t> query, bool tcp = false);

  /// One packet sent to `server`: counts it, applies loss, latency and the
  /// tamper hook. Empty when nothing comes back.
  std::vector<Delivery> transmit(const base::IpAddress& server, std::span<const uint8_t> query,
                                 bool tcp);

  /// Packets `server` received (including lost ones).
  uint64_t received(const base::IpAddress& server) const;
  uint64_t received(std::string_view server) const { return received(Ip(server)); }

  /// The first server of `group` to receive a packet gets `change` applied
  /// to its behaviour (before answering). Lets a test say "whichever server
  /// the resolver tries first is down" without depending on its selection
  /// order.
  void onFirstContact(std::vector<std::string> group, std::function<void(Behavior&)> change);
  void deadOnFirstContact(std::vector<std::string> group) {
    onFirstContact(std::move(group), [](Behavior& b) { b.dead = true; });
  }

 private:
  struct Zone {
    dns::Name apex;
    std::vector<dns::Record> records;
    std::vector<base::IpAddress> servers;
    bool is_signed = false;  // holds RRSIGs
  };
  struct Response;

  const Zone* findZone(const base::IpAddress& server, const dns::Name& qname) const;
  void lookup(const Zone& zone, const dns::Name& qname, uint16_t qtype, const Behavior& behavior,
              Response& response, int depth) const;
  void referral(const Zone& zone, const dns::Name& cut, Response& response) const;
  void addGlue(const Zone& zone, const std::vector<dns::Record>& ns, Response& response) const;
  std::vector<dns::Record> rrset(const Zone& zone, const dns::Name& owner, uint16_t type) const;
  bool hasAny(const Zone& zone, const dns::Name& owner) const;
  bool hasDescendant(const Zone& zone, const dns::Name& name) const;
  dns::Record soa(const Zone& zone) const;
  /// The SOA for a negative answer, with its RRSIGs and the NSEC/NSEC3
  /// proof when the response carries DNSSEC records.
  void addNegative(const Zone& zone, const dns::Name& qname, Proof proof,
                   const dns::Name& encloser, Response& response) const;
  /// The RRSIGs of (owner, type) as records owned by `as`, when the
  /// response carries DNSSEC records.
  void addSignatures(const Zone& zone, const dns::Name& owner, uint16_t type,
                     const dns::Name& as, std::vector<dns::Record>& section,
                     const Response& response) const;

  std::vector<Zone> zones_;
  std::map<std::vector<uint8_t>, Behavior> behaviors_;  // by address bytes + family
  std::map<std::vector<uint8_t>, uint64_t> received_;
  std::vector<std::vector<uint8_t>> first_contact_group_;
  std::function<void(Behavior&)> first_contact_change_;
  std::mt19937_64 rng_;
};

}  // namespace shoal::resolver::testing_util
