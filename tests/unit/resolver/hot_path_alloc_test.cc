// The hot path must not allocate: answering a query from the shared cache
// (parse, lookup, CNAME chain, write, EDNS) is checked here with the counting
// operator new (tests/unit/counting_new.cc): its own binary.

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/message.h"
#include "dns/writer.h"
#include "resolver/answer.h"
#include "resolver/cache_format.h"
#include "shmcache/cache.h"
#include "tests/unit/counting_new.h"

namespace shoal::resolver {
namespace {

dns::Name N(const char* text) { return *dns::Name::fromText(text); }

void store(shmcache::Cache& cache, const char* owner, uint16_t type,
           std::vector<std::vector<uint8_t>> rdatas, int64_t now) {
  Rrset rrset;
  rrset.owner = N(owner);
  rrset.type = type;
  rrset.rdatas = std::move(rdatas);
  const auto key = rrset.owner.lookupKey();
  shmcache::Meta meta;
  meta.expires_at = now + 300;
  meta.rank = static_cast<uint8_t>(Rank::kAuthoritativeAnswer);
  ASSERT_TRUE(cache
                  .insert({key.bytes(), type, static_cast<uint8_t>(Kind::kRrset)},
                          shmcache::Partition::global(), meta, encodeRrset(rrset), now)
                  .ok());
}

std::vector<uint8_t> query(const char* name, uint16_t type) {
  std::vector<uint8_t> q(512);
  dns::MessageWriter w(q, q.size());
  w.setId(0x1234);
  w.setFlags(dns::flag::kRd);
  EXPECT_TRUE(w.addQuestion(N(name), type, dns::rrclass::kIn).ok());
  dns::EdnsOut edns;
  edns.dnssec_ok = true;
  EXPECT_TRUE(w.setEdns(edns).ok());
  q.resize(w.finish());
  return q;
}

TEST(HotPathAllocTest, CacheHitsDoNotAllocate) {
  shmcache::Options options;
  options.name = "/shoal-alloc-test-" + std::to_string(getpid());
  options.size = 4u << 20;
  options.stripes = 4;
  const int64_t now = 1'700'000'000;
  auto cache = shmcache::Cache::open(options, now);
  ASSERT_TRUE(cache.ok());
  const auto target = N("www.example.com");
  store(**cache, "www.example.com", dns::rrtype::kA, {{192, 0, 2, 1}, {192, 0, 2, 2}}, now);
  store(**cache, "alias.example.com", dns::rrtype::kCname,
        {{target.wire().begin(), target.wire().end()}}, now);
  const auto direct = query("WWW.example.com", dns::rrtype::kA);
  const auto chained = query("alias.example.com", dns::rrtype::kA);
  const auto client = *base::IpAddress::parse("127.0.0.1");
  std::vector<uint8_t> out(65535);
  std::vector<uint8_t> scratch(65535);

  const size_t before = testing_util::allocationCount();
  const auto a = answerFromCache(direct, client, false, **cache, {}, now + 10, out, scratch);
  const size_t a_len = a.length;
  const auto b = answerFromCache(chained, client, false, **cache, {}, now + 10, out, scratch);
  const size_t after = testing_util::allocationCount();

  EXPECT_EQ(after, before) << "the hot path allocated";
  EXPECT_EQ(a.result, HotPathResult::kAnswered);
  EXPECT_GT(a_len, direct.size());
  ASSERT_EQ(b.result, HotPathResult::kAnswered);
  auto msg = dns::Message::parse({out.data(), b.length});
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->count(dns::Section::kAnswer), 3);  // CNAME + 2 A
  EXPECT_TRUE(msg->header().has(dns::flag::kRa));
  shmcache::Cache::unlink(options.name);
}

}  // namespace
}  // namespace shoal::resolver
