#include "base/check.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace shoal::base {

namespace {
std::atomic<uint64_t> bug_count{0};
}

void checkFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "shoal: fatal: check failed: %s (%s:%d)\n", expr, file, line);
  std::abort();
}

void bugReported(const char* expr, const char* file, int line) {
  bug_count.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "shoal: bug: %s (%s:%d)\n", expr, file, line);
}

uint64_t bugCount() { return bug_count.load(std::memory_order_relaxed); }

}  // namespace shoal::base
