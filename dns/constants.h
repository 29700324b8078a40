#pragma once
// Numeric constants of the DNS protocol (IANA "Domain Name System (DNS)
// Parameters" registry): RR types, classes, opcodes, rcodes, EDNS options.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::dns {

namespace rrtype {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kNs = 2;
inline constexpr uint16_t kCname = 5;
inline constexpr uint16_t kSoa = 6;
inline constexpr uint16_t kMb = 7;
inline constexpr uint16_t kMg = 8;
inline constexpr uint16_t kMr = 9;
inline constexpr uint16_t kPtr = 12;
inline constexpr uint16_t kHinfo = 13;
inline constexpr uint16_t kMinfo = 14;
inline constexpr uint16_t kMx = 15;
inline constexpr uint16_t kTxt = 16;
inline constexpr uint16_t kRp = 17;
inline constexpr uint16_t kAfsdb = 18;
inline constexpr uint16_t kRt = 21;
inline constexpr uint16_t kSig = 24;
inline constexpr uint16_t kPx = 26;
inline constexpr uint16_t kAaaa = 28;
inline constexpr uint16_t kNxt = 30;
inline constexpr uint16_t kSrv = 33;
inline constexpr uint16_t kNaptr = 35;
inline constexpr uint16_t kKx = 36;
inline constexpr uint16_t kDname = 39;
inline constexpr uint16_t kOpt = 41;
inline constexpr uint16_t kDs = 43;
inline constexpr uint16_t kRrsig = 46;
inline constexpr uint16_t kNsec = 47;
inline constexpr uint16_t kDnskey = 48;
inline constexpr uint16_t kNsec3 = 50;
inline constexpr uint16_t kNsec3param = 51;
inline constexpr uint16_t kSvcb = 64;
inline constexpr uint16_t kHttps = 65;
inline constexpr uint16_t kIxfr = 251;
inline constexpr uint16_t kAxfr = 252;
inline constexpr uint16_t kAny = 255;
inline constexpr uint16_t kCaa = 257;
}  // namespace rrtype

namespace rrclass {
inline constexpr uint16_t kIn = 1;
inline constexpr uint16_t kCh = 3;
inline constexpr uint16_t kAny = 255;
}  // namespace rrclass

namespace opcode {
inline constexpr uint8_t kQuery = 0;
inline constexpr uint8_t kNotify = 4;
inline constexpr uint8_t kUpdate = 5;
}  // namespace opcode

namespace rcode {
inline constexpr uint16_t kNoError = 0;
inline constexpr uint16_t kFormErr = 1;
inline constexpr uint16_t kServFail = 2;
inline constexpr uint16_t kNxDomain = 3;
inline constexpr uint16_t kNotImp = 4;
inline constexpr uint16_t kRefused = 5;
inline constexpr uint16_t kBadVers = 16;  // extended (needs OPT)
inline constexpr uint16_t kBadCookie = 23;
}  // namespace rcode

/// EDNS(0) option codes.
namespace ednsopt {
inline constexpr uint16_t kClientSubnet = 8;   // RFC 7871
inline constexpr uint16_t kCookie = 10;        // RFC 7873
inline constexpr uint16_t kTcpKeepalive = 11;  // RFC 7828
inline constexpr uint16_t kPadding = 12;       // RFC 7830
inline constexpr uint16_t kExtendedError = 15; // RFC 8914
}  // namespace ednsopt

/// Extended DNS Error info codes (RFC 8914 section 4) used by shoal.
namespace ede {
inline constexpr uint16_t kOther = 0;
inline constexpr uint16_t kStaleAnswer = 3;
inline constexpr uint16_t kDnssecBogus = 6;
inline constexpr uint16_t kSignatureExpired = 7;
inline constexpr uint16_t kDnskeyMissing = 9;
inline constexpr uint16_t kProhibited = 18;
inline constexpr uint16_t kStaleNxdomainAnswer = 19;
inline constexpr uint16_t kNotReady = 14;
inline constexpr uint16_t kBlocked = 15;
inline constexpr uint16_t kNoReachableAuthority = 22;
inline constexpr uint16_t kNetworkError = 23;
inline constexpr uint16_t kInvalidData = 24;
}  // namespace ede

/// Mnemonic of an RR type ("AAAA"), or "TYPE1234" (RFC 3597) when unknown.
std::string typeToText(uint16_t type);
/// Parses a mnemonic or "TYPEnnn", case-insensitively.
std::optional<uint16_t> typeFromText(std::string_view text);
/// Mnemonic of an rcode ("NXDOMAIN"), or "RCODE23".
std::string rcodeToText(uint16_t rcode);

}  // namespace shoal::dns
