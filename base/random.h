#pragma once
// Unpredictable numbers for what an off-path attacker must guess (issue 15):
// upstream query IDs, 0x20 case bits, source ports, secrets. Drawn from the
// kernel's CSPRNG (getrandom(2)) in 256-byte refills, so a query costs a
// few bytes of a buffer, not a system call. Not for simulations: use a
// seeded generator where repeatability matters (server selection).

#include <cstddef>
#include <cstdint>
#include <span>

namespace shoal::base {

class SecureRandom {
 public:
  uint16_t next16();
  uint64_t next64();
  /// Fills `out` (any length).
  void fill(std::span<uint8_t> out);

 private:
  void take(uint8_t* out, size_t n);
  uint8_t buffer_[256] = {};
  size_t used_ = sizeof buffer_;
};

/// Fills `out` from getrandom(2), blocking until the kernel's pool is
/// ready (at boot only); aborts if the kernel refuses (no safe fallback).
void secureRandomFill(std::span<uint8_t> out);

}  // namespace shoal::base
