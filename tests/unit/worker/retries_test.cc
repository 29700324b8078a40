#include "worker/retries.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/name.h"
#include "dns/writer.h"

namespace shoal::worker {
namespace {

std::vector<uint8_t> query(const char* name, uint16_t type, uint16_t id) {
  std::vector<uint8_t> out(512);
  dns::MessageWriter writer(out, out.size());
  writer.setId(id);
  writer.setFlags(dns::flag::kRd);
  EXPECT_TRUE(writer.addQuestion(*dns::Name::fromText(name), type, dns::rrclass::kIn).ok());
  out.resize(writer.finish());
  return out;
}

base::IpAddress ip(const char* text) { return *base::IpAddress::parse(text); }

constexpr int64_t kNow = 1'700'000'000'000;

TEST(RetryDetectorTest, TheSameQueryAgainWithinTheWindowIsARetry) {
  auto retries = std::make_unique<RetryDetector>();
  const auto q = query("www.example.com.", dns::rrtype::kA, 0x1234);
  const auto client = ip("198.51.100.7");
  EXPECT_FALSE(retries->isRetry(q, client, kNow));
  EXPECT_TRUE(retries->isRetry(q, client, kNow + 1000));
  // Each retry restarts the window.
  EXPECT_TRUE(retries->isRetry(q, client, kNow + 1000 + RetryDetector::kWindowMs));
  EXPECT_FALSE(retries->isRetry(q, client, kNow + 1001 + 2 * RetryDetector::kWindowMs));
}

TEST(RetryDetectorTest, AnotherClientIdOrQuestionIsNot) {
  auto retries = std::make_unique<RetryDetector>();
  const auto client = ip("198.51.100.7");
  EXPECT_FALSE(retries->isRetry(query("www.example.com.", dns::rrtype::kA, 1), client, kNow));
  EXPECT_FALSE(retries->isRetry(query("www.example.com.", dns::rrtype::kA, 1), ip("198.51.100.8"),
                                kNow));
  EXPECT_FALSE(retries->isRetry(query("www.example.com.", dns::rrtype::kA, 2), client, kNow));
  EXPECT_FALSE(retries->isRetry(query("www.example.com.", dns::rrtype::kAaaa, 1), client, kNow));
  EXPECT_FALSE(retries->isRetry(query("mail.example.com.", dns::rrtype::kA, 1), client, kNow));
  EXPECT_FALSE(retries->isRetry(query("www.example.com.", dns::rrtype::kA, 1), ip("2001:db8::7"),
                                kNow));
}

TEST(RetryDetectorTest, MalformedQueriesAreNeverRetries) {
  auto retries = std::make_unique<RetryDetector>();
  const auto client = ip("198.51.100.7");
  std::vector<uint8_t> q = query("www.example.com.", dns::rrtype::kA, 7);
  for (size_t length = 0; length < q.size(); ++length) {
    const std::span<const uint8_t> cut(q.data(), length);
    EXPECT_FALSE(retries->isRetry(cut, client, kNow));
    EXPECT_FALSE(retries->isRetry(cut, client, kNow + 1)) << length;
  }
  q[12] = 0xC0;  // a compression pointer where the name starts
  EXPECT_FALSE(retries->isRetry(q, client, kNow));
  EXPECT_FALSE(retries->isRetry(q, client, kNow + 1));
}

}  // namespace
}  // namespace shoal::worker
