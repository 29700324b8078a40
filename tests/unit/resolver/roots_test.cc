#include "resolver/roots.h"

#include <gtest/gtest.h>

#include "dns/constants.h"
#include "resolver/builtin_roots.h"

namespace shoal::resolver {
namespace {

TEST(RootsTest, BuiltinHintsHaveThirteenDualStackServers) {
  const auto hints = parseRootHints(builtinRootHints());
  ASSERT_TRUE(hints.ok()) << hints.error;
  ASSERT_EQ(hints.servers.size(), 13u);
  for (const auto& server : hints.servers) {
    ASSERT_EQ(server.addresses.size(), 2u) << server.name.toText();
    EXPECT_TRUE(server.addresses[0].isV4());
    EXPECT_FALSE(server.addresses[1].isV4());
  }
  EXPECT_EQ(hints.servers[0].name.toText(), "A.ROOT-SERVERS.NET.");
  EXPECT_EQ(hints.servers[0].addresses[0].toString(), "198.41.0.4");
  EXPECT_EQ(hints.servers[1].addresses[0].toString(), "170.247.170.2");
}

TEST(RootsTest, BuiltinAnchorsAreKsk2017AndKsk2024) {
  const auto anchors = parseTrustAnchors(builtinTrustAnchors());
  ASSERT_TRUE(anchors.ok()) << anchors.error;
  ASSERT_EQ(anchors.anchors.size(), 2u);
  EXPECT_EQ(anchors.anchors[0].keyTag(), 20326);
  EXPECT_EQ(anchors.anchors[1].keyTag(), 38696);
  for (const auto& a : anchors.anchors) {
    EXPECT_TRUE(a.owner.isRoot());
    EXPECT_EQ(a.type, dns::rrtype::kDs);
    EXPECT_EQ(a.algorithm(), 8);
    EXPECT_EQ(a.rdata.size(), 4u + 32u);
  }
}

TEST(RootsTest, DnskeyAnchorKeyTag) {
  // KSK-2017's DNSKEY has key tag 20326 (RFC 4034 appendix B algorithm).
  const auto anchors = parseTrustAnchors(
      ". 172800 IN DNSKEY 257 3 8 "
      "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=\n");
  ASSERT_TRUE(anchors.ok()) << anchors.error;
  EXPECT_EQ(anchors.anchors[0].keyTag(), 20326);
  EXPECT_EQ(anchors.anchors[0].algorithm(), 8);
}

TEST(RootsTest, BadInputIsAClearError) {
  EXPECT_FALSE(parseRootHints("").ok());
  EXPECT_FALSE(parseRootHints(". 1 IN NS a.root.\n").ok());  // no address
  EXPECT_FALSE(parseRootHints("com. 1 IN NS a.root.\na.root. 1 IN A 192.0.2.1\n").ok());
  EXPECT_FALSE(parseTrustAnchors(". IN A 192.0.2.1\n").ok());
  EXPECT_FALSE(parseTrustAnchors(". IN DS 20326 8 2 E06D44B8\n").ok());  // short digest
  EXPECT_FALSE(parseTrustAnchors("").ok());
  EXPECT_FALSE(parseTrustAnchors("garbage\n").ok());
  EXPECT_TRUE(parseTrustAnchors("example. IN DS 1 13 2 "
                                "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
                  .ok());
}

}  // namespace
}  // namespace shoal::resolver
