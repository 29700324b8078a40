#pragma once
// Reading resource records from presentation (zone file) text through ldns.
// Slow path: configuration files, root hints, trust anchors.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.h"

namespace shoal::dns {

/// One RR with its rdata in uncompressed wire form.
struct Record {
  Name owner;
  uint16_t type = 0;
  uint16_t rrclass = 0;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;
};

struct RecordsParse {
  std::vector<Record> records;
  std::string error;  // empty on success; else "line N: what"
  bool ok() const { return error.empty(); }
};

/// Parses zone-file text ($ORIGIN/$TTL directives, comments, multi-line
/// records). Relative names are relative to the root unless $ORIGIN says
/// otherwise.
RecordsParse parseRecords(std::string_view text);

/// Presentation format of a record ("www.example. 300 IN A 192.0.2.1"),
/// via ldns.
std::string recordToText(const Record& record);

}  // namespace shoal::dns
