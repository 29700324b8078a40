// Segments diverted to a worker's NFQUEUE queue (collapse/tuple.h): the
// IPv4/IPv6 and TCP headers a revival reads its tuple from. Whatever the
// bytes, parsing stays in bounds; a parsed tuple makes a set key of the
// right length, and survives the store (put, then take) unchanged.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "collapse/store.h"
#include "collapse/tuple.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using shoal::collapse::ConnTuple;
  const auto tuple = ConnTuple::ofIncoming(std::span<const uint8_t>(data, size));
  if (!tuple) return 0;
  uint8_t key[40];
  const size_t length = tuple->setKey(key);
  if (length != (tuple->family == AF_INET ? 16u : 40u)) std::abort();
  (void)tuple->toText();
  shoal::collapse::TupleStore store(4, 60'000);
  shoal::collapse::RepairState state;
  state.send_seq = size > 0 ? data[0] : 0;
  if (!store.put(*tuple, state, 1'000)) std::abort();
  const auto taken = store.take(*tuple, 2'000);
  if (!taken || taken->state.send_seq != state.send_seq || store.size() != 0) std::abort();
  return 0;
}
