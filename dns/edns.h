#pragma once
// EDNS(0) (RFC 6891): the OPT record's fields and its options, read by
// reference into the packet, and typed decoders/encoders for the options
// shoal uses: Client Subnet (RFC 7871), Cookie (RFC 7873), TCP keepalive
// (RFC 7828), Padding (RFC 7830) and Extended DNS Error (RFC 8914).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dns/wire_error.h"

namespace shoal::dns {

/// The OPT pseudo-RR (RFC 6891 section 6.1.3), by reference.
struct OptView {
  uint16_t udp_size = 0;     // requestor's payload size (CLASS field)
  uint8_t ext_rcode = 0;     // upper 8 bits of the 12-bit rcode
  uint8_t version = 0;
  bool dnssec_ok = false;    // DO bit
  uint16_t z = 0;            // remaining flag bits
  std::span<const uint8_t> options;  // the rdata: a list of options
};

struct EdnsOption {
  uint16_t code = 0;
  std::span<const uint8_t> data;
};

/// Iterates options of an OPT rdata whose framing was validated by
/// validateOptions (Message::parse does that).
class EdnsOptionIterator {
 public:
  explicit EdnsOptionIterator(std::span<const uint8_t> rdata, size_t pos = 0);
  EdnsOption operator*() const;
  EdnsOptionIterator& operator++();
  bool operator!=(const EdnsOptionIterator& other) const { return pos_ != other.pos_; }

 private:
  std::span<const uint8_t> rdata_;
  size_t pos_;
};

struct EdnsOptionRange {
  std::span<const uint8_t> rdata;
  EdnsOptionIterator begin() const { return EdnsOptionIterator(rdata); }
  EdnsOptionIterator end() const { return EdnsOptionIterator(rdata, rdata.size()); }
};

inline EdnsOptionRange options(const OptView& opt) { return {opt.options}; }
/// Checks the option framing (4-octet headers, lengths within the rdata).
WireStatus validateOptions(std::span<const uint8_t> rdata);
/// The first option with `code`, if any.
std::optional<EdnsOption> findOption(const OptView& opt, uint16_t code);

/// EDNS Client Subnet (RFC 7871 section 6).
struct ClientSubnet {
  uint16_t family = 0;        // 1 = IPv4, 2 = IPv6
  uint8_t source_prefix = 0;
  uint8_t scope_prefix = 0;
  std::array<uint8_t, 16> address{};  // masked to source_prefix, zero padded

  /// Encoded option body length: 4 + ceil(source_prefix / 8).
  size_t bodyLength() const { return 4u + (source_prefix + 7u) / 8u; }
};
/// Decodes and validates (RFC 7871 section 7.1.2): family 1 or 2, prefixes
/// within the family's width, exactly ceil(source/8) address octets, and no
/// address bits set beyond the source prefix.
WireResult<ClientSubnet> parseClientSubnet(std::span<const uint8_t> body);

/// DNS Cookie (RFC 7873 section 4): 8-octet client cookie, optional 8..32
/// octet server cookie.
struct Cookie {
  std::array<uint8_t, 8> client{};
  std::array<uint8_t, 32> server{};
  uint8_t server_length = 0;
};
WireResult<Cookie> parseCookie(std::span<const uint8_t> body);

/// Extended DNS Error (RFC 8914 section 2): info code and optional UTF-8 text
/// (by reference into the packet).
struct ExtendedError {
  uint16_t info_code = 0;
  std::string_view text;
};
WireResult<ExtendedError> parseExtendedError(std::span<const uint8_t> body);

/// edns-tcp-keepalive (RFC 7828 section 3.1): empty in queries, a timeout in
/// units of 100 ms in responses.
struct TcpKeepalive {
  std::optional<uint16_t> timeout;
};
WireResult<TcpKeepalive> parseTcpKeepalive(std::span<const uint8_t> body);

/// Builds the options part of an OPT record into fixed inline storage
/// (no allocation). Each append fails with kNoSpace when full.
class EdnsOptionsBuilder {
 public:
  static constexpr size_t kCapacity = 512;

  WireStatus addClientSubnet(const ClientSubnet& ecs);
  WireStatus addCookie(const Cookie& cookie);
  WireStatus addExtendedError(uint16_t info_code, std::string_view text);
  WireStatus addTcpKeepalive(std::optional<uint16_t> timeout);
  /// Any option, body given verbatim.
  WireStatus addRaw(uint16_t code, std::span<const uint8_t> body);
  /// Sets the SCOPE PREFIX-LENGTH of the ECS option added (RFC 7871
  /// section 7.2.1: known only once the answer is); nothing if none.
  void setClientSubnetScope(uint8_t scope);

  std::span<const uint8_t> bytes() const { return {bytes_.data(), length_}; }

 private:
  // Not value-initialised: only the first length_ octets are ever read,
  // and zeroing 512 octets per response showed in the hot path's profile.
  std::array<uint8_t, kCapacity> bytes_;
  size_t length_ = 0;
};

/// What a writer puts into the OPT record it appends.
struct EdnsOut {
  uint16_t udp_size = 1232;
  uint8_t version = 0;
  bool dnssec_ok = false;
  EdnsOptionsBuilder options;
  /// RFC 7830/8467 padding: pad the whole message to a multiple of this
  /// many octets (0 = no padding option).
  uint16_t pad_block = 0;
};

}  // namespace shoal::dns
