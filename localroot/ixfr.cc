#include "localroot/ixfr.h"

#include <utility>

#include "dns/constants.h"
#include "dns/writer.h"
#include "localroot/serial.h"

namespace shoal::localroot {

namespace {

/// Identity of a record in a zone (RFC 2181 section 5: the TTL is not part
/// of it): owner case-insensitively, type, class, rdata.
std::string keyOf(const dns::Record& record) {
  const auto owner = record.owner.lookupKey();
  std::string key;
  key.reserve(owner.length() + 5 + record.rdata.size());
  key.push_back(static_cast<char>(owner.length()));
  key.append(reinterpret_cast<const char*>(owner.bytes().data()), owner.length());
  key.push_back(static_cast<char>(record.type >> 8));
  key.push_back(static_cast<char>(record.type));
  key.push_back(static_cast<char>(record.rrclass >> 8));
  key.push_back(static_cast<char>(record.rrclass));
  key.append(reinterpret_cast<const char*>(record.rdata.data()), record.rdata.size());
  return key;
}

bool isApexSoa(const dns::Record& record, const dns::Name& apex) {
  return record.type == dns::rrtype::kSoa && record.owner == apex;
}

}  // namespace

std::vector<uint8_t> buildIxfrQuery(const ZoneData& current, uint16_t id) {
  const dns::Record& soa = current.records.front();
  std::vector<uint8_t> out(dns::kHeaderSize + 2 * dns::kMaxNameLength + 14 + soa.rdata.size());
  dns::MessageWriter writer(out, out.size());
  writer.setId(id);
  writer.setFlags(0);  // a query, opcode QUERY, RD clear
  // The buffer fits the question and the SOA: the writes cannot fail.
  [[maybe_unused]] auto status = writer.addQuestion(current.apex, dns::rrtype::kIxfr,
                                                    dns::rrclass::kIn);
  status = writer.addRr(dns::Section::kAuthority, soa.owner, soa.type, soa.rrclass, soa.ttl,
                        soa.rdata);
  out.resize(writer.finish());
  return out;
}

IxfrReader::IxfrReader(const ZoneData& current, uint16_t id, size_t max_bytes)
    : current_(current), id_(id), max_bytes_(max_bytes) {
  if (!current_.records.empty()) {
    if (auto serial = soaSerial(current_.records.front())) our_serial_ = *serial;
  }
}

IxfrReader::Step IxfrReader::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return Step::kError;
}

IxfrReader::Step IxfrReader::consume(std::span<const uint8_t> wire) {
  if (failed_) return Step::kError;
  if (phase_ == Phase::kDone) return fail("a message after the end of the transfer");
  if (current_.records.empty() || !isApexSoa(current_.records.front(), current_.apex)) {
    return fail("the zone held does not start with its SOA");
  }
  ++messages_;
  bytes_ += wire.size();
  if (tooLarge()) return fail("the transfer exceeds " + std::to_string(max_bytes_) + " octets");
  auto message = dns::Message::parse(wire);
  if (!message) {
    return fail("malformed message " + std::to_string(messages_) + ": " +
                dns::toString(message.error()));
  }
  if (auto error = checkTransferReply(*message, current_.apex, dns::rrtype::kIxfr, id_,
                                      messages_ == 1);
      !error.empty()) {
    return fail(error);
  }
  std::vector<dns::Record> records;
  if (auto error = readTransferRecords(*message, current_.apex, records, bytes_); !error.empty()) {
    return fail(error);
  }
  if (tooLarge()) return fail("the transfer exceeds " + std::to_string(max_bytes_) + " octets");
  for (auto& record : records) {
    if (phase_ == Phase::kDone) return fail("records after the closing SOA");
    if (auto error = take(std::move(record)); !error.empty()) return fail(error);
  }
  // A single SOA not newer than ours, alone in the first message: we are up
  // to date (RFC 1995 section 4).
  if (phase_ == Phase::kSecond && messages_ == 1 && !serialNewer(new_serial_, our_serial_)) {
    kind_ = Kind::kUpToDate;
    phase_ = Phase::kDone;
  }
  return phase_ == Phase::kDone ? Step::kDone : Step::kMore;
}

