#include "dns/message.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/rdata.h"
#include "dns/writer.h"
#include "tests/unit/dns/test_util.h"

namespace shoal::dns {
namespace {

using testing_util::bytes;
using testing_util::N;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The captured packets (see testdata/README.md), located next to this file.
/// SHOAL_TESTDATA_DIR overrides the location if a build defines it.
std::filesystem::path testdataDir() {
#ifdef SHOAL_TESTDATA_DIR
  return std::filesystem::path(SHOAL_TESTDATA_DIR);
#else
  return std::filesystem::path(__FILE__).parent_path() / "testdata";
#endif
}

std::vector<uint8_t> load(const std::string& file) {
  const auto path = testdataDir() / file;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  auto packet = testing_util::hex(text.str());
  EXPECT_GE(packet.size(), kHeaderSize) << path;
  return packet;
}

/// Every captured packet; each must parse, and each is reused by the
/// malformed-input tests below.
const char* const kCaptures[] = {
    "query_kdig_edns_cookie.hex",   "query_kdig_cookie_retry.hex",
    "query_kdig_subnet.hex",        "query_kdig_padding.hex",
    "query_kdig_keepalive_tcp.hex", "query_kdig_noedns.hex",
    "query_kdig_bufsize512.hex",    "response_knot_badcookie.hex",
    "response_knot_cookie_cname.hex", "response_knot_mx_glue.hex",
    "response_knot_referral.hex",   "response_knot_cname.hex",
    "response_knot_nxdomain.hex",   "response_knot_tc.hex",
    "response_knot_nsid.hex",
};

std::vector<uint8_t> toVector(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> cat(std::initializer_list<std::span<const uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<RrView> rrsOf(const Message& msg, Section section) {
  std::vector<RrView> out;
  for (const RrView& rr : msg.section(section)) out.push_back(rr);
  return out;
}

std::vector<EdnsOption> optionsOf(const OptView& opt) {
  std::vector<EdnsOption> out;
  for (EdnsOption o : options(opt)) out.push_back(o);
  return out;
}

/// Checks one RR's owner (decoded, case preserved), type, class, TTL and
/// rdata length.
void expectRr(const Message& msg, const RrView& rr, const char* owner, uint16_t type,
              uint16_t rrclass, uint32_t ttl, uint16_t rdlength) {
  SCOPED_TRACE(owner);
  EXPECT_EQ(msg.ownerOf(rr).toText(), owner);
  EXPECT_EQ(rr.type, type);
  EXPECT_EQ(rr.rrclass, rrclass);
  EXPECT_EQ(rr.ttl, ttl);
  EXPECT_EQ(rr.rdlength, rdlength);
  EXPECT_EQ(msg.rdataOf(rr).size(), rdlength);
}

/// True if the owner of `rr` is written as a compression pointer.
bool ownerIsPointer(const Message& msg, const RrView& rr) {
  return (msg.packet()[rr.owner_offset] & 0xC0) == 0xC0;
}

std::vector<uint8_t> decompress(const Message& msg, const RrView& rr) {
  std::vector<uint8_t> out(kMaxRdataLength);
  auto n = decompressRdata(msg, rr, out);
  EXPECT_TRUE(n.ok()) << toString(n.error());
  if (!n) return {};
  out.resize(*n);
  return out;
}

void expectQuestion(const Message& msg, const char* name, uint16_t type, uint16_t qclass) {
  ASSERT_TRUE(msg.question().has_value());
  EXPECT_EQ(msg.question()->name.toText(), name);
  EXPECT_EQ(msg.question()->type, type);
  EXPECT_EQ(msg.question()->qclass, qclass);
}

void expectCounts(const Message& msg, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  EXPECT_EQ(msg.header().qdcount, qd);
  EXPECT_EQ(msg.header().ancount, an);
  EXPECT_EQ(msg.header().nscount, ns);
  EXPECT_EQ(msg.header().arcount, ar);
  EXPECT_EQ(msg.count(Section::kQuestion), qd);
  EXPECT_EQ(msg.count(Section::kAnswer), an);
  EXPECT_EQ(msg.count(Section::kAuthority), ns);
  EXPECT_EQ(msg.count(Section::kAdditional), ar);
  EXPECT_EQ(rrsOf(msg, Section::kAnswer).size(), an);
  EXPECT_EQ(rrsOf(msg, Section::kAuthority).size(), ns);
  EXPECT_EQ(rrsOf(msg, Section::kAdditional).size(), ar);
}

/// The OPT record kdig sends: always the only additional RR, right after
/// the question (offset 33 for "www.example.com").
void expectKdigOpt(const Message& msg, uint16_t udp_size, bool dnssec_ok, uint16_t rdlength) {
  auto additional = rrsOf(msg, Section::kAdditional);
  ASSERT_EQ(additional.size(), 1u);
  expectRr(msg, additional[0], ".", rrtype::kOpt, udp_size, dnssec_ok ? 0x8000u : 0u, rdlength);
  ASSERT_TRUE(msg.edns().has_value());
  EXPECT_EQ(msg.edns()->udp_size, udp_size);
  EXPECT_EQ(msg.edns()->ext_rcode, 0);
  EXPECT_EQ(msg.edns()->version, 0);
  EXPECT_EQ(msg.edns()->dnssec_ok, dnssec_ok);
  EXPECT_EQ(msg.edns()->z, 0);
  EXPECT_EQ(msg.edns()->options.size(), rdlength);
}

// The cookie of the capture: kdig's client cookie and knotd's server cookie
// (version 1, reserved, timestamp, hash per RFC 9018).
const auto kClientCookie = bytes({0x8f, 0x0f, 0xac, 0xd9, 0xf4, 0x01, 0x2d, 0x71});
const auto kServerCookie = bytes({0x01, 0x00, 0x00, 0x00, 0x6b, 0x02, 0x58, 0x56,
                                  0x42, 0x5f, 0x90, 0x2f, 0xa3, 0x90, 0x98, 0x2a});

void expectCookieOption(const OptView& opt, bool with_server) {
  auto opts = optionsOf(opt);
  ASSERT_EQ(opts.size(), 1u);
  EXPECT_EQ(opts[0].code, ednsopt::kCookie);
  EXPECT_EQ(opts[0].data.size(), with_server ? 24u : 8u);
  auto cookie = parseCookie(opts[0].data);
  ASSERT_TRUE(cookie.ok());
  EXPECT_EQ(toVector(cookie->client), kClientCookie);
  if (with_server) {
    EXPECT_EQ(cookie->server_length, 16);
    EXPECT_EQ(toVector({cookie->server.data(), cookie->server_length}), kServerCookie);
  } else {
    EXPECT_EQ(cookie->server_length, 0);
  }
  ASSERT_TRUE(findOption(opt, ednsopt::kCookie).has_value());
  EXPECT_FALSE(findOption(opt, ednsopt::kClientSubnet).has_value());
}

WireResult<Message> parse(const std::vector<uint8_t>& packet) { return Message::parse(packet); }

/// Builds hand-made packets for the malformed-input tests.
class Packet {
 public:
  Packet(uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
    u16(0x1234).u16(0x0100).u16(qd).u16(an).u16(ns).u16(ar);
  }
  Packet& raw(std::initializer_list<int> v) {
    for (int b : v) bytes_.push_back(static_cast<uint8_t>(b));
    return *this;
  }
  Packet& u16(uint16_t v) { return raw({v >> 8, v & 0xFF}); }
  Packet& u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v));
  }
  /// An uncompressed name.
  Packet& name(const char* text) {
    const Name n = N(text);
    bytes_.insert(bytes_.end(), n.wire().begin(), n.wire().end());
    return *this;
  }
  Packet& ptr(size_t target) {
    return raw({0xC0 | static_cast<int>(target >> 8), static_cast<int>(target & 0xFF)});
  }
  /// Type, class of a question.
  Packet& question(uint16_t type, uint16_t qclass) { return u16(type).u16(qclass); }
  /// Type, class, TTL, rdlength of an RR.
  Packet& fixed(uint16_t type, uint16_t rrclass, uint32_t ttl, uint16_t rdlength) {
    return u16(type).u16(rrclass).u32(ttl).u16(rdlength);
  }
  /// A root-owned OPT with the given rdata.
  Packet& opt(std::initializer_list<int> rdata) {
    raw({0}).fixed(rrtype::kOpt, 1232, 0, static_cast<uint16_t>(rdata.size()));
    return raw(rdata);
  }
  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& get() const { return bytes_; }
  WireResult<Message> parse() const { return Message::parse(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

WireError parseError(const std::vector<uint8_t>& packet) {
  auto msg = Message::parse(packet);
  if (msg.ok()) {
    ADD_FAILURE() << "malformed packet parsed";
    return WireError::kBadState;  // never returned by parse
  }
  return msg.error();
}
WireError parseError(const Packet& packet) { return parseError(packet.get()); }

void setCount(std::vector<uint8_t>& packet, Section section, uint16_t value) {
  const size_t at = 4 + 2 * static_cast<size_t>(section);
  packet[at] = static_cast<uint8_t>(value >> 8);
  packet[at + 1] = static_cast<uint8_t>(value);
}
uint16_t countIn(const std::vector<uint8_t>& packet, Section section) {
  const size_t at = 4 + 2 * static_cast<size_t>(section);
  return static_cast<uint16_t>(packet[at] << 8 | packet[at + 1]);
}

// ---------------------------------------------------------------------------
// Task 1: real packets from kdig and knotd
// ---------------------------------------------------------------------------

TEST(MessageCaptureTest, AllCapturesParseCompletely) {
  for (const char* file : kCaptures) {
    SCOPED_TRACE(file);
    const auto packet = load(file);
    auto msg = parse(packet);
    ASSERT_TRUE(msg.ok()) << toString(msg.error());
    EXPECT_EQ(msg->packet().size(), packet.size());
    EXPECT_EQ(msg->packet().data(), packet.data());  // a view, not a copy
    // Every RR's rdata lies inside the packet and the sections tile it.
    for (Section s : {Section::kAnswer, Section::kAuthority, Section::kAdditional}) {
      for (const RrView& rr : msg->section(s)) {
        EXPECT_EQ(rr.section, s);
        EXPECT_LE(rr.rdata_offset + rr.rdlength, packet.size());
        if (rr.type != rrtype::kOpt) (void)decompress(*msg, rr);
      }
    }
  }
}

TEST(MessageCaptureTest, KdigQueryWithEdnsDoAndCookie) {
  const auto packet = load("query_kdig_edns_cookie.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(packet.size(), 56u);
  const Header& h = msg->header();
  EXPECT_EQ(h.id, 0x9bf3);
  EXPECT_EQ(h.flags, flag::kRd | flag::kAd);  // kdig sets AD in queries
  EXPECT_FALSE(h.has(flag::kQr));
  EXPECT_FALSE(h.has(flag::kCd));
  EXPECT_EQ(h.opcode(), opcode::kQuery);
  EXPECT_EQ(msg->rcode(), rcode::kNoError);
  expectCounts(*msg, 1, 0, 0, 1);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  expectKdigOpt(*msg, 4096, /*dnssec_ok=*/true, 12);
  EXPECT_EQ(rrsOf(*msg, Section::kAdditional)[0].owner_offset, 33u);
  expectCookieOption(*msg->edns(), /*with_server=*/false);
}

TEST(MessageCaptureTest, KnotBadCookieCarriesExtendedRcodeAndServerCookie) {
  const auto packet = load("response_knot_badcookie.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  const Header& h = msg->header();
  EXPECT_EQ(h.id, 0x9bf3);  // same id as the query
  EXPECT_EQ(h.flags, 0x8107);
  EXPECT_TRUE(h.has(flag::kQr));
  EXPECT_TRUE(h.has(flag::kRd));
  EXPECT_FALSE(h.has(flag::kAa));
  EXPECT_FALSE(h.has(flag::kRa));
  EXPECT_EQ(h.rcodeLow(), 7);
  // 23 = BADCOOKIE: 7 in the header, 1 in the OPT's extended rcode.
  EXPECT_EQ(msg->rcode(), rcode::kBadCookie);
  expectCounts(*msg, 1, 0, 0, 1);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  auto additional = rrsOf(*msg, Section::kAdditional);
  ASSERT_EQ(additional.size(), 1u);
  expectRr(*msg, additional[0], ".", rrtype::kOpt, 1232, 0x01008000u, 28);
  ASSERT_TRUE(msg->edns().has_value());
  EXPECT_EQ(msg->edns()->udp_size, 1232);
  EXPECT_EQ(msg->edns()->ext_rcode, 1);
  EXPECT_EQ(msg->edns()->version, 0);
  EXPECT_TRUE(msg->edns()->dnssec_ok);
  EXPECT_EQ(msg->edns()->z, 0);
  expectCookieOption(*msg->edns(), /*with_server=*/true);
}

TEST(MessageCaptureTest, KdigRetryEchoesTheServerCookie) {
  const auto packet = load("query_kdig_cookie_retry.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0x135a);
  EXPECT_EQ(msg->header().flags, flag::kRd | flag::kAd);
  expectCounts(*msg, 1, 0, 0, 1);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  expectKdigOpt(*msg, 4096, /*dnssec_ok=*/true, 28);
  expectCookieOption(*msg->edns(), /*with_server=*/true);
}

TEST(MessageCaptureTest, KnotCnameAnswerWithCookie) {
  const auto packet = load("response_knot_cookie_cname.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0x135a);
  EXPECT_EQ(msg->header().flags, flag::kQr | flag::kAa | flag::kRd);
  EXPECT_EQ(msg->rcode(), rcode::kNoError);
  expectCounts(*msg, 1, 2, 0, 1);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  auto answer = rrsOf(*msg, Section::kAnswer);
  ASSERT_EQ(answer.size(), 2u);
  expectRr(*msg, answer[0], "www.example.com.", rrtype::kCname, rrclass::kIn, 120, 7);
  expectRr(*msg, answer[1], "host.example.com.", rrtype::kA, rrclass::kIn, 60, 4);
  EXPECT_TRUE(ownerIsPointer(*msg, answer[0]));
  EXPECT_TRUE(ownerIsPointer(*msg, answer[1]));
  EXPECT_EQ(decompress(*msg, answer[0]), toVector(N("host.example.com").wire()));
  EXPECT_EQ(decompress(*msg, answer[1]), bytes({192, 0, 2, 80}));
  auto additional = rrsOf(*msg, Section::kAdditional);
  ASSERT_EQ(additional.size(), 1u);
  expectRr(*msg, additional[0], ".", rrtype::kOpt, 1232, 0x8000u, 28);
  ASSERT_TRUE(msg->edns().has_value());
  EXPECT_TRUE(msg->edns()->dnssec_ok);
  EXPECT_EQ(msg->edns()->ext_rcode, 0);
  expectCookieOption(*msg->edns(), /*with_server=*/true);
}

TEST(MessageCaptureTest, KdigQueryWithClientSubnet) {
  const auto packet = load("query_kdig_subnet.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0xab60);
  EXPECT_EQ(msg->header().flags, flag::kRd | flag::kAd);
  expectCounts(*msg, 1, 0, 0, 1);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  expectKdigOpt(*msg, 4096, /*dnssec_ok=*/false, 11);
  auto opts = optionsOf(*msg->edns());
  ASSERT_EQ(opts.size(), 1u);
  EXPECT_EQ(opts[0].code, ednsopt::kClientSubnet);
  EXPECT_EQ(opts[0].data.size(), 7u);
  auto ecs = parseClientSubnet(opts[0].data);
  ASSERT_TRUE(ecs.ok()) << toString(ecs.error());
  EXPECT_EQ(ecs->family, 1);
  EXPECT_EQ(ecs->source_prefix, 24);
  EXPECT_EQ(ecs->scope_prefix, 0);
  std::array<uint8_t, 16> address{};
  address[0] = 192;
  address[1] = 0;
  address[2] = 2;
  EXPECT_EQ(ecs->address, address);
  EXPECT_EQ(ecs->bodyLength(), 7u);
  // Re-encoding gives kdig's bytes back.
  EdnsOptionsBuilder builder;
  ASSERT_TRUE(builder.addClientSubnet(*ecs).ok());
  EXPECT_EQ(toVector(builder.bytes()), toVector(msg->edns()->options));
}

TEST(MessageCaptureTest, KdigQueryWithPadding) {
  const auto packet = load("query_kdig_padding.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(packet.size(), 128u);  // padded to the 128-octet block (RFC 8467)
  EXPECT_EQ(msg->header().id, 0x88b8);
  expectCounts(*msg, 1, 0, 0, 1);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  expectKdigOpt(*msg, 4096, /*dnssec_ok=*/false, 84);
  auto opts = optionsOf(*msg->edns());
  ASSERT_EQ(opts.size(), 1u);
  EXPECT_EQ(opts[0].code, ednsopt::kPadding);
  ASSERT_EQ(opts[0].data.size(), 80u);
  for (uint8_t b : opts[0].data) EXPECT_EQ(b, 0);
  EXPECT_EQ(opts[0].data.data() + opts[0].data.size(), packet.data() + packet.size());
}

TEST(MessageCaptureTest, KdigTcpQueryWithKeepalive) {
  const auto packet = load("query_kdig_keepalive_tcp.hex");  // TCP length stripped
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(packet.size(), 48u);
  EXPECT_EQ(msg->header().id, 0x0807);
  expectCounts(*msg, 1, 0, 0, 1);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  expectKdigOpt(*msg, 4096, /*dnssec_ok=*/false, 4);
  auto opts = optionsOf(*msg->edns());
  ASSERT_EQ(opts.size(), 1u);
  EXPECT_EQ(opts[0].code, ednsopt::kTcpKeepalive);
  EXPECT_TRUE(opts[0].data.empty());
  auto keepalive = parseTcpKeepalive(opts[0].data);
  ASSERT_TRUE(keepalive.ok());
  EXPECT_FALSE(keepalive->timeout.has_value());  // queries carry no timeout
}

TEST(MessageCaptureTest, KdigQueryWithoutEdns) {
  const auto packet = load("query_kdig_noedns.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(packet.size(), 29u);
  EXPECT_EQ(msg->header().id, 0x5110);
  EXPECT_EQ(msg->header().flags, flag::kRd | flag::kAd);
  expectCounts(*msg, 1, 0, 0, 0);
  expectQuestion(*msg, "example.com.", rrtype::kMx, rrclass::kIn);
  EXPECT_FALSE(msg->edns().has_value());
  EXPECT_EQ(msg->rcode(), rcode::kNoError);
}

TEST(MessageCaptureTest, KnotMxAnswerWithGlue) {
  const auto packet = load("response_knot_mx_glue.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(packet.size(), 94u);
  EXPECT_EQ(msg->header().id, 0x5110);
  EXPECT_EQ(msg->header().flags, flag::kQr | flag::kAa | flag::kRd);
  EXPECT_EQ(msg->rcode(), rcode::kNoError);
  EXPECT_FALSE(msg->edns().has_value());
  expectCounts(*msg, 1, 1, 0, 2);
  expectQuestion(*msg, "example.com.", rrtype::kMx, rrclass::kIn);

  auto answer = rrsOf(*msg, Section::kAnswer);
  ASSERT_EQ(answer.size(), 1u);
  expectRr(*msg, answer[0], "example.com.", rrtype::kMx, rrclass::kIn, 300, 9);
  EXPECT_EQ(answer[0].owner_offset, 29u);
  EXPECT_TRUE(ownerIsPointer(*msg, answer[0]));
  // Preference 10, then "mail" + pointer to example.com.
  EXPECT_EQ(toVector(msg->rdataOf(answer[0])),
            bytes({0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 0x0C}));
  EXPECT_EQ(decompress(*msg, answer[0]),
            cat({bytes({0, 10}), N("mail.example.com").wire()}));

  auto glue = rrsOf(*msg, Section::kAdditional);
  ASSERT_EQ(glue.size(), 2u);
  // The glue owners point into the MX rdata ("mail" at offset 43).
  expectRr(*msg, glue[0], "mail.example.com.", rrtype::kA, rrclass::kIn, 600, 4);
  expectRr(*msg, glue[1], "mail.example.com.", rrtype::kAaaa, rrclass::kIn, 600, 16);
  EXPECT_EQ(toVector(msg->packet().subspan(glue[0].owner_offset, 2)), bytes({0xC0, 43}));
  EXPECT_EQ(decompress(*msg, glue[0]), bytes({192, 0, 2, 25}));
  EXPECT_EQ(decompress(*msg, glue[1]),
            bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25}));
  EXPECT_TRUE(rrsOf(*msg, Section::kAuthority).empty());
}

TEST(MessageCaptureTest, KnotReferralWithAuthorityAndGlue) {
  const auto packet = load("response_knot_referral.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0x0538);
  EXPECT_EQ(msg->header().flags, flag::kQr | flag::kRd);  // not authoritative
  EXPECT_EQ(msg->rcode(), rcode::kNoError);
  expectCounts(*msg, 1, 0, 1, 1);
  expectQuestion(*msg, "mail.sub.example.com.", rrtype::kA, rrclass::kIn);
  EXPECT_TRUE(rrsOf(*msg, Section::kAnswer).empty());

  auto authority = rrsOf(*msg, Section::kAuthority);
  ASSERT_EQ(authority.size(), 1u);
  expectRr(*msg, authority[0], "sub.example.com.", rrtype::kNs, rrclass::kIn, 3600, 5);
  EXPECT_TRUE(ownerIsPointer(*msg, authority[0]));
  EXPECT_EQ(decompress(*msg, authority[0]), toVector(N("ns.sub.example.com").wire()));

  auto additional = rrsOf(*msg, Section::kAdditional);
  ASSERT_EQ(additional.size(), 1u);
  // Owner is a pointer into the NS rdata, whose name points to the question.
  expectRr(*msg, additional[0], "ns.sub.example.com.", rrtype::kA, rrclass::kIn, 3600, 4);
  EXPECT_TRUE(ownerIsPointer(*msg, additional[0]));
  EXPECT_EQ(decompress(*msg, additional[0]), bytes({192, 0, 2, 53}));
}

TEST(MessageCaptureTest, KnotCnameAnswer) {
  const auto packet = load("response_knot_cname.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(packet.size(), 68u);
  EXPECT_EQ(msg->header().id, 0x588b);
  EXPECT_EQ(msg->header().flags, flag::kQr | flag::kAa | flag::kRd);
  EXPECT_FALSE(msg->edns().has_value());
  expectCounts(*msg, 1, 2, 0, 0);
  expectQuestion(*msg, "www.example.com.", rrtype::kA, rrclass::kIn);
  auto answer = rrsOf(*msg, Section::kAnswer);
  ASSERT_EQ(answer.size(), 2u);
  expectRr(*msg, answer[0], "www.example.com.", rrtype::kCname, rrclass::kIn, 120, 7);
  EXPECT_EQ(answer[0].owner_offset, 33u);
  EXPECT_EQ(answer[0].rdata_offset, 45u);
  // "host" + pointer to "example.com" inside the question.
  EXPECT_EQ(toVector(msg->rdataOf(answer[0])), bytes({4, 'h', 'o', 's', 't', 0xC0, 0x10}));
  EXPECT_EQ(decompress(*msg, answer[0]), toVector(N("host.example.com").wire()));
  // The A's owner points at the CNAME's target inside the rdata.
  expectRr(*msg, answer[1], "host.example.com.", rrtype::kA, rrclass::kIn, 60, 4);
  EXPECT_EQ(toVector(msg->packet().subspan(answer[1].owner_offset, 2)), bytes({0xC0, 45}));
  EXPECT_EQ(decompress(*msg, answer[1]), bytes({192, 0, 2, 80}));
  EXPECT_TRUE(msg->ownerOf(answer[1]) ==
              *Name::fromUncompressed(decompress(*msg, answer[0])));
}

TEST(MessageCaptureTest, KnotNxdomainWithSoa) {
  const auto packet = load("response_knot_nxdomain.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0x7ca1);
  EXPECT_EQ(msg->header().flags, flag::kQr | flag::kAa | flag::kRd | rcode::kNxDomain);
  EXPECT_EQ(msg->header().rcodeLow(), rcode::kNxDomain);
  EXPECT_EQ(msg->rcode(), rcode::kNxDomain);
  EXPECT_FALSE(msg->edns().has_value());
  expectCounts(*msg, 1, 0, 1, 0);
  expectQuestion(*msg, "nope.example.com.", rrtype::kA, rrclass::kIn);
  auto authority = rrsOf(*msg, Section::kAuthority);
  ASSERT_EQ(authority.size(), 1u);
  // Owner points into the question name (offset 17 = "example.com"); the
  // TTL is the SOA minimum (RFC 2308).
  expectRr(*msg, authority[0], "example.com.", rrtype::kSoa, rrclass::kIn, 300, 39);
  EXPECT_EQ(toVector(msg->packet().subspan(authority[0].owner_offset, 2)), bytes({0xC0, 17}));
  const auto soa = decompress(*msg, authority[0]);
  const auto expected =
      cat({N("ns1.example.com").wire(), N("hostmaster.example.com").wire(),
           bytes({0x78, 0xa3, 0xf1, 0x75,    // serial 2024010101
                  0x00, 0x00, 0x1c, 0x20,    // refresh 7200
                  0x00, 0x00, 0x0e, 0x10,    // retry 3600
                  0x00, 0x12, 0x75, 0x00,    // expire 1209600
                  0x00, 0x00, 0x01, 0x2c})});  // minimum 300
  EXPECT_EQ(soa, expected);
  EXPECT_EQ(soa.size(), 17u + 24u + 20u);
}

TEST(MessageCaptureTest, KnotTruncatedUdpAnswer) {
  const auto query = load("query_kdig_bufsize512.hex");
  auto q = parse(query);
  ASSERT_TRUE(q.ok()) << toString(q.error());
  EXPECT_EQ(q->header().id, 0x38d8);
  expectQuestion(*q, "big.example.com.", rrtype::kTxt, rrclass::kIn);
  expectKdigOpt(*q, 512, /*dnssec_ok=*/false, 0);

  const auto packet = load("response_knot_tc.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0x38d8);
  EXPECT_EQ(msg->header().flags, flag::kQr | flag::kAa | flag::kTc | flag::kRd);
  EXPECT_TRUE(msg->header().has(flag::kTc));
  EXPECT_EQ(msg->rcode(), rcode::kNoError);
  // knotd drops the whole answer RRset rather than sending part of it.
  expectCounts(*msg, 1, 0, 0, 1);
  expectQuestion(*msg, "big.example.com.", rrtype::kTxt, rrclass::kIn);
  auto additional = rrsOf(*msg, Section::kAdditional);
  ASSERT_EQ(additional.size(), 1u);
  expectRr(*msg, additional[0], ".", rrtype::kOpt, 1232, 0, 0);
  ASSERT_TRUE(msg->edns().has_value());
  EXPECT_EQ(msg->edns()->udp_size, 1232);
  EXPECT_FALSE(msg->edns()->dnssec_ok);
  EXPECT_TRUE(msg->edns()->options.empty());
  EXPECT_TRUE(optionsOf(*msg->edns()).empty());
}

TEST(MessageCaptureTest, KnotResponseWithNsid) {
  const auto packet = load("response_knot_nsid.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->header().id, 0xba23);
  EXPECT_EQ(msg->header().flags, flag::kQr | flag::kAa | flag::kRd);
  expectCounts(*msg, 1, 1, 0, 1);
  expectQuestion(*msg, "example.com.", rrtype::kSoa, rrclass::kIn);
  auto answer = rrsOf(*msg, Section::kAnswer);
  ASSERT_EQ(answer.size(), 1u);
  expectRr(*msg, answer[0], "example.com.", rrtype::kSoa, rrclass::kIn, 86400, 39);
  const auto soa = decompress(*msg, answer[0]);
  ASSERT_EQ(soa.size(), 61u);
  EXPECT_EQ(toVector({soa.data(), 17}), toVector(N("ns1.example.com").wire()));
  EXPECT_EQ(toVector({soa.data() + 17, 24}), toVector(N("hostmaster.example.com").wire()));

  auto additional = rrsOf(*msg, Section::kAdditional);
  ASSERT_EQ(additional.size(), 1u);
  expectRr(*msg, additional[0], ".", rrtype::kOpt, 1232, 0, 14);
  ASSERT_TRUE(msg->edns().has_value());
  auto opts = optionsOf(*msg->edns());
  ASSERT_EQ(opts.size(), 1u);
  constexpr uint16_t kNsid = 3;  // RFC 5001
  EXPECT_EQ(opts[0].code, kNsid);
  EXPECT_EQ(std::string(opts[0].data.begin(), opts[0].data.end()), "shoal-test");
  auto found = findOption(*msg->edns(), kNsid);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->data.data(), opts[0].data.data());
}

// Rebuilding each capture with MessageWriter (names re-compressed) gives a
// message that parses to the same content, and is no larger than knotd's.
TEST(MessageCaptureTest, CapturesRoundTripThroughWriter) {
  for (const char* file : kCaptures) {
    SCOPED_TRACE(file);
    const auto packet = load(file);
    auto msg = parse(packet);
    ASSERT_TRUE(msg.ok());
    std::vector<uint8_t> buf(65535);
    MessageWriter w(buf, buf.size());
    w.setId(msg->header().id);
    w.setFlags(msg->header().flags);
    w.setRcode(msg->header().rcodeLow());
    if (msg->question()) {
      const Question& q = *msg->question();
      ASSERT_TRUE(w.addQuestion(q.name, q.type, q.qclass).ok());
    }
    for (Section s : {Section::kAnswer, Section::kAuthority, Section::kAdditional}) {
      for (const RrView& rr : msg->section(s)) {
        const auto rdata =
            rr.type == rrtype::kOpt ? toVector(msg->rdataOf(rr)) : decompress(*msg, rr);
        ASSERT_TRUE(w.addRr(s, msg->ownerOf(rr), rr.type, rr.rrclass, rr.ttl, rdata).ok());
      }
    }
    const size_t len = w.finish();
    EXPECT_LE(len, packet.size());
    auto again = Message::parse({buf.data(), len});
    ASSERT_TRUE(again.ok()) << toString(again.error());
    EXPECT_EQ(again->header().id, msg->header().id);
    EXPECT_EQ(again->header().flags, msg->header().flags);
    EXPECT_EQ(again->rcode(), msg->rcode());
    expectCounts(*again, msg->header().qdcount, msg->header().ancount, msg->header().nscount,
                 msg->header().arcount);
    if (msg->question()) {
      EXPECT_TRUE(again->question()->name.equalsExactly(msg->question()->name));
      EXPECT_EQ(again->question()->type, msg->question()->type);
      EXPECT_EQ(again->question()->qclass, msg->question()->qclass);
    }
    for (Section s : {Section::kAnswer, Section::kAuthority, Section::kAdditional}) {
      auto before = rrsOf(*msg, s);
      auto after = rrsOf(*again, s);
      ASSERT_EQ(before.size(), after.size());
      for (size_t i = 0; i < before.size(); ++i) {
        EXPECT_TRUE(again->ownerOf(after[i]).equalsExactly(msg->ownerOf(before[i])));
        EXPECT_EQ(after[i].type, before[i].type);
        EXPECT_EQ(after[i].rrclass, before[i].rrclass);
        EXPECT_EQ(after[i].ttl, before[i].ttl);
        if (before[i].type == rrtype::kOpt) {
          EXPECT_EQ(toVector(again->rdataOf(after[i])), toVector(msg->rdataOf(before[i])));
        } else {
          EXPECT_EQ(decompress(*again, after[i]), decompress(*msg, before[i]));
        }
      }
    }
    if (msg->edns()) {
      ASSERT_TRUE(again->edns().has_value());
      EXPECT_EQ(again->edns()->udp_size, msg->edns()->udp_size);
      EXPECT_EQ(again->edns()->dnssec_ok, msg->edns()->dnssec_ok);
      EXPECT_EQ(toVector(again->edns()->options), toVector(msg->edns()->options));
    }
  }
}

// ---------------------------------------------------------------------------
// Task 2: malformed packets. Every case asserts the exact WireError.
// ---------------------------------------------------------------------------

TEST(MessageMalformedTest, EveryPrefixOfEveryCaptureIsTruncated) {
  for (const char* file : kCaptures) {
    SCOPED_TRACE(file);
    const auto packet = load(file);
    for (size_t len = 0; len < packet.size(); ++len) {
      // A copy of exactly `len` octets, so ASan sees any read past the end.
      const std::vector<uint8_t> prefix(packet.begin(),
                                        packet.begin() + static_cast<std::ptrdiff_t>(len));
      auto msg = Message::parse(prefix);
      ASSERT_FALSE(msg.ok()) << "prefix of " << len << " octets parsed";
      EXPECT_EQ(msg.error(), WireError::kTruncated) << "prefix of " << len << " octets";
    }
  }
}

// Not exact errors here: each single-octet change of a real packet must
// either fail cleanly or give a message whose every part can be read.
TEST(MessageMalformedTest, SingleOctetMutationsNeverCrash) {
  int parsed = 0;
  int rejected = 0;
  for (const char* file : kCaptures) {
    SCOPED_TRACE(file);
    const auto packet = load(file);
    for (size_t i = 0; i < packet.size(); ++i) {
      for (int value : {0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFF,
                        packet[i] ^ 0x20, packet[i] + 1, packet[i] - 1}) {
        auto mutated = packet;
        mutated[i] = static_cast<uint8_t>(value);
        auto msg = Message::parse(mutated);
        if (!msg) {
          ++rejected;
          continue;
        }
        ++parsed;
        if (msg->question()) (void)msg->question()->name.toText();
        for (Section s : {Section::kAnswer, Section::kAuthority, Section::kAdditional}) {
          for (const RrView& rr : msg->section(s)) {
            (void)msg->ownerOf(rr).toText();
            std::vector<uint8_t> out(kMaxRdataLength);
            (void)decompressRdata(*msg, rr, out);
          }
        }
        if (msg->edns()) {
          for (EdnsOption o : options(*msg->edns())) (void)o.data.size();
        }
      }
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);
}

TEST(MessageMalformedTest, ShorterThanHeader) {
  EXPECT_EQ(parseError(std::vector<uint8_t>{}), WireError::kTruncated);
  EXPECT_EQ(parseError(bytes({0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0})),
            WireError::kTruncated);
  // Exactly a header with all counts zero is a valid (empty) message.
  auto empty = Packet(0, 0, 0, 0).parse();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->question().has_value());
  EXPECT_FALSE(empty->edns().has_value());
}

TEST(MessageMalformedTest, CompressionPointerToItself) {
  // Question name at 12 is a pointer to 12.
  Packet p(1, 0, 0, 0);
  p.ptr(12).question(rrtype::kA, rrclass::kIn);
  EXPECT_EQ(parseError(p), WireError::kPointerLoop);
  // The same in an answer owner.
  Packet q(1, 1, 0, 0);
  q.name("a").question(rrtype::kA, rrclass::kIn);
  const size_t owner = q.size();
  q.ptr(owner).fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(parseError(q), WireError::kPointerLoop);
}

TEST(MessageMalformedTest, CompressionPointerIntoItsOwnRun) {
  // "a" then a pointer back to the "a" label: a loop within one run.
  Packet p(1, 0, 0, 0);
  p.raw({1, 'a'}).ptr(12).question(rrtype::kA, rrclass::kIn);
  EXPECT_EQ(parseError(p), WireError::kPointerLoop);
  // Pointer into the middle of its own run (to the second label).
  Packet q(1, 0, 0, 0);
  q.raw({1, 'a', 1, 'b'}).ptr(14).question(rrtype::kA, rrclass::kIn);
  EXPECT_EQ(parseError(q), WireError::kPointerLoop);
}

TEST(MessageMalformedTest, CompressionPointerTwoNameCycle) {
  // An opaque rdata (type 65280) holds two names pointing at each other:
  //   A: "b" -> B,   B: "c" -> A
  // and the next RR's owner enters the cycle with a backward pointer to B.
  Packet p(0, 2, 0, 0);
  p.raw({0}).fixed(65280, rrclass::kIn, 0, 8);
  const size_t a = p.size();
  const size_t b = a + 4;
  p.raw({1, 'b'}).ptr(b).raw({1, 'c'}).ptr(a);
  p.ptr(b).fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(parseError(p), WireError::kPointerLoop);
  // Entering at A instead: the first hop (A -> B) is already forward.
  Packet q(0, 2, 0, 0);
  q.raw({0}).fixed(65280, rrclass::kIn, 0, 8);
  q.raw({1, 'b'}).ptr(b).raw({1, 'c'}).ptr(a);
  q.ptr(a).fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(parseError(q), WireError::kPointerLoop);
}

TEST(MessageMalformedTest, ForwardPointers) {
  // Question name points forward to a valid name in the answer.
  Packet p(1, 1, 0, 0);
  p.ptr(18).question(rrtype::kA, rrclass::kIn);
  ASSERT_EQ(p.size(), 18u);
  p.name("example.com").fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(parseError(p), WireError::kPointerLoop);
  // A pointer past the end of the packet is also forward.
  Packet q(1, 0, 0, 0);
  q.ptr(0x3FFF).question(rrtype::kA, rrclass::kIn);
  EXPECT_EQ(parseError(q), WireError::kPointerLoop);
  // A pointer into the header is backward and so allowed by the loop rule;
  // there it reads the header octets as labels: id 0x0000 is a root name.
  Packet r(1, 0, 0, 0);
  r.ptr(0).question(rrtype::kA, rrclass::kIn);
  auto bytes_r = r.get();
  bytes_r[0] = 0;
  auto msg = Message::parse(bytes_r);
  ASSERT_TRUE(msg.ok());
  EXPECT_TRUE(msg->question()->name.isRoot());
}

TEST(MessageMalformedTest, BadLabelTypes) {
  // On the wire a label length over 63 always sets a label-type bit:
  // 0x40-0x7F is the obsolete extended type 01, 0x80-0xBF the reserved 10.
  for (int len : {0x40, 0x41, 0x7F, 0x80, 0xBF}) {
    SCOPED_TRACE(len);
    Packet p(1, 0, 0, 0);
    p.raw({len});
    for (int i = 0; i < (len & 0x3F) + 1; ++i) p.raw({'x'});
    p.raw({0}).question(rrtype::kA, rrclass::kIn);
    EXPECT_EQ(parseError(p), WireError::kBadLabelType);
  }
  // Bad label after a good one, and in an RR owner.
  Packet q(0, 1, 0, 0);
  q.raw({3, 'w', 'w', 'w', 0x41, 0}).fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(parseError(q), WireError::kBadLabelType);
  // A 63-octet label is fine.
  Packet ok(1, 0, 0, 0);
  ok.raw({63});
  for (int i = 0; i < 63; ++i) ok.raw({'x'});
  ok.raw({0}).question(rrtype::kA, rrclass::kIn);
  auto msg = ok.parse();
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->question()->name.length(), 65u);
}

TEST(MessageMalformedTest, NameOver255Octets) {
  // Uncompressed: four 63-octet labels = 257 octets.
  Packet plain(1, 0, 0, 0);
  for (int l = 0; l < 4; ++l) {
    plain.raw({63});
    for (int i = 0; i < 63; ++i) plain.raw({'a'});
  }
  plain.raw({0}).question(rrtype::kA, rrclass::kIn);
  EXPECT_EQ(parseError(plain), WireError::kNameTooLong);

  // Via pointers: each run adds 64 octets and points back to the previous
  // one; every piece is small. Question "a." (3 octets), then runs stored
  // in an opaque rdata, then an owner pointing at the last run:
  // 4 * 64 + 3 = 259 octets.
  Packet p(1, 2, 0, 0);
  p.name("a").question(rrtype::kA, rrclass::kIn);
  p.raw({0}).fixed(65280, rrclass::kIn, 0, 4 * 66);
  size_t prev = 12;
  for (int run = 0; run < 4; ++run) {
    const size_t here = p.size();
    p.raw({63});
    for (int i = 0; i < 63; ++i) p.raw({'z'});
    p.ptr(prev);
    prev = here;
  }
  p.ptr(prev).fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  EXPECT_EQ(parseError(p), WireError::kNameTooLong);

  // Three runs: 3 * 64 + 3 = 195 octets, fine.
  Packet fine(1, 2, 0, 0);
  fine.name("a").question(rrtype::kA, rrclass::kIn);
  fine.raw({0}).fixed(65280, rrclass::kIn, 0, 3 * 66);
  prev = 12;
  for (int run = 0; run < 3; ++run) {
    const size_t here = fine.size();
    fine.raw({63});
    for (int i = 0; i < 63; ++i) fine.raw({'z'});
    fine.ptr(prev);
    prev = here;
  }
  fine.ptr(prev).fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  auto msg = fine.parse();
  ASSERT_TRUE(msg.ok()) << toString(msg.error());
  EXPECT_EQ(msg->ownerOf(rrsOf(*msg, Section::kAnswer)[1]).length(), 195u);
}

TEST(MessageMalformedTest, QuestionCountBeyondData) {
  EXPECT_EQ(parseError(Packet(1, 0, 0, 0)), WireError::kTruncated);
  // Name present, type/class missing or cut.
  Packet p(1, 0, 0, 0);
  p.name("example.com");
  EXPECT_EQ(parseError(p), WireError::kTruncated);
  p.raw({0, 1, 0});
  EXPECT_EQ(parseError(p), WireError::kTruncated);
}

TEST(MessageMalformedTest, RecordCountsBeyondData) {
  // MX answer: 1 answer, 0 authority, 2 additional, no OPT. One more RR
  // announced in any section runs off the end.
  const auto mx = load("response_knot_mx_glue.hex");
  for (Section s : {Section::kAnswer, Section::kAuthority, Section::kAdditional}) {
    SCOPED_TRACE(static_cast<int>(s));
    auto p = mx;
    setCount(p, s, static_cast<uint16_t>(countIn(p, s) + 1));
    EXPECT_EQ(parseError(p), WireError::kTruncated);
    setCount(p, s, 0xFFFF);
    EXPECT_EQ(parseError(p), WireError::kTruncated);
  }
  // One fewer leaves octets over.
  auto fewer = mx;
  setCount(fewer, Section::kAdditional, 1);
  EXPECT_EQ(parseError(fewer), WireError::kTrailingData);
  // Counts in a query with nothing after the question.
  for (Section s : {Section::kAnswer, Section::kAuthority, Section::kAdditional}) {
    auto q = load("query_kdig_noedns.hex");
    setCount(q, s, 1);
    EXPECT_EQ(parseError(q), WireError::kTruncated);
  }
}

TEST(MessageMalformedTest, ExtraCountsShiftOptOutOfTheAdditionalSection) {
  // The OPT is the last RR of this response; announcing one more answer
  // (or authority) RR makes the parser meet it in that section.
  const auto cname = load("response_knot_cookie_cname.hex");
  auto an = cname;
  setCount(an, Section::kAnswer, 3);
  setCount(an, Section::kAdditional, 0);
  EXPECT_EQ(parseError(an), WireError::kOptNotInAdditional);
  auto ns = cname;
  setCount(ns, Section::kAuthority, 1);
  setCount(ns, Section::kAdditional, 0);
  EXPECT_EQ(parseError(ns), WireError::kOptNotInAdditional);
}

TEST(MessageMalformedTest, TwoQuestions) {
  Packet p(2, 0, 0, 0);
  p.name("a.example").question(rrtype::kA, rrclass::kIn);
  p.name("b.example").question(rrtype::kA, rrclass::kIn);
  EXPECT_EQ(parseError(p), WireError::kTooManyQuestions);
  auto q = load("query_kdig_noedns.hex");
  setCount(q, Section::kQuestion, 2);
  EXPECT_EQ(parseError(q), WireError::kTooManyQuestions);
  setCount(q, Section::kQuestion, 0xFFFF);
  EXPECT_EQ(parseError(q), WireError::kTooManyQuestions);
}

TEST(MessageMalformedTest, OptInAnswerOrAuthority) {
  Packet an(0, 1, 0, 0);
  an.opt({});
  EXPECT_EQ(parseError(an), WireError::kOptNotInAdditional);
  Packet ns(0, 0, 1, 0);
  ns.opt({});
  EXPECT_EQ(parseError(ns), WireError::kOptNotInAdditional);
  // Even with a valid OPT also in the additional section.
  Packet both(0, 1, 0, 1);
  both.opt({}).opt({});
  EXPECT_EQ(parseError(both), WireError::kOptNotInAdditional);
  // The control: the same OPT in the additional section is fine.
  Packet ar(0, 0, 0, 1);
  ar.opt({});
  ASSERT_TRUE(ar.parse().ok());
  EXPECT_TRUE(ar.parse()->edns().has_value());
}

TEST(MessageMalformedTest, TwoOpts) {
  Packet p(0, 0, 0, 2);
  p.opt({}).opt({0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(parseError(p), WireError::kDuplicateOpt);
  // A second OPT after other additional records.
  Packet q(0, 0, 0, 3);
  q.opt({});
  q.name("a.example").fixed(rrtype::kA, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
  q.opt({});
  EXPECT_EQ(parseError(q), WireError::kDuplicateOpt);
}

TEST(MessageMalformedTest, OptWithNonRootOwner) {
  Packet p(0, 0, 0, 1);
  p.name("example.com").fixed(rrtype::kOpt, 1232, 0, 0);
  EXPECT_EQ(parseError(p), WireError::kBadOpt);
  // A compressed owner is rejected too, even when it names the root
  // (RFC 6891 section 6.1.2: the owner MUST be 0, the root).
  Packet q(1, 0, 0, 1);
  q.name("a").question(rrtype::kA, rrclass::kIn);
  q.ptr(14).fixed(rrtype::kOpt, 1232, 0, 0);  // offset 14: the root label of "a."
  EXPECT_EQ(parseError(q), WireError::kBadOpt);
}

TEST(MessageMalformedTest, OptOptionOverrunsRdata) {
  // Cookie option claiming 9 octets with 8 present.
  Packet p(0, 0, 0, 1);
  p.opt({0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(parseError(p), WireError::kBadOpt);
  // An option header cut short (3 octets).
  Packet q(0, 0, 0, 1);
  q.opt({0, 10, 0});
  EXPECT_EQ(parseError(q), WireError::kBadOpt);
  // A good option followed by one overrunning.
  Packet r(0, 0, 0, 1);
  r.opt({0, 11, 0, 0, 0, 12, 0xFF, 0xFF, 0});
  EXPECT_EQ(parseError(r), WireError::kBadOpt);
  // In a real packet: the cookie's length one too large.
  auto cookie = load("query_kdig_edns_cookie.hex");
  ASSERT_EQ(cookie[47], 8);  // option length (low octet) at 44 + 2
  cookie[47] = 9;
  EXPECT_EQ(parseError(cookie), WireError::kBadOpt);
  // A well-framed option with a bad body passes parse; its typed parser
  // rejects it.
  Packet s(0, 0, 0, 1);
  s.opt({0, 10, 0, 5, 1, 2, 3, 4, 5});
  auto msg = s.parse();
  ASSERT_TRUE(msg.ok());
  auto option = findOption(*msg->edns(), ednsopt::kCookie);
  ASSERT_TRUE(option.has_value());
  EXPECT_EQ(parseCookie(option->data).error(), WireError::kBadOption);
}

TEST(MessageMalformedTest, TrailingGarbage) {
  for (const char* file : kCaptures) {
    SCOPED_TRACE(file);
    auto packet = load(file);
    packet.push_back(0);
    EXPECT_EQ(parseError(packet), WireError::kTrailingData);
  }
  Packet p(0, 0, 0, 0);
  p.raw({0xde, 0xad});
  EXPECT_EQ(parseError(p), WireError::kTrailingData);
}

TEST(MessageMalformedTest, RdlengthBeyondTheEnd) {
  // The AAAA glue is the last RR of the MX answer; its rdlength is at 76.
  auto mx = load("response_knot_mx_glue.hex");
  ASSERT_EQ(mx[77], 16);
  mx[77] = 17;
  EXPECT_EQ(parseError(mx), WireError::kTruncated);
  mx[76] = 0xFF;
  mx[77] = 0xFF;
  EXPECT_EQ(parseError(mx), WireError::kTruncated);
  // The OPT's rdlength in a query.
  auto query = load("query_kdig_subnet.hex");
  ASSERT_EQ(query[43], 11);
  query[43] = 12;
  EXPECT_EQ(parseError(query), WireError::kTruncated);
  // An earlier RR's rdlength one too large: the next owner then starts at
  // 0x2d (the low octet of its pointer), read as a 45-octet label.
  auto cname = load("response_knot_cname.hex");
  ASSERT_EQ(cname[44], 7);  // the CNAME's rdlength
  cname[44] = 8;
  EXPECT_EQ(parseError(cname), WireError::kTruncated);
}

TEST(MessageMalformedTest, FixedFieldsCut) {
  Packet p(0, 1, 0, 0);
  p.name("a.example").u16(rrtype::kA).u16(rrclass::kIn).u32(300);  // no rdlength
  EXPECT_EQ(parseError(p), WireError::kTruncated);
  p.raw({0});  // half an rdlength
  EXPECT_EQ(parseError(p), WireError::kTruncated);
}

// decompressRdata on messages that parse but whose rdata is malformed.
TEST(MessageMalformedTest, DecompressRdataRejectsBadRdata) {
  auto decompressOnly = [](const Packet& p) -> WireResult<size_t> {
    auto msg = p.parse();
    EXPECT_TRUE(msg.ok()) << toString(msg.error());
    if (!msg) return base::fail(msg.error());
    auto rrs = rrsOf(*msg, Section::kAnswer);
    std::vector<uint8_t> out(kMaxRdataLength);
    return decompressRdata(*msg, rrs.back(), out);
  };
  {
    Packet p(0, 1, 0, 0);  // A with 3 octets
    p.name("a").fixed(rrtype::kA, rrclass::kIn, 0, 3).raw({1, 2, 3});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadRdata);
  }
  {
    Packet p(0, 1, 0, 0);  // AAAA with 4 octets
    p.name("a").fixed(rrtype::kAaaa, rrclass::kIn, 0, 4).raw({1, 2, 3, 4});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadRdata);
  }
  {
    Packet p(0, 1, 0, 0);  // MX whose name runs past the rdata
    p.name("a").fixed(rrtype::kMx, rrclass::kIn, 0, 5).raw({0, 10, 3, 'm', 'x'});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadRdata);
  }
  {
    Packet p(0, 1, 0, 0);  // MX with only the preference
    p.name("a").fixed(rrtype::kMx, rrclass::kIn, 0, 2).raw({0, 10});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadRdata);
  }
  {
    Packet p(0, 1, 0, 0);  // CNAME with an octet after its name
    p.name("a").fixed(rrtype::kCname, rrclass::kIn, 0, 4).raw({1, 'b', 0, 7});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadRdata);
  }
  {
    Packet p(0, 1, 0, 0);  // CNAME whose name points to itself
    p.name("a").fixed(rrtype::kCname, rrclass::kIn, 0, 2);
    p.ptr(p.size());
    EXPECT_EQ(decompressOnly(p).error(), WireError::kPointerLoop);
  }
  {
    Packet p(0, 1, 0, 0);  // CNAME whose name points forward, into its own rdata
    p.name("a").fixed(rrtype::kCname, rrclass::kIn, 0, 4);
    p.raw({1, 'b'}).ptr(p.size() - 2);
    EXPECT_EQ(decompressOnly(p).error(), WireError::kPointerLoop);
  }
  {
    Packet p(0, 1, 0, 0);  // NS with a bad label type
    p.name("a").fixed(rrtype::kNs, rrclass::kIn, 0, 2).raw({0x40, 0});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadLabelType);
  }
  {
    Packet p(0, 1, 0, 0);  // SOA with 19 octets after the names
    p.name("a").fixed(rrtype::kSoa, rrclass::kIn, 0, 2 + 19).raw({0, 0});
    for (int i = 0; i < 19; ++i) p.raw({0});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadRdata);
  }
  {
    Packet p(0, 1, 0, 0);  // NAPTR whose string runs past the rdata
    p.name("a").fixed(rrtype::kNaptr, rrclass::kIn, 0, 6).raw({0, 1, 0, 1, 5, 'x'});
    EXPECT_EQ(decompressOnly(p).error(), WireError::kBadRdata);
  }
  // The output buffer too small for the expanded name.
  const auto packet = load("response_knot_mx_glue.hex");
  auto msg = parse(packet);
  ASSERT_TRUE(msg.ok());
  const RrView mx = rrsOf(*msg, Section::kAnswer)[0];
  std::array<uint8_t, 19> small{};  // needs 2 + 18
  EXPECT_EQ(decompressRdata(*msg, mx, small).error(), WireError::kNoSpace);
  std::array<uint8_t, 20> exact{};
  EXPECT_EQ(*decompressRdata(*msg, mx, exact), 20u);
}

}  // namespace
}  // namespace shoal::dns
