#include "dns/writer.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/rdata.h"
#include "tests/unit/dns/test_util.h"

namespace shoal::dns {
namespace {

using testing_util::N;

std::vector<uint8_t> a(uint8_t last) { return {192, 0, 2, last}; }

std::vector<uint8_t> nameRdata(const char* text) {
  const Name n = N(text);
  return {n.wire().begin(), n.wire().end()};
}

TEST(WriterTest, AnswerRoundTripsThroughParser) {
  std::array<uint8_t, 512> buf{};
  MessageWriter w(buf, buf.size());
  w.setId(0xBEEF);
  w.setFlags(flag::kQr | flag::kRd | flag::kRa);
  ASSERT_TRUE(w.addQuestion(N("www.Example.com"), rrtype::kA, rrclass::kIn).ok());
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("www.Example.com"), rrtype::kA, rrclass::kIn, 300, a(1)).ok());
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("www.Example.com"), rrtype::kA, rrclass::kIn, 300, a(2)).ok());
  ASSERT_TRUE(w.addRr(Section::kAuthority, N("example.com"), rrtype::kNs, rrclass::kIn, 3600,
                      nameRdata("ns1.example.com")).ok());
  const size_t len = w.finish();

  auto msg = Message::parse({buf.data(), len});
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0xBEEF);
  EXPECT_TRUE(msg->header().has(flag::kQr));
  EXPECT_TRUE(msg->header().has(flag::kRa));
  EXPECT_EQ(msg->question()->name.toText(), "www.Example.com.");
  EXPECT_EQ(msg->count(Section::kAnswer), 2);
  EXPECT_EQ(msg->count(Section::kAuthority), 1);
  int n = 0;
  for (const RrView& rr : msg->section(Section::kAnswer)) {
    EXPECT_TRUE(msg->ownerOf(rr).equalsExactly(N("www.Example.com")));
    EXPECT_EQ(rr.ttl, 300u);
    EXPECT_EQ(msg->rdataOf(rr)[3], ++n);
  }
  for (const RrView& rr : msg->section(Section::kAuthority)) {
    std::array<uint8_t, 300> out{};
    auto written = decompressRdata(*msg, rr, out);
    ASSERT_TRUE(written.ok());
    // Compression is case-insensitive: the suffix takes the case of the
    // question's "Example.com", which is the same name (RFC 4343).
    EXPECT_TRUE(*Name::fromUncompressed({out.data(), *written}) == N("ns1.example.com"));
  }
}

TEST(WriterTest, CompressionShrinksRepeatedNames) {
  std::array<uint8_t, 512> buf{};
  MessageWriter w(buf, buf.size());
  ASSERT_TRUE(w.addQuestion(N("www.example.com"), rrtype::kA, rrclass::kIn).ok());
  const size_t after_question = w.length();
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("WWW.example.com"), rrtype::kA, rrclass::kIn, 1, a(1)).ok());
  // Owner compressed to a 2-octet pointer: 2 + 10 + 4.
  EXPECT_EQ(w.length() - after_question, 16u);
  const size_t before_cname = w.length();
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("www.example.com"), rrtype::kCname, rrclass::kIn, 1,
                      nameRdata("mail.example.com")).ok());
  // Owner pointer (2) + fixed (10) + "mail" label (5) + pointer (2).
  EXPECT_EQ(w.length() - before_cname, 19u);
  const size_t len = w.finish();
  auto msg = Message::parse({buf.data(), len});
  ASSERT_TRUE(msg.ok());
  for (const RrView& rr : msg->section(Section::kAnswer)) {
    if (rr.type != rrtype::kCname) continue;
    std::array<uint8_t, 300> out{};
    auto written = decompressRdata(*msg, rr, out);
    ASSERT_TRUE(written.ok());
    EXPECT_EQ(Name::fromUncompressed({out.data(), *written})->toText(), "mail.example.com.");
  }
}

TEST(WriterTest, NonRfc1035RdataIsNotCompressed) {
  // DNAME targets must not be compressed (RFC 6672 section 2.5).
  std::array<uint8_t, 512> buf{};
  MessageWriter w(buf, buf.size());
  ASSERT_TRUE(w.addQuestion(N("example.com"), rrtype::kDname, rrclass::kIn).ok());
  const auto target = nameRdata("example.com");
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("example.com"), rrtype::kDname, rrclass::kIn, 1, target).ok());
  const size_t len = w.finish();
  auto msg = Message::parse({buf.data(), len});
  ASSERT_TRUE(msg.ok());
  for (const RrView& rr : msg->section(Section::kAnswer)) EXPECT_EQ(rr.rdlength, target.size());
}

TEST(WriterTest, RrThatDoesNotFitIsRolledBack) {
  std::array<uint8_t, 512> buf{};
  MessageWriter w(buf, 120);
  ASSERT_TRUE(w.addQuestion(N("big.example.com"), rrtype::kTxt, rrclass::kIn).ok());
  std::vector<uint8_t> txt(40, 'x');
  txt[0] = 39;
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("big.example.com"), rrtype::kTxt, rrclass::kIn, 1, txt).ok());
  const size_t before = w.length();
  EXPECT_EQ(w.addRr(Section::kAnswer, N("big.example.com"), rrtype::kTxt, rrclass::kIn, 1, txt).error(),
            WireError::kNoSpace);
  EXPECT_EQ(w.length(), before);
  w.setTruncated();
  const size_t len = w.finish();
  EXPECT_LE(len, 120u);
  auto msg = Message::parse({buf.data(), len});
  ASSERT_TRUE(msg.ok());
  EXPECT_TRUE(msg->header().has(flag::kTc));
  EXPECT_EQ(msg->count(Section::kAnswer), 1);
}

