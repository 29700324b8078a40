#include "localroot/axfr.h"

#include <gtest/gtest.h>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "tests/unit/localroot/test_root.h"

namespace shoal::localroot {
namespace {

using testing_util::recordsOf;

constexpr uint16_t kId = 0x1234;

dns::Name root() { return dns::Name(); }

const std::string kSoa =
    ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024052200 1800 900 604800 "
    "86400\n";

struct MessageSpec {
  uint16_t id = kId;
  uint16_t flags = dns::flag::kQr | dns::flag::kAa;
  uint16_t rcode = 0;
  bool question = true;
  uint16_t qtype = dns::rrtype::kAxfr;
};

/// A response message holding `records` in its answer section.
std::vector<uint8_t> message(const std::vector<dns::Record>& records, const MessageSpec& spec = {}) {
  std::vector<uint8_t> out(65535);
  dns::MessageWriter writer(out, out.size());
  writer.setId(spec.id);
  writer.setFlags(spec.flags);
  writer.setRcode(spec.rcode);
  if (spec.question) {
    EXPECT_TRUE(writer.addQuestion(root(), spec.qtype, dns::rrclass::kIn).ok());
  }
  for (const auto& r : records) {
    EXPECT_TRUE(
        writer.addRr(dns::Section::kAnswer, r.owner, r.type, r.rrclass, r.ttl, r.rdata).ok());
  }
  out.resize(writer.finish());
  return out;
}

TEST(AxfrTest, BuildQuery) {
  const auto wire = buildQuery(root(), dns::rrtype::kAxfr, kId);
  auto parsed = dns::Message::parse(wire);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->header().id, kId);
  EXPECT_FALSE(parsed->header().has(dns::flag::kQr));
  EXPECT_FALSE(parsed->header().has(dns::flag::kRd));
  ASSERT_TRUE(parsed->question());
  EXPECT_TRUE(parsed->question()->name.isRoot());
  EXPECT_EQ(parsed->question()->type, dns::rrtype::kAxfr);
  EXPECT_EQ(parsed->question()->qclass, dns::rrclass::kIn);
}

TEST(AxfrTest, ATransferInTwoMessages) {
  const auto soa = recordsOf(kSoa);
  const auto data = recordsOf(
      ". 518400 IN NS a.root-servers.net.\n"
      "com. 172800 IN NS a.gtld-servers.net.\n"
      "a.gtld-servers.net. 172800 IN A 192.0.2.30\n");
  AxfrReader reader(root(), kId);
  std::vector<dns::Record> first = soa;
  first.insert(first.end(), data.begin(), data.begin() + 2);
  EXPECT_EQ(reader.consume(message(first)), AxfrReader::Step::kMore);
  // The question may be left out after the first message (RFC 5936 2.2.1).
  std::vector<dns::Record> second{data[2], soa[0]};
  EXPECT_EQ(reader.consume(message(second, {.question = false})), AxfrReader::Step::kDone)
      << reader.error();
  const ZoneData zone = reader.take();
  ASSERT_EQ(zone.records.size(), 4u);  // the closing SOA is not kept
  EXPECT_EQ(zone.records[0].type, dns::rrtype::kSoa);
  // Names in rdata arrive compressed and are stored expanded.
  EXPECT_EQ(zone.records[0].rdata, soa[0].rdata);
  EXPECT_EQ(zone.records[2].rdata, data[1].rdata);
  EXPECT_EQ(zone.records[3].owner.toText(), "a.gtld-servers.net.");
  // Nothing may follow.
  EXPECT_EQ(reader.consume(message(soa)), AxfrReader::Step::kError);
  EXPECT_EQ(reader.error(), "a message after the end of the transfer");
}

TEST(AxfrTest, ASingleMessageTransfer) {
  const auto soa = recordsOf(kSoa);
  AxfrReader reader(root(), kId);
  EXPECT_EQ(reader.consume(message({soa[0], soa[0]})), AxfrReader::Step::kDone);
  EXPECT_EQ(reader.take().records.size(), 1u);
}

/// The error of a transfer whose first message is `wire`.
std::string firstMessageError(const std::vector<uint8_t>& wire, size_t max_bytes = 1 << 20) {
  AxfrReader reader(root(), kId, max_bytes);
  EXPECT_EQ(reader.consume(wire), AxfrReader::Step::kError);
  // An error is final.
  EXPECT_EQ(reader.consume(wire), AxfrReader::Step::kError);
  return reader.error();
}

TEST(AxfrTest, RefusedAndOtherBadReplies) {
  const auto soa = recordsOf(kSoa);
  EXPECT_EQ(firstMessageError(message({}, {.rcode = dns::rcode::kRefused})),
            "the server answered REFUSED");
  EXPECT_EQ(firstMessageError(message(soa, {.id = 7})), "reply with another ID (7)");
  EXPECT_EQ(firstMessageError(message(soa, {.flags = 0})), "not a reply to a query");
  EXPECT_EQ(firstMessageError(message(soa, {.flags = dns::flag::kQr | dns::flag::kTc})),
            "truncated reply over TCP");
  EXPECT_EQ(firstMessageError(message(soa, {.question = false})), "reply without the question");
  EXPECT_EQ(firstMessageError(message(soa, {.qtype = dns::rrtype::kSoa})),
            "reply to another question (. SOA)");
  EXPECT_EQ(firstMessageError({1, 2, 3}), "malformed message 1: truncated");
  EXPECT_EQ(firstMessageError(message(recordsOf("com. 172800 IN NS a.gtld-servers.net.\n"))),
            "the transfer does not start with the SOA of the zone");
  EXPECT_EQ(firstMessageError(message(soa), 20), "the transfer exceeds 20 octets");
  auto chaos = recordsOf("com. 3600 IN TXT \"x\"\n");
  chaos[0].rrclass = dns::rrclass::kCh;
  EXPECT_EQ(firstMessageError(message({soa[0], chaos[0]})), "record of class 3 at com.");
}

TEST(AxfrTest, OutsideTheZoneAndChangedSerial) {
  const auto soa = recordsOf(kSoa);
  const auto other_soa = recordsOf(
      ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024052201 1800 900 604800 "
      "86400\n");
  AxfrReader changed(root(), kId);
  EXPECT_EQ(changed.consume(message({soa[0], other_soa[0]})), AxfrReader::Step::kError);
  EXPECT_EQ(changed.error(), "the zone changed during the transfer (serial 2024052200, then 2024052201)");

  const auto com_soa = recordsOf(
      "com. 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400\n");
  AxfrReader outside(*dns::Name::fromText("com."), kId);
  std::vector<uint8_t> out(4096);
  dns::MessageWriter writer(out, out.size());
  writer.setId(kId);
  writer.setFlags(dns::flag::kQr);
  ASSERT_TRUE(writer.addQuestion(*dns::Name::fromText("com."), dns::rrtype::kAxfr,
                                 dns::rrclass::kIn).ok());
  for (const auto& r : {com_soa[0], soa[0]}) {
    ASSERT_TRUE(writer.addRr(dns::Section::kAnswer, r.owner, r.type, r.rrclass, r.ttl, r.rdata).ok());
  }
  out.resize(writer.finish());
  EXPECT_EQ(outside.consume(out), AxfrReader::Step::kError);
  EXPECT_EQ(outside.error(), "record outside the zone: .");

  AxfrReader trailing(root(), kId);
  const auto ns = recordsOf(". 518400 IN NS a.root-servers.net.\n");
  EXPECT_EQ(trailing.consume(message({soa[0], soa[0], ns[0]})), AxfrReader::Step::kError);
  EXPECT_EQ(trailing.error(), "records after the closing SOA");
}

TEST(AxfrTest, SerialAnswer) {
  const auto soa = recordsOf(kSoa);
  const SerialAnswer good = readSerialAnswer(message(soa, {.qtype = dns::rrtype::kSoa}), root(), kId);
  EXPECT_EQ(good.error, "");
  EXPECT_EQ(good.serial, 2024052200u);
  EXPECT_EQ(readSerialAnswer(message({}, {.qtype = dns::rrtype::kSoa}), root(), kId).error,
            "reply without the SOA of .");
  EXPECT_EQ(readSerialAnswer(message(soa, {.rcode = dns::rcode::kServFail,
                                           .qtype = dns::rrtype::kSoa}),
                             root(), kId)
                .error,
            "the server answered SERVFAIL");
  EXPECT_EQ(readSerialAnswer(message(soa), root(), kId).error, "reply to another question (. TYPE252)");
  EXPECT_EQ(readSerialAnswer(std::vector<uint8_t>{0}, root(), kId).error,
            "malformed reply: truncated");
}

}  // namespace
}  // namespace shoal::localroot
