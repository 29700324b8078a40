#include "dns/zone_text.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "dns/ldns_ptr.h"

namespace shoal::dns {

namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

/// ldns wants a FILE*; the text lives in memory.
std::unique_ptr<FILE, FileCloser> openText(std::string_view text) {
  // fmemopen with a size of 0 is an error; an empty text is a valid, empty
  // zone, so give it a single newline.
  static const char kEmpty[] = "\n";
  if (text.empty()) text = kEmpty;
  return std::unique_ptr<FILE, FileCloser>(
      fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
}

}  // namespace

RecordsParse parseRecords(std::string_view text) {
  RecordsParse out;
  auto file = openText(text);
  if (!file) {
    out.error = "cannot open text";
    return out;
  }
  uint32_t default_ttl = 3600;
  ldns_rdf* origin_raw = ldns_dname_new_frm_str(".");
  ldns_rdf* prev_raw = nullptr;
  // ldns counts the newlines it has consumed; after reading a record the
  // count equals that record's (last) line number.
  int line = 0;
  for (;;) {
    ldns_rr* rr_raw = nullptr;
    const ldns_status status =
        ldns_rr_new_frm_fp_l(&rr_raw, file.get(), &default_ttl, &origin_raw, &prev_raw, &line);
    LdnsRr rr(rr_raw);
    if (status == LDNS_STATUS_SYNTAX_EMPTY || status == LDNS_STATUS_SYNTAX_TTL ||
        status == LDNS_STATUS_SYNTAX_ORIGIN) {
      if (std::feof(file.get())) break;
      continue;
    }
    if (status != LDNS_STATUS_OK) {
      if (std::feof(file.get()) && status == LDNS_STATUS_SYNTAX_ERR && rr == nullptr) break;
      out.error = "line " + std::to_string(line) + ": " + ldns_get_errorstr_by_id(status);
      break;
    }
    Record record;
    const ldns_rdf* owner = ldns_rr_owner(rr.get());
    auto name = Name::fromUncompressed({ldns_rdf_data(owner), ldns_rdf_size(owner)});
    if (!name) {
      out.error = "line " + std::to_string(line) + ": bad owner name";
      break;
    }
    record.owner = *name;
    record.type = static_cast<uint16_t>(ldns_rr_get_type(rr.get()));
    record.rrclass = static_cast<uint16_t>(ldns_rr_get_class(rr.get()));
    record.ttl = ldns_rr_ttl(rr.get());
    // Uncompressed rdata: ldns keeps each field as an rdf in wire form.
    for (size_t i = 0; i < ldns_rr_rd_count(rr.get()); ++i) {
      const ldns_rdf* rdf = ldns_rr_rdf(rr.get(), i);
      record.rdata.insert(record.rdata.end(), ldns_rdf_data(rdf),
                          ldns_rdf_data(rdf) + ldns_rdf_size(rdf));
    }
    out.records.push_back(std::move(record));
  }
  ldns_rdf_deep_free(origin_raw);
  if (prev_raw != nullptr) ldns_rdf_deep_free(prev_raw);
  if (!out.ok()) out.records.clear();
  return out;
}

std::string recordToText(const Record& record) {
  // Build an ldns RR from the wire form and let ldns print it.
  std::vector<uint8_t> wire(record.owner.wire().begin(), record.owner.wire().end());
  const uint8_t fixed[10] = {
      static_cast<uint8_t>(record.type >> 8), static_cast<uint8_t>(record.type),
      static_cast<uint8_t>(record.rrclass >> 8), static_cast<uint8_t>(record.rrclass),
      static_cast<uint8_t>(record.ttl >> 24), static_cast<uint8_t>(record.ttl >> 16),
      static_cast<uint8_t>(record.ttl >> 8), static_cast<uint8_t>(record.ttl),
      static_cast<uint8_t>(record.rdata.size() >> 8), static_cast<uint8_t>(record.rdata.size())};
  wire.insert(wire.end(), fixed, fixed + 10);
  wire.insert(wire.end(), record.rdata.begin(), record.rdata.end());
  ldns_rr* rr_raw = nullptr;
  size_t pos = 0;
  if (ldns_wire2rr(&rr_raw, wire.data(), wire.size(), &pos, LDNS_SECTION_ANSWER) !=
      LDNS_STATUS_OK) {
    return record.owner.toText() + " <unprintable rdata>";
  }
  LdnsRr rr(rr_raw);
  char* text = ldns_rr2str(rr.get());
  std::string out = text != nullptr ? text : "";
  std::free(text);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace shoal::dns
