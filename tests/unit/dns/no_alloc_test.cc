// The hot path (parse a query, write an answer) must not allocate. This
// binary links the counting operator new (tests/unit/counting_new.cc) and
// checks that parsing and writing leave the count unchanged.

#include <gtest/gtest.h>

#include <array>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "tests/unit/counting_new.h"

namespace shoal::dns {
namespace {

TEST(NoAllocTest, QueryParseAndAnswerWriteDoNotAllocate) {
  // A real kdig query: "www.example.com A" with EDNS, DO and a cookie.
  const uint8_t query[] = {
      0x9a, 0x3c, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
      0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,
      0x00, 0x01, 0x00, 0x01,
      0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x80, 0x00, 0x00, 0x0c,
      0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};
  std::array<uint8_t, 1232> out{};
  const size_t before = testing_util::allocationCount();

  auto msg = Message::parse(query);
  ASSERT_TRUE(msg.ok());
  ASSERT_TRUE(msg->question().has_value());
  auto cookie = findOption(*msg->edns(), ednsopt::kCookie);
  ASSERT_TRUE(cookie.has_value());
  auto parsed_cookie = parseCookie(cookie->data);
  ASSERT_TRUE(parsed_cookie.ok());

  MessageWriter w(out, msg->edns()->udp_size);
  w.setId(msg->header().id);
  w.setFlags(flag::kQr | flag::kRd | flag::kRa);
  ASSERT_TRUE(w.addQuestion(msg->question()->name, msg->question()->type, rrclass::kIn).ok());
  EdnsOut edns;
  edns.dnssec_ok = true;
  ASSERT_TRUE(edns.options.addCookie(*parsed_cookie).ok());
  ASSERT_TRUE(w.setEdns(edns).ok());
  const uint8_t rdata[] = {192, 0, 2, 1};
  ASSERT_TRUE(w.addRr(Section::kAnswer, msg->question()->name, rrtype::kA, rrclass::kIn, 300, rdata).ok());
  const size_t len = w.finish();

  const size_t after = testing_util::allocationCount();
  EXPECT_EQ(after, before) << "the hot path allocated";
  EXPECT_GT(len, sizeof(query));
}

}  // namespace
}  // namespace shoal::dns
