#pragma once
// Small helpers shared by the engine scenario tests.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/name.h"
#include "tests/unit/resolver/fake_net.h"
#include "tests/unit/resolver/internet.h"
#include "tests/unit/resolver/scenario.h"

namespace shoal::resolver::testing_util {

inline dns::Name N(const char* text) {
  auto n = dns::Name::fromText(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : dns::Name();
}

/// The type of a query's question (0 when it does not parse).
inline uint16_t questionType(std::span<const uint8_t> query) {
  auto msg = dns::Message::parse(query);
  return msg && msg->question() ? msg->question()->type : 0;
}

/// The queries the engine sent to any of `servers`, in order.
inline std::vector<SentQuery> sentTo(const Scenario& s, std::initializer_list<const char*> servers) {
  std::vector<SentQuery> out;
  for (const auto& q : s.sent()) {
    for (const char* server : servers) {
      if (q.server == Ip(server)) {
        out.push_back(q);
        break;
      }
    }
  }
  return out;
}

/// "qname TYPE" of each query, lowercased qname, for readable expectations.
inline std::vector<std::string> questions(const std::vector<SentQuery>& queries) {
  std::vector<std::string> out;
  for (const auto& q : queries) {
    dns::Name name = q.qname;
    name.toLowerCase();
    out.push_back(name.toText() + " " + dns::typeToText(q.qtype));
  }
  return out;
}

/// Options of a client that sets DO (RFC 3225).
inline QueryOptions withDo() {
  QueryOptions o;
  o.dnssec_ok = true;
  return o;
}

/// The records of `type` in a section.
inline size_t countType(const std::vector<dns::Record>& records, uint16_t type) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(),
                                           [&](const dns::Record& r) { return r.type == type; }));
}

/// A fresh standard Internet.
inline void standard(FakeNet& net) { addStandardInternet(net); }

}  // namespace shoal::resolver::testing_util