std::string IxfrReader::take(dns::Record record) {
  ++records_;
  const bool apex_soa = isApexSoa(record, current_.apex);
  switch (phase_) {
    case Phase::kFirst: {
      if (!apex_soa) return "the transfer does not start with the SOA of the zone";
      new_serial_ = *soaSerial(record);
      first_soa_ = std::move(record);
      phase_ = Phase::kSecond;
      return {};
    }
    case Phase::kSecond: {
      if (!serialNewer(new_serial_, our_serial_)) {
        return "the server's serial " + std::to_string(new_serial_) + " is not newer than ours (" +
               std::to_string(our_serial_) + ") yet it sent more than its SOA";
      }
      if (!apex_soa) {
        // The whole zone, AXFR style.
        kind_ = Kind::kFull;
        phase_ = Phase::kFull;
        records_out_.push_back(std::move(first_soa_));
        records_out_.push_back(std::move(record));
        return {};
      }
      const uint32_t from = *soaSerial(record);
      if (from != our_serial_) {
        return "the differences start from serial " + std::to_string(from) + ", ours is " +
               std::to_string(our_serial_);
      }
      if (auto error = startIncremental(); !error.empty()) return error;
      step_serial_ = from;
      phase_ = Phase::kDeleting;
      ++steps_;
      return remove(record);
    }
    case Phase::kFull: {
      if (apex_soa) {
        const uint32_t serial = *soaSerial(record);
        if (serial != new_serial_) {
          return "the zone changed during the transfer (serial " + std::to_string(new_serial_) +
                 ", then " + std::to_string(serial) + ")";
        }
        phase_ = Phase::kDone;
        return {};
      }
      records_out_.push_back(std::move(record));
      return {};
    }
    case Phase::kDeleting: {
      if (!apex_soa) return remove(record);
      const uint32_t to = *soaSerial(record);
      if (!serialNewer(to, step_serial_)) {
        return "a step from serial " + std::to_string(step_serial_) + " to " + std::to_string(to) +
               " goes back";
      }
      step_serial_ = to;
      phase_ = Phase::kAdding;
      add(std::move(record));
      return {};
    }
    case Phase::kAdding: {
      if (!apex_soa) {
        add(std::move(record));
        return {};
      }
      const uint32_t serial = *soaSerial(record);
      if (serial != step_serial_) {
        return "a step starts from serial " + std::to_string(serial) + ", the previous one ended at " +
               std::to_string(step_serial_);
      }
      if (step_serial_ == new_serial_) {
        phase_ = Phase::kDone;  // the closing SOA
        return {};
      }
      phase_ = Phase::kDeleting;
      ++steps_;
      return remove(record);
    }
    case Phase::kDone:
      return "records after the closing SOA";
  }
  return "unreachable";
}

std::string IxfrReader::startIncremental() {
  kind_ = Kind::kIncremental;
  records_out_ = current_.records;
  index_.reserve(records_out_.size());
  for (size_t i = 0; i < records_out_.size(); ++i) index_.emplace(keyOf(records_out_[i]), i);
  bytes_ += current_.records.size() * sizeof(dns::Record);
  return tooLarge() ? "the zone and its differences exceed " + std::to_string(max_bytes_) + " octets"
                    : std::string();
}

std::string IxfrReader::remove(const dns::Record& record) {
  const auto found = index_.find(keyOf(record));
  if (found == index_.end()) {
    return "the differences delete " + record.owner.toText() + " " +
           dns::typeToText(record.type) + ", which serial " + std::to_string(step_serial_) +
           " does not have";
  }
  records_out_[found->second] = dns::Record{};  // a hole (type 0)
  index_.erase(found);
  ++deleted_;
  return {};
}

void IxfrReader::add(dns::Record record) {
  ++added_;
  std::string key = keyOf(record);
  if (const auto found = index_.find(key); found != index_.end()) {
    records_out_[found->second].ttl = record.ttl;
    return;
  }
  index_.emplace(std::move(key), records_out_.size());
  records_out_.push_back(std::move(record));
}

ZoneData IxfrReader::take() {
  ZoneData zone;
  zone.apex = current_.apex;
  if (kind_ == Kind::kUpToDate) return zone;
  if (kind_ == Kind::kFull) {
    zone.records = std::move(records_out_);
    return zone;
  }
  // The new SOA first, as a transfer leaves it; holes dropped.
  zone.records.reserve(records_out_.size());
  for (auto& record : records_out_) {
    if (isApexSoa(record, current_.apex)) zone.records.push_back(std::move(record));
  }
  for (auto& record : records_out_) {
    if (record.type != 0 && !isApexSoa(record, current_.apex)) {
      zone.records.push_back(std::move(record));
    }
  }
  records_out_.clear();
  index_.clear();
  return zone;
}

}  // namespace shoal::localroot
