#include "base/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "base/check.h"

namespace shoal::base {

void secureRandomFill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    SHOAL_CHECK(n > 0);  // ENOSYS/EFAULT: no unpredictable numbers, no resolver
    done += static_cast<size_t>(n);
  }
}

void SecureRandom::take(uint8_t* out, size_t n) {
  while (n > 0) {
    if (used_ == sizeof buffer_) {
      secureRandomFill(buffer_);
      used_ = 0;
    }
    const size_t chunk = n < sizeof buffer_ - used_ ? n : sizeof buffer_ - used_;
    std::memcpy(out, buffer_ + used_, chunk);
    // Bytes handed out are not kept.
    std::memset(buffer_ + used_, 0, chunk);
    used_ += chunk;
    out += chunk;
    n -= chunk;
  }
}

uint16_t SecureRandom::next16() {
  uint16_t v = 0;
  take(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

uint64_t SecureRandom::next64() {
  uint64_t v = 0;
  take(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

void SecureRandom::fill(std::span<uint8_t> out) { take(out.data(), out.size()); }

}  // namespace shoal::base
