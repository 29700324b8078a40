// Fuzzes the decoders of the resolver's cache payloads (resolver/
// cache_format.h). Payloads come from shared memory, which other processes
// write: they are input too, and must never be read out of bounds.

#include <cstddef>
#include <cstdint>
#include <span>

#include "resolver/cache_format.h"
#include "resolver/server_stats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoal::resolver;
  const std::span<const uint8_t> payload(data, size);
  if (auto rrset = RrsetView::parse(payload)) {
    size_t pos = rrset->firstRdata();
    size_t total = 0;
    for (size_t i = 0; i < rrset->count(); ++i) {
      const auto item = rrset->rdata(pos);
      total += item.rdata.size();
      pos = item.next;
    }
    pos = rrset->firstSig();
    for (size_t i = 0; i < rrset->sigCount(); ++i) {
      const auto item = rrset->rdata(pos);
      total += item.rdata.size();
      pos = item.next;
    }
    if (total > size) __builtin_trap();
  }
  if (auto negative = NegativeView::parse(payload)) {
    size_t pos = negative->first();
    for (size_t i = 0; i < negative->count(); ++i) {
      const auto item = negative->record(pos);
      if (item.owner.length() == 0) __builtin_trap();
      pos = item.next;
    }
    if (pos != size) __builtin_trap();
  }
  (void)soaMinimum(payload);
  // A server-table entry: the first octet splits the input into key and
  // payload.
  if (size > 0) {
    const size_t key_length = data[0] < size - 1 ? data[0] : size - 1;
    (void)decodeServerEntry({data + 1, key_length}, {data + 1 + key_length, size - 1 - key_length});
  }
  return 0;
}
