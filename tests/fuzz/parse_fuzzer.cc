// libFuzzer target: Message::parse and everything that reads a parsed
// message (owners, rdata decompression, EDNS options), then a rebuild with
// MessageWriter that must parse again.
//
// Any invariant violation calls __builtin_trap(), which libFuzzer reports as
// a crash together with the input.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/rdata.h"
#include "dns/writer.h"

namespace shoal::dns {
namespace {

constexpr Section kRrSections[] = {Section::kAnswer, Section::kAuthority, Section::kAdditional};

// Large buffers are static: libFuzzer runs one input at a time.
std::array<uint8_t, kMaxRdataLength> g_rdata;
std::array<uint8_t, 65535> g_out;

void require(bool cond) {
  if (!cond) __builtin_trap();
}

uint8_t fold(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

bool equalFolded(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

bool equalBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

/// The option as it sits in the OPT rdata: code, length, body.
bool builtEquals(const EdnsOptionsBuilder& builder, const EdnsOption& option) {
  const auto built = builder.bytes();
  if (built.size() != 4 + option.data.size()) return false;
  if (built[0] != (option.code >> 8) || built[1] != (option.code & 0xFF)) return false;
  return equalBytes(built.subspan(4), option.data);
}

/// Typed option parsers; whatever decodes must re-encode to the same bytes.
void exerciseEdns(const OptView& opt) {
  size_t total = 0;
  for (EdnsOption o : options(opt)) {
    total += 4 + o.data.size();
    require(o.data.data() >= opt.options.data() &&
            o.data.data() + o.data.size() <= opt.options.data() + opt.options.size());
    EdnsOptionsBuilder builder;
    switch (o.code) {
      case ednsopt::kClientSubnet:
        if (auto ecs = parseClientSubnet(o.data)) {
          require(ecs->bodyLength() == o.data.size());
          if (builder.addClientSubnet(*ecs)) require(builtEquals(builder, o));
        }
        break;
      case ednsopt::kCookie:
        if (auto cookie = parseCookie(o.data)) {
          if (builder.addCookie(*cookie)) require(builtEquals(builder, o));
        }
        break;
      case ednsopt::kExtendedError:
        if (auto ede = parseExtendedError(o.data)) {
          if (ede->text.size() <= 256 && builder.addExtendedError(ede->info_code, ede->text)) {
            require(builtEquals(builder, o));
          }
        }
        break;
      case ednsopt::kTcpKeepalive:
        if (auto keepalive = parseTcpKeepalive(o.data)) {
          if (builder.addTcpKeepalive(keepalive->timeout)) require(builtEquals(builder, o));
        }
        break;
      default:
        (void)findOption(opt, o.code);
        break;
    }
  }
  require(total == opt.options.size());
}

struct RebuildResult {
  size_t length = 0;
  bool complete = false;  // every RR of the original was written
};

/// Writes the question and every RR (rdata decompressed) of `msg` into
/// g_out, at most `limit` octets; stops at the first RR that does not fit
/// and sets TC. RRs whose rdata does not decompress are skipped.
RebuildResult rebuild(const Message& msg, size_t limit) {
  MessageWriter w(g_out, limit);
  w.setId(msg.header().id);
  w.setFlags(msg.header().flags);
  w.setRcode(msg.header().rcodeLow());
  RebuildResult result;
  result.complete = true;
  if (msg.question()) {
    const Question& q = *msg.question();
    // A question is at most 12 + 255 + 4 octets: it always fits in 512.
    require(w.addQuestion(q.name, q.type, q.qclass).ok());
  }
  bool full = false;
  for (Section s : kRrSections) {
    for (const RrView& rr : msg.section(s)) {
      if (full) break;
      std::span<const uint8_t> rdata;
      if (rr.type == rrtype::kOpt) {
        rdata = msg.rdataOf(rr);
      } else {
        auto n = decompressRdata(msg, rr, g_rdata);
        if (!n) {
          result.complete = false;
          continue;
        }
        rdata = {g_rdata.data(), *n};
      }
      auto st = w.addRr(s, msg.ownerOf(rr), rr.type, rr.rrclass, rr.ttl, rdata);
      if (!st) {
        // Decompressed rdata is well formed and sections come in order, so
        // running out of room is the only acceptable failure.
        require(st.error() == WireError::kNoSpace);
        w.setTruncated();
        result.complete = false;
        full = true;
      }
    }
  }
  result.length = w.finish();
  require(result.length <= limit);
  return result;
}

void checkRebuilt(const Message& orig, size_t limit) {
  const RebuildResult r = rebuild(orig, limit);
  auto again = Message::parse({g_out.data(), r.length});
  require(again.ok());
  require(again->header().id == orig.header().id);
  require(again->question().has_value() == orig.question().has_value());
  if (orig.question()) {
    require(again->question()->name.equalsExactly(orig.question()->name));
    require(again->question()->type == orig.question()->type);
    require(again->question()->qclass == orig.question()->qclass);
  }
  if (!r.complete) return;
  // Everything was written: the content must be the same, up to the case
  // of compressed names (compression matches case-insensitively).
  require(again->header().flags == orig.header().flags);
  require(again->rcode() == orig.rcode());
  for (Section s : kRrSections) {
    require(again->count(s) == orig.count(s));
    auto a = again->section(s).begin();
    for (const RrView& rr : orig.section(s)) {
      const RrView& b = *a;
      require(again->ownerOf(b) == orig.ownerOf(rr));
      require(b.type == rr.type && b.rrclass == rr.rrclass && b.ttl == rr.ttl);
      if (rr.type == rrtype::kOpt) {
        require(equalBytes(again->rdataOf(b), orig.rdataOf(rr)));
      } else {
        static std::array<uint8_t, kMaxRdataLength> before;
        auto n1 = decompressRdata(orig, rr, before);
        auto n2 = decompressRdata(*again, b, g_rdata);
        require(n1.ok() && n2.ok());
        require(equalFolded({before.data(), *n1}, {g_rdata.data(), *n2}));
      }
      ++a;
    }
  }
  require(again->edns().has_value() == orig.edns().has_value());
}

void exercise(const Message& msg) {
  const auto packet = msg.packet();
  if (msg.question()) {
    const std::string text = msg.question()->name.toText();
    auto back = Name::fromText(text);
    require(back.ok() && back->equalsExactly(msg.question()->name));
  }
  size_t rrs = 0;
  for (Section s : kRrSections) {
    size_t in_section = 0;
    for (const RrView& rr : msg.section(s)) {
      ++in_section;
      require(rr.section == s);
      require(rr.rdata_offset + rr.rdlength <= packet.size());
      const Name owner = msg.ownerOf(rr);
      require(owner.length() >= 1 && owner.length() <= kMaxNameLength);
      (void)owner.toText();
      auto n = decompressRdata(msg, rr, g_rdata);
      if (n) require(*n <= g_rdata.size());
      if (rr.type == rrtype::kOpt) require(s == Section::kAdditional && owner.isRoot());
    }
    require(in_section == msg.count(s));
    rrs += in_section;
  }
  (void)rrs;
  if (msg.edns()) exerciseEdns(*msg.edns());
  (void)msg.rcode();
}

}  // namespace
}  // namespace shoal::dns

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal::dns;
  auto msg = Message::parse({data, size});
  if (!msg) return 0;
  exercise(*msg);
  checkRebuilt(*msg, 512);
  checkRebuilt(*msg, 65535);
  return 0;
}
