#pragma once
// A global operator new that counts, for tests that check a path does not
// allocate. Link counting_new.cc into the test binary (one per binary: it
// replaces the global operator new).

#include <cstddef>

namespace shoal::testing_util {

/// Allocations through operator new since the process started.
size_t allocationCount();

}  // namespace shoal::testing_util
