#include "dns/constants.h"

#include <array>
#include <charconv>
#include <utility>

namespace shoal::dns {

namespace {

constexpr std::array<std::pair<uint16_t, std::string_view>, 34> kTypeNames{{
    {rrtype::kA, "A"},         {rrtype::kNs, "NS"},         {rrtype::kCname, "CNAME"},
    {rrtype::kSoa, "SOA"},     {rrtype::kMb, "MB"},         {rrtype::kMg, "MG"},
    {rrtype::kMr, "MR"},       {rrtype::kPtr, "PTR"},       {rrtype::kHinfo, "HINFO"},
    {rrtype::kMinfo, "MINFO"}, {rrtype::kMx, "MX"},         {rrtype::kTxt, "TXT"},
    {rrtype::kRp, "RP"},       {rrtype::kAfsdb, "AFSDB"},   {rrtype::kRt, "RT"},
    {rrtype::kSig, "SIG"},     {rrtype::kPx, "PX"},         {rrtype::kAaaa, "AAAA"},
    {rrtype::kNxt, "NXT"},     {rrtype::kSrv, "SRV"},       {rrtype::kNaptr, "NAPTR"},
    {rrtype::kKx, "KX"},       {rrtype::kDname, "DNAME"},   {rrtype::kOpt, "OPT"},
    {rrtype::kDs, "DS"},       {rrtype::kRrsig, "RRSIG"},   {rrtype::kNsec, "NSEC"},
    {rrtype::kDnskey, "DNSKEY"}, {rrtype::kNsec3, "NSEC3"}, {rrtype::kNsec3param, "NSEC3PARAM"},
    {rrtype::kSvcb, "SVCB"},   {rrtype::kHttps, "HTTPS"},   {rrtype::kAny, "ANY"},
    {rrtype::kCaa, "CAA"},
}};

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string typeToText(uint16_t type) {
  for (const auto& [code, name] : kTypeNames) {
    if (code == type) return std::string(name);
  }
  return "TYPE" + std::to_string(type);
}

std::optional<uint16_t> typeFromText(std::string_view text) {
  for (const auto& [code, name] : kTypeNames) {
    if (equalsIgnoreCase(text, name)) return code;
  }
  if (text.size() > 4 && equalsIgnoreCase(text.substr(0, 4), "TYPE")) {
    unsigned value = 0;
    const auto digits = text.substr(4);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && value <= 0xFFFF) {
      return static_cast<uint16_t>(value);
    }
  }
  return std::nullopt;
}

std::string rcodeToText(uint16_t code) {
  switch (code) {
    case rcode::kNoError: return "NOERROR";
    case rcode::kFormErr: return "FORMERR";
    case rcode::kServFail: return "SERVFAIL";
    case rcode::kNxDomain: return "NXDOMAIN";
    case rcode::kNotImp: return "NOTIMP";
    case rcode::kRefused: return "REFUSED";
    case rcode::kBadVers: return "BADVERS";
    case rcode::kBadCookie: return "BADCOOKIE";
    default: return "RCODE" + std::to_string(code);
  }
}

}  // namespace shoal::dns
