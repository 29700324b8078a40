#pragma once
// The mapped shared-memory segment and its geometry (internal to shmcache).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "shmcache/cache.h"
#include "shmcache/layout.h"

namespace shoal::shmcache {

class Segment {
 public:
  /// Creates or attaches (see Cache::open); `rebuilt` tells which.
  static Result<std::unique_ptr<Segment>> open(const Options& options, int64_t now);
  static Result<std::unique_ptr<Segment>> attach(const std::string& name);
  ~Segment();

  SegmentHeader& header() { return *header_; }
  const SegmentHeader& header() const { return *header_; }
  /// Whether open() built a fresh segment rather than reusing one.
  bool rebuilt() const { return rebuilt_; }

  StripeHeader& stripe(size_t i);
  IndexSlot* slots(size_t i);
  uint32_t* ranges(size_t i);
  uint8_t* arena(size_t i);

 private:
  Segment() = default;
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  SegmentHeader* header_ = nullptr;
  uint8_t* base_ = nullptr;
  bool rebuilt_ = false;
};

/// Wipes one stripe's contents (index, ordered set, ring). Lock held.
/// `repair` counts it as a repair (after a crash or a failed check).
void wipeStripe(Segment& segment, size_t stripe, bool repair);

}  // namespace shoal::shmcache
