#pragma once
// Helpers for shmcache tests: a uniquely named segment per test, removed at
// the end.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "shmcache/cache.h"

namespace shoal::shmcache::testing_util {

inline std::string uniqueName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "/shoal-test-" + std::to_string(getpid()) + "-" + info->name();
  // Parameterised test names contain '/', which a shm name may not.
  std::replace(name.begin() + 1, name.end(), '/', '_');
  return name;
}

inline std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

/// Opens a fresh segment and unlinks it when the test ends.
class SegmentFixture : public ::testing::Test {
 protected:
  void TearDown() override { Cache::unlink(name_); }

  std::unique_ptr<Cache> open(size_t size = 4u << 20, unsigned stripes = 4,
                              unsigned max_partitions = 4, bool discard = false) {
    Options o;
    o.name = name_;
    o.size = size;
    o.stripes = stripes;
    o.max_partitions = max_partitions;
    o.discard = discard;
    auto cache = Cache::open(o, 1000);
    EXPECT_TRUE(cache.ok()) << (cache.ok() ? "" : toString(cache.error()));
    return cache.ok() ? std::move(*cache) : nullptr;
  }

  std::string name_ = uniqueName();
};

}  // namespace shoal::shmcache::testing_util
