#include "dns/rdata.h"

#include <gtest/gtest.h>

#include <array>

#include "dns/constants.h"
#include "dns/message.h"
#include "tests/unit/dns/test_util.h"

namespace shoal::dns {
namespace {

using testing_util::bytes;

// A response with one answer RR whose rdata is given; the owner is the
// question name via a pointer to offset 12 ("example.com").
std::vector<uint8_t> response(uint16_t type, std::vector<uint8_t> rdata) {
  auto pkt = bytes({0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
                    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
                    0, 1, 0, 1,
                    0xC0, 12});
  pkt.push_back(static_cast<uint8_t>(type >> 8));
  pkt.push_back(static_cast<uint8_t>(type));
  pkt.insert(pkt.end(), {0, 1, 0, 0, 0, 60});
  pkt.push_back(static_cast<uint8_t>(rdata.size() >> 8));
  pkt.push_back(static_cast<uint8_t>(rdata.size()));
  pkt.insert(pkt.end(), rdata.begin(), rdata.end());
  return pkt;
}

WireResult<std::vector<uint8_t>> expand(const std::vector<uint8_t>& pkt) {
  auto msg = Message::parse(pkt);
  if (!msg) return base::fail(msg.error());
  std::array<uint8_t, 1024> out{};
  for (const RrView& rr : msg->section(Section::kAnswer)) {
    auto n = decompressRdata(*msg, rr, out);
    if (!n) return base::fail(n.error());
    return std::vector<uint8_t>(out.begin(), out.begin() + static_cast<long>(*n));
  }
  return base::fail(WireError::kTruncated);
}

TEST(RdataTest, MxNameIsExpanded) {
  auto out = expand(response(rrtype::kMx, bytes({0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 12})));
  ASSERT_TRUE(out.ok());
  const auto want = bytes({0, 10, 4, 'm', 'a', 'i', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                           3, 'c', 'o', 'm', 0});
  EXPECT_EQ(*out, want);
}

TEST(RdataTest, SoaNeedsTwentyTrailingOctets) {
  std::vector<uint8_t> soa = bytes({0xC0, 12, 0xC0, 12});
  soa.resize(soa.size() + 20, 1);
  auto out = expand(response(rrtype::kSoa, soa));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 13u + 13u + 20u);
  soa.pop_back();
  EXPECT_EQ(expand(response(rrtype::kSoa, soa)).error(), WireError::kBadRdata);
}

TEST(RdataTest, FixedSizesAreChecked) {
  EXPECT_TRUE(expand(response(rrtype::kA, bytes({1, 2, 3, 4}))).ok());
  EXPECT_EQ(expand(response(rrtype::kA, bytes({1, 2, 3}))).error(), WireError::kBadRdata);
  EXPECT_EQ(expand(response(rrtype::kAaaa, bytes({1, 2, 3, 4}))).error(), WireError::kBadRdata);
}

TEST(RdataTest, NameMustEndInsideRdata) {
  // CNAME rdata "3 a b" followed by data beyond the rdata.
  EXPECT_EQ(expand(response(rrtype::kCname, bytes({3, 'a', 'b'}))).error(), WireError::kBadRdata);
  // Extra octets after the name.
  EXPECT_EQ(expand(response(rrtype::kCname, bytes({0, 7}))).error(), WireError::kBadRdata);
}

TEST(RdataTest, NaptrNameIsExpanded) {
  auto rdata = bytes({0, 1, 0, 2, 1, 'u', 0, 0, 0xC0, 12});
  auto out = expand(response(rrtype::kNaptr, rdata));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->size(), 4u + 2u + 1u + 1u + 13u);
}

TEST(RdataTest, UnknownTypesAreCopiedVerbatim) {
  auto rdata = bytes({0xC0, 12, 9, 9});
  auto out = expand(response(65280, rdata));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, rdata);
}

TEST(RdataTest, OutputBufferLimitIsRespected) {
  auto pkt = response(rrtype::kMx, bytes({0, 10, 0xC0, 12}));
  auto msg = Message::parse(pkt);
  ASSERT_TRUE(msg.ok());
  std::array<uint8_t, 8> small{};
  for (const RrView& rr : msg->section(Section::kAnswer)) {
    EXPECT_EQ(decompressRdata(*msg, rr, small).error(), WireError::kNoSpace);
  }
}

}  // namespace
}  // namespace shoal::dns
