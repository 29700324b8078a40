// libFuzzer target: EDNS(0) options (dns/edns.h) on their own, both ways.
// parse_fuzzer reaches the option decoders only through a whole valid
// message with an OPT record; here the input is the OPT rdata itself, so
// every execution is spent on the options:
//  - validateOptions frames the list; when it accepts, the iterator walks
//    exactly the rdata, every option inside it;
//  - each typed decoder (Client Subnet, Cookie, Extended DNS Error, TCP
//    keepalive) runs on every option body and on the whole input, and what
//    it accepts is valid by its RFC and re-encodes to the same octets;
//  - every option goes back through EdnsOptionsBuilder::addRaw, which
//    fails with kNoSpace exactly when the options no longer fit;
//    setClientSubnetScope changes the scope of the first ECS option only;
//  - the options are written into a message with MessageWriter (OPT
//    fields, RFC 7830 padding to a block, a size limit), which must parse
//    back with the same OPT fields and options, padded as asked.
//
// Input layout: u8 flags | u16 pad block | u16 size limit | OPT rdata.
// flags bit 0: DO; bits 1-7: the EDNS version; the scope set is the pad
// block's low octet. Any violation calls __builtin_trap().

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/constants.h"
#include "dns/edns.h"
#include "dns/message.h"
#include "dns/name.h"
#include "dns/writer.h"

namespace shoal::dns {
namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();
}

bool equalBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

