#include "localroot/axfr.h"

#include <utility>

#include "dns/constants.h"
#include "dns/rdata.h"
#include "dns/wire_io.h"
#include "dns/writer.h"

namespace shoal::localroot {

std::string checkTransferReply(const dns::Message& message, const dns::Name& apex, uint16_t qtype,
                               uint16_t id, bool question_required) {
  const dns::Header& h = message.header();
  if (h.id != id) return "reply with another ID (" + std::to_string(h.id) + ")";
  if (!h.has(dns::flag::kQr) || h.opcode() != dns::opcode::kQuery) return "not a reply to a query";
  if (h.has(dns::flag::kTc)) return "truncated reply over TCP";
  if (message.rcode() != dns::rcode::kNoError) {
    return "the server answered " + dns::rcodeToText(message.rcode());
  }
  const auto& question = message.question();
  if (!question) {
    return question_required ? std::string("reply without the question") : std::string();
  }
  if (!(question->name == apex) || question->type != qtype || question->qclass != dns::rrclass::kIn) {
    return "reply to another question (" + question->name.toText() + " " +
           dns::typeToText(question->type) + ")";
  }
  return {};
}

std::string readTransferRecords(const dns::Message& message, const dns::Name& apex,
                                std::vector<dns::Record>& out, size_t& bytes) {
  std::vector<uint8_t> rdata(dns::kMaxRdataLength);
  for (const auto& rr : message.section(dns::Section::kAnswer)) {
    dns::Record record;
    record.owner = message.ownerOf(rr);
    record.type = rr.type;
    record.rrclass = rr.rrclass;
    record.ttl = rr.ttl;
    if (rr.rrclass != dns::rrclass::kIn) {
      return "record of class " + std::to_string(rr.rrclass) + " at " + record.owner.toText();
    }
    if (!record.owner.isSubdomainOf(apex)) return "record outside the zone: " + record.owner.toText();
    auto length = dns::decompressRdata(message, rr, rdata);
    if (!length) return "malformed " + dns::typeToText(rr.type) + " rdata at " + record.owner.toText();
    record.rdata.assign(rdata.begin(), rdata.begin() + static_cast<std::ptrdiff_t>(*length));
    if (record.type == dns::rrtype::kSoa && !soaSerial(record)) return "malformed SOA rdata";
    bytes += record.owner.length() + record.rdata.size() + sizeof(dns::Record);
    out.push_back(std::move(record));
  }
  return {};
}

std::optional<uint32_t> soaSerial(const dns::Record& soa) {
  auto parsed = parseSoa(soa.rdata);
  if (!parsed) return std::nullopt;
  return parsed->serial;
}

std::vector<uint8_t> buildQuery(const dns::Name& apex, uint16_t type, uint16_t id) {
  std::vector<uint8_t> out(dns::kHeaderSize + dns::kMaxNameLength + 4);
  dns::MessageWriter writer(out, out.size());
  writer.setId(id);
  writer.setFlags(0);  // a query, opcode QUERY, RD clear: we ask the source itself
  // The buffer fits any name and the fixed fields: the write cannot fail.
  [[maybe_unused]] const auto status = writer.addQuestion(apex, type, dns::rrclass::kIn);
  out.resize(writer.finish());
  return out;
}

SerialAnswer readSerialAnswer(std::span<const uint8_t> wire, const dns::Name& apex, uint16_t id) {
  auto message = dns::Message::parse(wire);
  if (!message) return {0, std::string("malformed reply: ") + dns::toString(message.error())};
  if (auto error = checkTransferReply(*message, apex, dns::rrtype::kSoa, id, true); !error.empty()) {
    return {0, error};
  }
  std::vector<uint8_t> rdata(dns::kMaxRdataLength);
  for (const auto& rr : message->section(dns::Section::kAnswer)) {
    if (rr.type != dns::rrtype::kSoa || !(message->ownerOf(rr) == apex)) continue;
    auto length = dns::decompressRdata(*message, rr, rdata);
    if (!length) return {0, "malformed SOA rdata"};
    auto soa = parseSoa({rdata.data(), *length});
    if (!soa) return {0, "malformed SOA rdata"};
    return {soa->serial, {}};
  }
  return {0, "reply without the SOA of " + apex.toText()};
}

AxfrReader::AxfrReader(const dns::Name& apex, uint16_t id, size_t max_bytes)
    : apex_(apex), id_(id), max_bytes_(max_bytes) {
  zone_.apex = apex;
}

AxfrReader::Step AxfrReader::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return Step::kError;
}

AxfrReader::Step AxfrReader::consume(std::span<const uint8_t> wire) {
  if (failed_) return Step::kError;
  if (done_) return fail("a message after the end of the transfer");
  ++messages_;
  bytes_ += wire.size();
  if (bytes_ > max_bytes_) {
    return fail("the transfer exceeds " + std::to_string(max_bytes_) + " octets");
  }
  auto message = dns::Message::parse(wire);
  if (!message) {
    return fail("malformed message " + std::to_string(messages_) + ": " +
                dns::toString(message.error()));
  }
  // RFC 5936 section 2.2.1: the question is in the first message, and may
  // be left out of the others.
  if (auto error = checkTransferReply(*message, apex_, dns::rrtype::kAxfr, id_, messages_ == 1);
      !error.empty()) {
    return fail(error);
  }
  return readAnswer(*message);
}

AxfrReader::Step AxfrReader::readAnswer(const dns::Message& message) {
  std::vector<dns::Record> records;
  if (auto error = readTransferRecords(message, apex_, records, bytes_); !error.empty()) {
    return fail(error);
  }
  if (bytes_ > max_bytes_) {
    return fail("the transfer exceeds " + std::to_string(max_bytes_) + " octets");
  }
  for (auto& record : records) {
    if (done_) return fail("records after the closing SOA");
    const bool apex_soa = record.type == dns::rrtype::kSoa && record.owner == apex_;
    if (zone_.records.empty()) {
      // RFC 5936 section 2.2: the transfer starts with the zone's SOA.
      if (!apex_soa) return fail("the transfer does not start with the SOA of the zone");
      first_serial_ = *soaSerial(record);
    } else if (apex_soa) {
      const uint32_t serial = *soaSerial(record);
      if (serial != first_serial_) {
        return fail("the zone changed during the transfer (serial " +
                    std::to_string(first_serial_) + ", then " + std::to_string(serial) + ")");
      }
      done_ = true;  // the closing SOA is not part of the zone
      continue;
    }
    zone_.records.push_back(std::move(record));
  }
  return done_ ? Step::kDone : Step::kMore;
}

ZoneData AxfrReader::take() { return std::move(zone_); }

}  // namespace shoal::localroot
