#pragma once
// The three assertion tiers (see ../shared/STYLE.md):
//   SHOAL_DCHECK(cond)  debug builds only: cheap documentation of an invariant.
//   SHOAL_CHECK(cond)   always on, always fatal: continuing would corrupt state.
//   SHOAL_BUG_IF(cond)  always on, not fatal: evaluates to true when the
//                       condition holds, after logging it and counting it; the
//                       caller turns the query into SERVFAIL.

#include <cstdint>

namespace shoal::base {

[[noreturn]] void checkFailed(const char* expr, const char* file, int line);
void bugReported(const char* expr, const char* file, int line);
/// Number of SHOAL_BUG_IF hits in this process since start.
uint64_t bugCount();

}  // namespace shoal::base

#define SHOAL_CHECK(cond)                                          \
  do {                                                             \
    if (__builtin_expect(!(cond), 0))                              \
      ::shoal::base::checkFailed(#cond, __FILE__, __LINE__);       \
  } while (0)

#ifdef NDEBUG
#define SHOAL_DCHECK(cond) \
  do {                     \
  } while (0)
#else
#define SHOAL_DCHECK(cond) SHOAL_CHECK(cond)
#endif

#define SHOAL_BUG_IF(cond)                                                      \
  (__builtin_expect(!!(cond), 0)                                                \
       ? (::shoal::base::bugReported(#cond, __FILE__, __LINE__), true)          \
       : false)
