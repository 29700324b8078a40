#include "dns/name.h"

#include "tests/unit/dns/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace shoal::dns {
namespace {

using testing_util::bytes;
using testing_util::N;

TEST(NameTest, TextRoundTrip) {
  EXPECT_EQ(N("www.Example.com").toText(), "www.Example.com.");
  EXPECT_EQ(N("www.example.com.").toText(), "www.example.com.");
  EXPECT_EQ(N(".").toText(), ".");
  EXPECT_TRUE(N(".").isRoot());
  EXPECT_EQ(N("a\\.b.c").labelCount(), 2u);
  EXPECT_EQ(N("a\\.b.c").toText(), "a\\.b.c.");
  EXPECT_EQ(N("\\000\\255x.").toText(), "\\000\\255x.");
}

TEST(NameTest, TextErrors) {
  EXPECT_FALSE(Name::fromText("").ok());
  EXPECT_FALSE(Name::fromText("a..b").ok());
  EXPECT_FALSE(Name::fromText(".a").ok());
  EXPECT_FALSE(Name::fromText("a\\").ok());
  EXPECT_FALSE(Name::fromText("a\\25").ok());
  EXPECT_FALSE(Name::fromText("a\\256").ok());
  EXPECT_EQ(Name::fromText(std::string(64, 'a')).error(), WireError::kLabelTooLong);
  EXPECT_TRUE(Name::fromText(std::string(63, 'a')).ok());
  // 4 labels of 63 = 4*64 + 1 = 257 octets: too long.
  const std::string l63(63, 'x');
  EXPECT_EQ(Name::fromText(l63 + "." + l63 + "." + l63 + "." + l63).error(),
            WireError::kNameTooLong);
  // 3*64 + 62 + 1 = 255: the longest legal name.
  auto longest = Name::fromText(l63 + "." + l63 + "." + l63 + "." + std::string(61, 'y'));
  ASSERT_TRUE(longest.ok());
  EXPECT_EQ(longest->length(), 255u);
}

TEST(NameTest, LabelsAndParents) {
  const Name n = N("www.example.com");
  EXPECT_EQ(n.labelCount(), 3u);
  auto l = n.label(1);
  EXPECT_EQ(std::string(l.begin(), l.end()), "example");
  EXPECT_EQ(n.parent().toText(), "example.com.");
  EXPECT_EQ(n.suffix(1).toText(), "com.");
  EXPECT_EQ(n.suffix(0).toText(), ".");
  EXPECT_EQ(n.suffix(5).toText(), "www.example.com.");
  EXPECT_TRUE(Name().parent().isRoot());
  const uint8_t label[] = {'a', 'b'};
  EXPECT_EQ(n.prepend(label)->toText(), "ab.www.example.com.");
}

TEST(NameTest, SubdomainIsCaseInsensitiveAndLabelAligned) {
  EXPECT_TRUE(N("www.EXAMPLE.com").isSubdomainOf(N("example.COM")));
  EXPECT_TRUE(N("example.com").isSubdomainOf(N("example.com")));
  EXPECT_TRUE(N("example.com").isSubdomainOf(Name()));
  EXPECT_FALSE(N("www.badexample.com").isSubdomainOf(N("example.com")));
  EXPECT_FALSE(N("com").isSubdomainOf(N("example.com")));
}

TEST(NameTest, EqualityIgnoresCase) {
  EXPECT_TRUE(N("WwW.ExAmple.CoM") == N("www.example.com"));
  EXPECT_FALSE(N("WwW.ExAmple.CoM").equalsExactly(N("www.example.com")));
  Name n = N("WwW.ExAmple.CoM");
  n.toLowerCase();
  EXPECT_TRUE(n.equalsExactly(N("www.example.com")));
}

// RFC 4034 section 6.1 gives this list in canonical order.
TEST(NameTest, CanonicalOrderMatchesRfc4034Example) {
  const std::vector<Name> ordered = {
      N("example"),       N("a.example"),       N("yljkjljk.a.example"),
      N("Z.a.example"),   N("zABC.a.EXAMPLE"),  N("z.example"),
      N("\\001.z.example"), N("*.z.example"),   N("\\200.z.example"),
  };
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      const int c = ordered[i].compareCanonical(ordered[j]);
      const int k = ordered[i].lookupKey().compare(ordered[j].lookupKey());
      if (i < j) {
        EXPECT_LT(c, 0) << i << " " << j;
        EXPECT_LT(k, 0) << i << " " << j;
      } else if (i == j) {
        EXPECT_EQ(c, 0);
        EXPECT_EQ(k, 0);
      } else {
        EXPECT_GT(c, 0);
        EXPECT_GT(k, 0);
      }
    }
  }
}

TEST(NameTest, LookupKeyLayout) {
  const auto key = N("www.Example.com").lookupKey();
  const std::string expect("com\0example\0www\0", 16);
  EXPECT_EQ(std::string(key.bytes().begin(), key.bytes().end()), expect);
  EXPECT_EQ(Name().lookupKey().length(), 0u);
}