uint16_t load16(std::span<const uint8_t> p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

/// The one option a builder holds is `code` with `body`.
bool builtEquals(const EdnsOptionsBuilder& builder, uint16_t code, std::span<const uint8_t> body) {
  const auto built = builder.bytes();
  return built.size() == 4 + body.size() && load16(built) == code &&
         load16(built.subspan(2)) == body.size() && equalBytes(built.subspan(4), body);
}

/// Every typed decoder on `body`; what decodes is valid and re-encodes to
/// `body` (as option `code`).
void decodeBody(uint16_t code, std::span<const uint8_t> body) {
  if (auto ecs = parseClientSubnet(body)) {
    const unsigned width = ecs->family == 1 ? 32 : 128;
    require(ecs->family == 1 || ecs->family == 2);
    require(ecs->source_prefix <= width && ecs->scope_prefix <= width);
    require(ecs->bodyLength() == body.size());
    // RFC 7871 section 6: no address bits beyond the source prefix.
    for (unsigned bit = ecs->source_prefix; bit < 128; ++bit) {
      require((ecs->address[bit / 8] & (0x80u >> (bit % 8))) == 0);
    }
    EdnsOptionsBuilder builder;
    require(builder.addClientSubnet(*ecs).ok());
    if (code == ednsopt::kClientSubnet) require(builtEquals(builder, code, body));
  }
  if (auto cookie = parseCookie(body)) {
    require(cookie->server_length == 0 ||
            (cookie->server_length >= 8 && cookie->server_length <= 32));
    require(8u + cookie->server_length == body.size());
    EdnsOptionsBuilder builder;
    require(builder.addCookie(*cookie).ok());
    if (code == ednsopt::kCookie) require(builtEquals(builder, code, body));
  }
  if (auto ede = parseExtendedError(body)) {
    require(ede->text.size() + 2 == body.size());
    require(reinterpret_cast<const uint8_t*>(ede->text.data()) == body.data() + 2);
    EdnsOptionsBuilder builder;
    const bool added = builder.addExtendedError(ede->info_code, ede->text).ok();
    // The text is cut to 256 octets; the builder holds 512.
    require(added);
    if (code == ednsopt::kExtendedError && ede->text.size() <= 256) {
      require(builtEquals(builder, code, body));
    }
  }
  if (auto keepalive = parseTcpKeepalive(body)) {
    require(body.size() == (keepalive->timeout ? 2u : 0u));
    EdnsOptionsBuilder builder;
    require(builder.addTcpKeepalive(keepalive->timeout).ok());
    if (code == ednsopt::kTcpKeepalive) require(builtEquals(builder, code, body));
  }
}

/// Writes a query with `edns` into a message of at most `limit` octets and
/// checks what parses back.
void writeAndParse(const EdnsOut& edns, size_t limit) {
  static std::array<uint8_t, 65535> buffer;
  static const Name qname = *Name::fromText("edns.fuzz.example.");
  MessageWriter writer(buffer, limit);
  writer.setId(0x1234);
  writer.setRcode(0x2F1);  // an extended rcode: its upper bits go into the OPT
  if (!writer.addQuestion(qname, rrtype::kA, rrclass::kIn)) return;
  const size_t before = writer.length();
  const bool with_opt = writer.setEdns(edns).ok();
  const size_t length = writer.finish();
  require(length <= limit);
  auto msg = Message::parse({buffer.data(), length});
  require(msg.ok());
  require(msg->edns().has_value() == with_opt);
  if (!with_opt) {
    require(length == before);
    return;
  }
  const OptView& opt = *msg->edns();
  require(opt.udp_size == edns.udp_size && opt.version == edns.version &&
          opt.dnssec_ok == edns.dnssec_ok && opt.ext_rcode == 0x2F);
  const auto written = edns.options.bytes();
  require(opt.options.size() >= written.size());
  require(equalBytes(opt.options.first(written.size()), written));
  const auto rest = opt.options.subspan(written.size());
  if (edns.pad_block == 0) {
    require(rest.empty());
    return;
  }
  // One padding option of zeros, the message padded to a multiple of the
  // block unless that would cross the limit.
  require(rest.size() >= 4 && load16(rest) == ednsopt::kPadding);
  require(load16(rest.subspan(2)) == rest.size() - 4);
  require(std::all_of(rest.begin() + 4, rest.end(), [](uint8_t b) { return b == 0; }));
  require(length % edns.pad_block == 0 || length == limit);
}

}  // namespace
}  // namespace shoal::dns

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal::dns;
  if (size < 5) return 0;
  const uint8_t flags = data[0];
  const auto pad_block = static_cast<uint16_t>(data[1] << 8 | data[2]);
  // MessageWriter needs room for the header (a caller's contract).
  const size_t limit = std::max<size_t>(kHeaderSize, static_cast<size_t>(data[3] << 8 | data[4]));
  const std::span<const uint8_t> rdata(data + 5, size - 5);

  // The whole input through every decoder, as a body of each code.
  decodeBody(0, rdata);

  if (!validateOptions(rdata).ok()) return 0;
  EdnsOut edns;
  edns.udp_size = static_cast<uint16_t>(1232 + flags);
  edns.version = static_cast<uint8_t>(flags >> 1);
  edns.dnssec_ok = (flags & 1) != 0;
  edns.pad_block = pad_block;
  const OptView opt{1232, 0, 0, false, 0, rdata};
  size_t walked = 0;
  size_t first_ecs = SIZE_MAX;
  bool full = false;
  for (const EdnsOption option : options(opt)) {
    require(option.data.data() == rdata.data() + walked + 4);
    require(walked + 4 + option.data.size() <= rdata.size());
    decodeBody(option.code, option.data);
    if (option.code == ednsopt::kClientSubnet && option.data.size() >= 4 &&
        first_ecs == SIZE_MAX && !full) {
      first_ecs = walked;
    }
    const auto found = findOption(opt, option.code);
    require(found.has_value() && found->data.data() <= option.data.data());
    if (!full) {
      const size_t had = edns.options.bytes().size();
      const bool fits = had + 4 + option.data.size() <= EdnsOptionsBuilder::kCapacity;
      const auto added = edns.options.addRaw(option.code, option.data);
      require(added.ok() == fits);
      if (!added) {
        require(added.error() == WireError::kNoSpace && edns.options.bytes().size() == had);
        full = true;
      }
    }
    walked += 4 + option.data.size();
  }
  require(walked == rdata.size());
  if (!full) require(equalBytes(edns.options.bytes(), rdata));

  // The scope of the first ECS option (of length >= 4) and nothing else.
  const auto scope = static_cast<uint8_t>(pad_block & 0xFF);
  const std::array<uint8_t, EdnsOptionsBuilder::kCapacity> before = [&] {
    std::array<uint8_t, EdnsOptionsBuilder::kCapacity> copy{};
    std::copy(edns.options.bytes().begin(), edns.options.bytes().end(), copy.begin());
    return copy;
  }();
  edns.options.setClientSubnetScope(scope);
  const auto after = edns.options.bytes();
  for (size_t i = 0; i < after.size(); ++i) {
    if (first_ecs != SIZE_MAX && i == first_ecs + 4 + 3) {
      require(after[i] == scope);
    } else {
      require(after[i] == before[i]);
    }
  }

  writeAndParse(edns, limit);
  writeAndParse(edns, 65535);
  return 0;
}