TEST(WriterTest, MarkAndRollbackDropAPartialRrset) {
  std::array<uint8_t, 512> buf{};
  MessageWriter w(buf, buf.size());
  ASSERT_TRUE(w.addQuestion(N("x.example"), rrtype::kA, rrclass::kIn).ok());
  const auto m = w.mark();
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("x.example"), rrtype::kA, rrclass::kIn, 1, a(1)).ok());
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("y.example"), rrtype::kA, rrclass::kIn, 1, a(2)).ok());
  w.rollback(m);
  // Compression entries made after the mark are gone too: a later name
  // must not point into the rolled-back bytes.
  ASSERT_TRUE(w.addRr(Section::kAuthority, N("z.y.example"), rrtype::kA, rrclass::kIn, 1, a(3)).ok());
  const size_t len = w.finish();
  auto msg = Message::parse({buf.data(), len});
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->count(Section::kAnswer), 0);
  for (const RrView& rr : msg->section(Section::kAuthority)) {
    EXPECT_EQ(msg->ownerOf(rr).toText(), "z.y.example.");
  }
}

TEST(WriterTest, SectionsOnlyMoveForward) {
  std::array<uint8_t, 512> buf{};
  MessageWriter w(buf, buf.size());
  ASSERT_TRUE(w.addRr(Section::kAuthority, N("a"), rrtype::kA, rrclass::kIn, 1, a(1)).ok());
  EXPECT_EQ(w.addRr(Section::kAnswer, N("a"), rrtype::kA, rrclass::kIn, 1, a(1)).error(),
            WireError::kBadState);
  EXPECT_EQ(w.addQuestion(N("a"), rrtype::kA, rrclass::kIn).error(), WireError::kBadState);
}

TEST(WriterTest, EdnsIsReservedAndWritten) {
  std::array<uint8_t, 512> buf{};
  MessageWriter w(buf, 100);
  EdnsOut edns;
  edns.udp_size = 1232;
  edns.dnssec_ok = true;
  ASSERT_TRUE(edns.options.addExtendedError(ede::kNoReachableAuthority, "").ok());
  ASSERT_TRUE(w.addQuestion(N("example.com"), rrtype::kA, rrclass::kIn).ok());
  ASSERT_TRUE(w.setEdns(edns).ok());
  w.setRcode(rcode::kBadCookie);  // needs the extended bits
  // Fill the answer until it no longer fits: the OPT must still fit.
  int added = 0;
  while (w.addRr(Section::kAnswer, N("example.com"), rrtype::kA, rrclass::kIn, 1, a(1)).ok()) ++added;
  EXPECT_GT(added, 0);
  const size_t len = w.finish();
  EXPECT_LE(len, 100u);
  auto msg = Message::parse({buf.data(), len});
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  ASSERT_TRUE(msg->edns().has_value());
  EXPECT_EQ(msg->edns()->udp_size, 1232);
  EXPECT_TRUE(msg->edns()->dnssec_ok);
  EXPECT_EQ(msg->rcode(), rcode::kBadCookie);
  auto ede_opt = findOption(*msg->edns(), ednsopt::kExtendedError);
  ASSERT_TRUE(ede_opt.has_value());
  EXPECT_EQ(parseExtendedError(ede_opt->data)->info_code, ede::kNoReachableAuthority);
}

TEST(WriterTest, PaddingFillsToTheBlockSize) {
  std::array<uint8_t, 1232> buf{};
  MessageWriter w(buf, buf.size());
  EdnsOut edns;
  edns.pad_block = 468;  // RFC 8467 section 4.1 for responses
  ASSERT_TRUE(w.addQuestion(N("example.com"), rrtype::kA, rrclass::kIn).ok());
  ASSERT_TRUE(w.setEdns(edns).ok());
  ASSERT_TRUE(w.addRr(Section::kAnswer, N("example.com"), rrtype::kA, rrclass::kIn, 1, a(1)).ok());
  const size_t len = w.finish();
  EXPECT_EQ(len, 468u);
  auto msg = Message::parse({buf.data(), len});
  ASSERT_TRUE(msg.ok());
  EXPECT_TRUE(findOption(*msg->edns(), ednsopt::kPadding).has_value());
}

TEST(WriterTest, EdnsThatCannotFitIsRefused) {
  std::array<uint8_t, 64> buf{};
  MessageWriter w(buf, 55);  // question fits (49), OPT (11) does not
  EdnsOut edns;
  ASSERT_TRUE(w.addQuestion(N("a-rather-long-label.example.com"), rrtype::kA, rrclass::kIn).ok());
  EXPECT_EQ(w.setEdns(edns).error(), WireError::kNoSpace);
}

}  // namespace
}  // namespace shoal::dns
