// IXFR (RFC 1995) without the network: the query, and the reader applying
// the differences to the zone held, or taking a whole zone, or saying we
// are up to date; and every way a response can be wrong.

#include "localroot/ixfr.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "tests/unit/localroot/test_root.h"

namespace shoal::localroot {
namespace {

using testing_util::recordsOf;

constexpr uint16_t kId = 0x4321;

std::string soaText(uint32_t serial) {
  return ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. " + std::to_string(serial) +
         " 1800 900 604800 86400\n";
}
dns::Record soa(uint32_t serial) { return recordsOf(soaText(serial))[0]; }

/// The zone held: serial 100.
ZoneData held() {
  ZoneData zone;
  zone.records = recordsOf(soaText(100) +
                           ". 518400 IN NS a.root-servers.net.\n"
                           "com. 172800 IN NS a.gtld-servers.net.\n"
                           "a.gtld-servers.net. 172800 IN A 192.0.2.30\n"
                           "net. 172800 IN NS a.gtld-servers.net.\n");
  return zone;
}

struct MessageSpec {
  uint16_t id = kId;
  uint16_t rcode = 0;
  bool question = true;
};

std::vector<uint8_t> message(const std::vector<dns::Record>& records, const MessageSpec& spec = {}) {
  std::vector<uint8_t> out(65535);
  dns::MessageWriter writer(out, out.size());
  writer.setId(spec.id);
  writer.setFlags(dns::flag::kQr | dns::flag::kAa);
  writer.setRcode(spec.rcode);
  if (spec.question) {
    EXPECT_TRUE(writer.addQuestion(dns::Name(), dns::rrtype::kIxfr, dns::rrclass::kIn).ok());
  }
  for (const auto& r : records) {
    EXPECT_TRUE(
        writer.addRr(dns::Section::kAnswer, r.owner, r.type, r.rrclass, r.ttl, r.rdata).ok());
  }
  out.resize(writer.finish());
  return out;
}

/// Records as sorted text lines, to compare zones as sets.
std::vector<std::string> lines(const std::vector<dns::Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(dns::recordToText(r));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<dns::Record> concat(std::initializer_list<std::vector<dns::Record>> parts) {
  std::vector<dns::Record> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

TEST(IxfrTest, TheQueryCarriesTheSoaHeld) {
  const ZoneData zone = held();
  const auto wire = buildIxfrQuery(zone, kId);
  auto parsed = dns::Message::parse(wire);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->header().id, kId);
  EXPECT_FALSE(parsed->header().has(dns::flag::kQr));
  EXPECT_FALSE(parsed->header().has(dns::flag::kRd));
  ASSERT_TRUE(parsed->question());
  EXPECT_TRUE(parsed->question()->name.isRoot());
  EXPECT_EQ(parsed->question()->type, dns::rrtype::kIxfr);
  std::vector<uint16_t> authority;
  for (const auto& rr : parsed->section(dns::Section::kAuthority)) authority.push_back(rr.type);
  EXPECT_EQ(authority, std::vector<uint16_t>{dns::rrtype::kSoa});
  EXPECT_EQ(parsed->header().ancount, 0u);
}

TEST(IxfrTest, ASingleSoaNotNewerMeansUpToDate) {
  const ZoneData zone = held();
  for (const uint32_t serial : {100u, 99u}) {
    IxfrReader reader(zone, kId);
    EXPECT_EQ(reader.consume(message({soa(serial)})), IxfrReader::Step::kDone) << reader.error();
    EXPECT_EQ(reader.kind(), IxfrReader::Kind::kUpToDate);
    EXPECT_EQ(reader.serial(), serial);
  }
}

TEST(IxfrTest, OneStepOverTwoMessagesIsApplied) {
  const ZoneData zone = held();
  const auto deleted = recordsOf("a.gtld-servers.net. 172800 IN A 192.0.2.30\n"
                                 "net. 172800 IN NS a.gtld-servers.net.\n");
  const auto added = recordsOf("a.gtld-servers.net. 172800 IN A 192.0.2.31\n"
                               "org. 172800 IN NS a0.org.afilias-nst.info.\n");
  IxfrReader reader(zone, kId);
  EXPECT_EQ(reader.consume(message(concat({{soa(101), soa(100)}, deleted}))),
            IxfrReader::Step::kMore)
      << reader.error();
  EXPECT_EQ(reader.consume(message(concat({{soa(101)}, added, {soa(101)}}), {.question = false})),
            IxfrReader::Step::kDone)
      << reader.error();
  EXPECT_EQ(reader.kind(), IxfrReader::Kind::kIncremental);
  EXPECT_EQ(reader.serial(), 101u);
  EXPECT_EQ(reader.steps(), 1u);
  EXPECT_EQ(reader.deleted(), 3u);  // the old SOA too
  EXPECT_EQ(reader.added(), 3u);
  const ZoneData out = reader.take();
  ASSERT_FALSE(out.records.empty());
  EXPECT_EQ(dns::recordToText(out.records[0]), dns::recordToText(soa(101)));  // SOA first
  const auto want = recordsOf(soaText(101) +
                              ". 518400 IN NS a.root-servers.net.\n"
                              "com. 172800 IN NS a.gtld-servers.net.\n"
                              "a.gtld-servers.net. 172800 IN A 192.0.2.31\n"
                              "org. 172800 IN NS a0.org.afilias-nst.info.\n");
  EXPECT_EQ(lines(out.records), lines(want));
}

TEST(IxfrTest, SeveralStepsInARow) {
  const ZoneData zone = held();
  IxfrReader reader(zone, kId);
  const auto step1_del = recordsOf("net. 172800 IN NS a.gtld-servers.net.\n");
  const auto step1_add = recordsOf("net. 172800 IN NS b.gtld-servers.net.\n");
  // Step 2 changes a record step 1 added, and a TTL (delete and add).
  const auto step2_del = recordsOf("net. 172800 IN NS b.gtld-servers.net.\n"
                                   "COM. 172800 IN NS a.gtld-servers.net.\n");
  const auto step2_add = recordsOf("net. 172800 IN NS c.gtld-servers.net.\n"
                                   "com. 86400 IN NS a.gtld-servers.net.\n");
  EXPECT_EQ(reader.consume(message(concat({{soa(102), soa(100)}, step1_del, {soa(101)}, step1_add,
                                           {soa(101)}, step2_del, {soa(102)}, step2_add,
                                           {soa(102)}}))),
            IxfrReader::Step::kDone)
      << reader.error();
  EXPECT_EQ(reader.steps(), 2u);
  const auto want = recordsOf(soaText(102) +
                              ". 518400 IN NS a.root-servers.net.\n"
                              "com. 86400 IN NS a.gtld-servers.net.\n"
                              "a.gtld-servers.net. 172800 IN A 192.0.2.30\n"
                              "net. 172800 IN NS c.gtld-servers.net.\n");
  EXPECT_EQ(lines(reader.take().records), lines(want));
}

TEST(IxfrTest, AnAddedRecordAlreadyThereTakesTheNewTtl) {
  const ZoneData zone = held();
  IxfrReader reader(zone, kId);
  EXPECT_EQ(reader.consume(message(concat(
                {{soa(101), soa(100), soa(101)},
                 recordsOf("com. 3600 IN NS a.gtld-servers.net.\n"), {soa(101)}}))),
            IxfrReader::Step::kDone)
      << reader.error();
  const ZoneData out = reader.take();
  EXPECT_EQ(out.records.size(), 5u);
  EXPECT_EQ(std::count_if(out.records.begin(), out.records.end(),
                          [](const dns::Record& r) { return r.ttl == 3600; }),
            1);
}

TEST(IxfrTest, TheWholeZoneAxfrStyle) {
  const ZoneData zone = held();
  IxfrReader reader(zone, kId);
  const auto rest = recordsOf(". 518400 IN NS a.root-servers.net.\n"
                              "org. 172800 IN NS a0.org.afilias-nst.info.\n");
  EXPECT_EQ(reader.consume(message(concat({{soa(105)}, rest}))), IxfrReader::Step::kMore);
  EXPECT_EQ(reader.consume(message({soa(105)}, {.question = false})), IxfrReader::Step::kDone)
      << reader.error();
  EXPECT_EQ(reader.kind(), IxfrReader::Kind::kFull);
  const ZoneData out = reader.take();
  EXPECT_EQ(out.records.size(), 3u);
  EXPECT_EQ(out.records[0].type, dns::rrtype::kSoa);
}

/// A response that must be refused, and why.
void expectError(const std::vector<std::vector<uint8_t>>& messages, const std::string& why,
                 size_t max_bytes = AxfrReader::kDefaultMaxBytes) {
  const ZoneData zone = held();
  IxfrReader reader(zone, kId, max_bytes);
  IxfrReader::Step step = IxfrReader::Step::kMore;
  for (const auto& m : messages) {
    step = reader.consume(m);
    if (step == IxfrReader::Step::kError) break;
  }
  EXPECT_EQ(step, IxfrReader::Step::kError) << why;
  EXPECT_NE(reader.error().find(why), std::string::npos) << reader.error();
  EXPECT_EQ(reader.consume(message({soa(101)})), IxfrReader::Step::kError);  // final
}

TEST(IxfrTest, WrongResponsesAreRefused) {
  const auto com = recordsOf("com. 172800 IN NS a.gtld-servers.net.\n");
  const auto missing = recordsOf("edu. 172800 IN NS a.edu-servers.net.\n");
  expectError({message({}, {.rcode = dns::rcode::kNotImp})}, "the server answered NOTIMP");
  expectError({message({soa(101)}, {.id = static_cast<uint16_t>(kId + 1)})}, "another ID");
  expectError({message(com)}, "does not start with the SOA");
  expectError({message({soa(101), soa(99), soa(101), soa(101)})},
              "the differences start from serial 99, ours is 100");
  expectError({message(concat({{soa(101), soa(100)}, missing, {soa(101), soa(101)}}))},
              "delete edu. NS, which serial 100 does not have");
  expectError({message({soa(102), soa(100), soa(101), soa(100)})},
              "a step starts from serial 100, the previous one ended at 101");
  expectError({message({soa(101), soa(100), soa(99)})}, "goes back");
  expectError({message(concat({{soa(100)}, com}))}, "is not newer than ours");
  expectError({message({soa(101), soa(100), soa(101), soa(101)}), message({soa(101)})},
              "a message after the end");
  expectError({message(concat({{soa(101), soa(100), soa(101), soa(101)}, com}))},
              "records after the closing SOA");
  expectError({message(concat({{soa(106)}, com, {soa(107)}}))},
              "the zone changed during the transfer");
  expectError({message(concat({{soa(101), soa(100)}, com, {soa(101), soa(101)}}))},
              "600 octets", 600);
}

}  // namespace
}  // namespace shoal::localroot
