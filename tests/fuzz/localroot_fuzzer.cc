// libFuzzer target: the local root's handling of zone transfer data from
// the network (localroot/axfr.h, ixfr.h, zone.h, verify.h): the input is a
// TCP stream of length-prefixed response messages, the first two octets the
// query ID. A transfer that completes is grouped into RRsets, its ZONEMD
// digest checked by ldns, and verified (against a fixed anchor that never
// matches: everything before the DNSSEC step runs on the data). The
// messages after the AXFR's last one are an IXFR response to a query from
// the zone just transferred, and its result goes through the same steps.
// Seeds: corpus/localroot (make_localroot_seeds.py writes the IXFR ones).
//
// Any invariant violation calls __builtin_trap(), which libFuzzer reports as
// a crash together with the input.

#include <cstddef>
#include <cstdint>
#include <span>

#include "dns/constants.h"
#include "localroot/axfr.h"
#include "localroot/ixfr.h"
#include "localroot/verify.h"
#include "localroot/zone.h"

namespace shoal::localroot {
namespace {

void require(bool cond) {
  if (!cond) __builtin_trap();
}

/// The checks after a transfer: grouping, the digest, verification.
void check(const ZoneData& zone) {
  require(!zone.records.empty() && zone.records.front().type == dns::rrtype::kSoa);
  const auto rrsets = groupRrsets(zone.records);
  for (const auto& rrset : rrsets) require(!rrset.rdatas.empty() && rrset.type != dns::rrtype::kRrsig);
  (void)checkZonemdDigest(zone.records);
  const ApexAnchors anchors{{{0x4f, 0x66, 13, 2, 0, 1, 2, 3}}, {}};
  const VerifyResult result = verifyZone(zone, anchors, {}, 1'700'000'000);
  require(result.zone.has_value() != !result.error.empty());
}

/// The next length-prefixed message at `pos`, or an empty span at the end.
std::span<const uint8_t> next(std::span<const uint8_t> input, size_t& pos, bool& end) {
  end = pos + 2 > input.size();
  if (end) return {};
  const size_t length = static_cast<size_t>(input[pos]) << 8 | input[pos + 1];
  pos += 2;
  end = pos + length > input.size();
  if (end) return {};
  const auto message = input.subspan(pos, length);
  pos += length;
  return message;
}

void run(std::span<const uint8_t> input) {
  if (input.size() < 2) return;
  const uint16_t id = static_cast<uint16_t>(input[0] << 8 | input[1]);
  AxfrReader reader(dns::Name(), id, 1u << 20);
  size_t pos = 2;
  bool end = false;
  AxfrReader::Step step = AxfrReader::Step::kMore;
  while (step == AxfrReader::Step::kMore) {
    const auto message = next(input, pos, end);
    if (end) return;
    step = reader.consume(message);
    require(step != AxfrReader::Step::kError || !reader.error().empty());
  }
  if (step != AxfrReader::Step::kDone) return;
  const ZoneData zone = reader.take();
  check(zone);

  IxfrReader ixfr(zone, id, 1u << 20);
  IxfrReader::Step ixfr_step = IxfrReader::Step::kMore;
  while (ixfr_step == IxfrReader::Step::kMore) {
    const auto message = next(input, pos, end);
    if (end) return;
    ixfr_step = ixfr.consume(message);
    require(ixfr_step != IxfrReader::Step::kError || !ixfr.error().empty());
  }
  if (ixfr_step != IxfrReader::Step::kDone) return;
  const ZoneData changed = ixfr.take();
  if (ixfr.kind() == IxfrReader::Kind::kUpToDate) {
    require(changed.records.empty());
    return;
  }
  check(changed);
  const auto serial = soaSerial(changed.records.front());
  require(serial && *serial == ixfr.serial());
}

}  // namespace
}  // namespace shoal::localroot

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shoal::localroot::run({data, size});
  return 0;
}