// Binary labels: a bare-0x00 separator would sort "a\000" before "a.x"'s
// label "a"; the escaped key keeps canonical order.
TEST(NameTest, LookupKeyOrdersBinaryLabelsExactly) {
  const Name a = N("x.a.parent");
  const Name b = N("a\\000.parent");
  EXPECT_LT(a.compareCanonical(b), 0);
  EXPECT_LT(a.lookupKey().compare(b.lookupKey()), 0);
  const Name c = N("a\\001.parent");
  EXPECT_LT(b.compareCanonical(c), 0);
  EXPECT_LT(b.lookupKey().compare(c.lookupKey()), 0);
}

TEST(NameTest, LookupKeyRoundTrip) {
  for (const char* text : {".", "com", "www.example.com", "a\\000\\001\\002.b", "*.wild.x"}) {
    const Name n = N(text);
    auto back = Name::fromLookupKey(n.lookupKey().bytes());
    ASSERT_TRUE(back.ok()) << text;
    Name lower = n;
    lower.toLowerCase();
    EXPECT_TRUE(back->equalsExactly(lower)) << text;
  }
  const uint8_t bad[] = {'a', 0x01, 0x07, 0x00};
  EXPECT_FALSE(Name::fromLookupKey(bad).ok());
  const uint8_t unterminated[] = {'a', 'b'};
  EXPECT_FALSE(Name::fromLookupKey(unterminated).ok());
}

TEST(NameTest, WireWithCompression) {
  // 12 octets of header padding, then "example.com" at 12, then "www" + ptr.
  auto pkt = bytes({0,0,0,0,0,0,0,0,0,0,0,0,
                    7,'e','x','a','m','p','l','e',3,'c','o','m',0,
                    3,'w','w','w',0xC0,12});
  auto a = Name::fromWire(pkt, 12);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->name.toText(), "example.com.");
  EXPECT_EQ(a->end, 25u);
  auto b = Name::fromWire(pkt, 25);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->name.toText(), "www.example.com.");
  EXPECT_EQ(b->end, pkt.size());
  EXPECT_EQ(*skipName(pkt, 25), pkt.size());
}

TEST(NameTest, WireRejectsLoopsAndForwardPointers) {
  // A pointer to itself.
  auto self = bytes({0xC0, 0});
  EXPECT_EQ(Name::fromWire(self, 0).error(), WireError::kPointerLoop);
  // Two labels pointing at each other: 0: "a" ptr->4 ; 4: "b" ptr->0.
  auto pair = bytes({1,'a',0xC0,4, 1,'b',0xC0,0});
  EXPECT_EQ(Name::fromWire(pair, 4).error(), WireError::kPointerLoop);
  EXPECT_EQ(Name::fromWire(pair, 0).error(), WireError::kPointerLoop);
  // A loop back into the same run: label at 0, pointer at 2 -> 0.
  auto run = bytes({1,'a',0xC0,0});
  EXPECT_EQ(Name::fromWire(run, 0).error(), WireError::kPointerLoop);
}

TEST(NameTest, WireRejectsBadLabels) {
  auto ext = bytes({0x40, 0});
  EXPECT_EQ(Name::fromWire(ext, 0).error(), WireError::kBadLabelType);
  // On the wire a length over 63 sets the label-type bits.
  std::vector<uint8_t> long_label(1, 64);
  long_label.resize(66, 'a');
  EXPECT_EQ(Name::fromWire(long_label, 0).error(), WireError::kBadLabelType);
  auto cut = bytes({3, 'a', 'b'});
  EXPECT_EQ(Name::fromWire(cut, 0).error(), WireError::kTruncated);
  auto no_root = bytes({1, 'a'});
  EXPECT_EQ(Name::fromWire(no_root, 0).error(), WireError::kTruncated);
  auto half_ptr = bytes({1, 'a', 0xC0});
  EXPECT_EQ(Name::fromWire(half_ptr, 0).error(), WireError::kTruncated);
  EXPECT_EQ(Name::fromWire({}, 0).error(), WireError::kTruncated);
}

TEST(NameTest, WireRejectsNamesOver255ViaPointers) {
  // Each label run adds 63+1 octets and points back to the previous run:
  // uncompressed it exceeds 255 although every piece is small.
  std::vector<uint8_t> pkt;
  pkt.push_back(0);  // root at 0
  size_t prev = 0;
  for (int i = 0; i < 5; ++i) {
    const size_t here = pkt.size();
    pkt.push_back(63);
    pkt.insert(pkt.end(), 63, 'z');
    pkt.push_back(static_cast<uint8_t>(0xC0 | (prev >> 8)));
    pkt.push_back(static_cast<uint8_t>(prev));
    prev = here;
  }
  EXPECT_EQ(Name::fromWire(pkt, prev).error(), WireError::kNameTooLong);
}

TEST(NameTest, FromUncompressed) {
  auto wire = bytes({3,'w','w','w',0, 0xFF});
  auto n = Name::fromUncompressed(wire);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->length(), 5u);
  auto ptr = bytes({3,'w','w','w',0xC0,0});
  EXPECT_FALSE(Name::fromUncompressed(ptr).ok());
}

}  // namespace
}  // namespace shoal::dns
