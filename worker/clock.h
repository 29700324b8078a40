#pragma once
// The worker's clock: wall-clock time from clock_gettime(CLOCK_REALTIME)
// through libc, so that libfaketime (used by replay harnesses such as
// Deckard) moves the engine's deadlines and the cache's TTLs together.
// The engine counts milliseconds, the cache seconds of the same clock.

#include <time.h>

#include <cstdint>

namespace shoal::worker {

inline int64_t wallMs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

/// Microseconds, for response times (one call per query: vDSO, no syscall).
inline int64_t wallUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

inline int64_t wallS() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec);
}

}  // namespace shoal::worker
