// The shared segment's life: warm restart (a restarted supervisor reopens
// the segment and keeps the entries, workers attach to it), --cold
// (discard), rebuilding on another geometry or layout version, attach
// refusing what it cannot read, and a large sparse segment.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "shmcache/cache.h"
#include "shmcache/layout.h"
#include "shmcache/segment.h"
#include "tests/unit/shmcache/test_util.h"

namespace shoal::shmcache {
namespace {

using testing_util::bytes;
using namespace std::string_literals;

constexpr int64_t kNow = 1000;

Meta meta() {
  Meta m;
  m.expires_at = 100000;
  m.original_ttl = 3600;
  m.rank = 1;
  return m;
}

std::vector<uint8_t> nameOf(int i) { return bytes("com\0warm"s + std::to_string(i) + "\0www\0"s); }
std::vector<uint8_t> valueOf(int i) { return bytes("rdata of " + std::to_string(i)); }

constexpr int kKeys = 300;

void insertKeys(Cache& cache) {
  for (int i = 0; i < kKeys; ++i) {
    const auto name = nameOf(i);
    ASSERT_TRUE(cache.insert({name, 1, 0}, Partition::global(), meta(), valueOf(i), kNow).ok());
  }
}

/// How many of the keys are present with their own values.
int countKeys(Cache& cache) {
  std::array<uint8_t, 256> out{};
  int present = 0;
  for (int i = 0; i < kKeys; ++i) {
    const auto name = nameOf(i);
    auto f = cache.lookup({name, 1, 0}, nullptr, kNow, out);
    if (!f) continue;
    const auto want = valueOf(i);
    if (f->payload_length == want.size() && std::equal(want.begin(), want.end(), out.begin())) {
      ++present;
    }
  }
  return present;
}

uint64_t liveEntries(const Cache& cache) {
  uint64_t n = 0;
  for (const StripeFill& f : cache.fill()) n += f.live_entries;
  return n;
}

/// Forks a child that attaches as a worker would and counts the keys; its
/// exit status is 0 if it saw them all.
int countInChild(const std::string& segment) {
  const pid_t pid = fork();
  if (pid == 0) {
    auto cache = Cache::attach(segment);
    if (!cache) _exit(2);
    _exit(countKeys(**cache) == kKeys ? 0 : 1);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

class SegmentTest : public testing_util::SegmentFixture {};

TEST_F(SegmentTest, WarmRestartKeepsEntries) {
  {
    auto first = open(4u << 20, 8);
    ASSERT_NE(first, nullptr);
    insertKeys(*first);
    ASSERT_EQ(countKeys(*first), kKeys);
  }  // The supervisor exits; the segment stays.
  auto reopened = open(4u << 20, 8);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(countKeys(*reopened), kKeys);
  EXPECT_EQ(liveEntries(*reopened), static_cast<uint64_t>(kKeys));
  EXPECT_EQ(reopened->counters().inserts, static_cast<uint64_t>(kKeys)) << "counters survive too";
  // A worker started by the new supervisor attaches and sees them.
  EXPECT_EQ(countInChild(name_), 0);
}

TEST_F(SegmentTest, ReopenWhileWorkersStillAttached) {
  auto supervisor = open(4u << 20, 8);
  ASSERT_NE(supervisor, nullptr);
  auto worker = Cache::attach(name_);
  ASSERT_TRUE(worker.ok());
  insertKeys(*supervisor);
  supervisor.reset();
  // The restarted supervisor and the old worker share one segment.
  auto restarted = open(4u << 20, 8);
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(countKeys(**worker), kKeys);
  const auto name = bytes("net\0late\0"s);
  ASSERT_TRUE(restarted->insert({name, 1, 0}, Partition::global(), meta(), bytes("x"), kNow).ok());
  std::array<uint8_t, 16> out{};
  EXPECT_TRUE((*worker)->lookup({name, 1, 0}, nullptr, kNow, out).ok());
}

TEST_F(SegmentTest, DiscardGivesAnEmptyCache) {
  auto first = open(4u << 20, 8);
  ASSERT_NE(first, nullptr);
  insertKeys(*first);
  auto worker = Cache::attach(name_);
  ASSERT_TRUE(worker.ok());
  first.reset();
  auto cold = open(4u << 20, 8, 4, /*discard=*/true);
  ASSERT_NE(cold, nullptr);
  EXPECT_EQ(countKeys(*cold), 0);
  EXPECT_EQ(liveEntries(*cold), 0u);
  EXPECT_EQ(cold->counters().inserts, 0u);
  // A worker still mapping the old segment keeps working on its own copy
  // (it does not crash); new workers see the new, empty one.
  EXPECT_EQ(countKeys(**worker), kKeys);
  EXPECT_EQ(countInChild(name_), 1);
}

TEST_F(SegmentTest, AnotherSizeRebuilds) {
  {
    auto first = open(4u << 20, 8);
    ASSERT_NE(first, nullptr);
    insertKeys(*first);
  }
  auto bigger = open(8u << 20, 8);
  ASSERT_NE(bigger, nullptr);
  EXPECT_EQ(countKeys(*bigger), 0);
  EXPECT_EQ(bigger->segmentSize(), 8u << 20);
  insertKeys(*bigger);
  EXPECT_EQ(countInChild(name_), 0);
}

TEST_F(SegmentTest, AnotherStripeCountRebuilds) {
  {
    auto first = open(4u << 20, 8);
    ASSERT_NE(first, nullptr);
    insertKeys(*first);
  }
  auto more = open(4u << 20, 16);
  ASSERT_NE(more, nullptr);
  EXPECT_EQ(countKeys(*more), 0);
  EXPECT_EQ(more->stripeCount(), 16u);
}

TEST_F(SegmentTest, AnotherPartitionLimitKeepsEntries) {
  {
    auto first = open(4u << 20, 8, 4);
    ASSERT_NE(first, nullptr);
    insertKeys(*first);
  }
  // max_partitions is a limit, not geometry.
  auto reopened = open(4u << 20, 8, 8);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(countKeys(*reopened), kKeys);
}

/// Changes the header of the live segment through the internal Segment, as
/// an older or newer build would have written it.
template <typename Edit>
void editHeader(const std::string& name, Edit edit) {
  auto segment = Segment::attach(name);
  ASSERT_TRUE(segment.ok());
  edit((*segment)->header());
}

TEST_F(SegmentTest, AnotherLayoutVersionIsRefusedByAttachAndRebuiltByOpen) {
  {
    auto first = open(4u << 20, 8);
    ASSERT_NE(first, nullptr);
    insertKeys(*first);
  }
  editHeader(name_, [](SegmentHeader& h) { h.layout_version = kLayoutVersion + 1; });
  auto attached = Cache::attach(name_);
  ASSERT_FALSE(attached.ok());
  EXPECT_EQ(attached.error(), Error::kIncompatible);
  EXPECT_EQ(countInChild(name_), 2) << "a worker must refuse it too";

  auto rebuilt = open(4u << 20, 8);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_EQ(countKeys(*rebuilt), 0);
  insertKeys(*rebuilt);
  EXPECT_EQ(countInChild(name_), 0) << "the rebuilt segment is attachable";
}

TEST_F(SegmentTest, HalfBuiltOrForeignSegmentIsRebuilt) {
  {
    auto first = open(4u << 20, 8);
    ASSERT_NE(first, nullptr);
    insertKeys(*first);
  }
  // A supervisor that died while building leaves no magic.
  editHeader(name_, [](SegmentHeader& h) { h.magic = 0; });
  EXPECT_EQ(Cache::attach(name_).error(), Error::kIncompatible);
  {
    auto rebuilt = open(4u << 20, 8);
    ASSERT_NE(rebuilt, nullptr);
    EXPECT_EQ(countKeys(*rebuilt), 0);
    insertKeys(*rebuilt);
  }
  // A header whose geometry disagrees with the object's size.
  editHeader(name_, [](SegmentHeader& h) { h.stripe_size *= 2; });
  EXPECT_EQ(Cache::attach(name_).error(), Error::kIncompatible);
  auto rebuilt = open(4u << 20, 8);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_EQ(countKeys(*rebuilt), 0);
}

TEST_F(SegmentTest, AttachToNothingFails) {
  auto attached = Cache::attach(name_);
  ASSERT_FALSE(attached.ok());
  EXPECT_EQ(attached.error(), Error::kSegment);
}

TEST_F(SegmentTest, SixteenGibSegmentIsSparse) {
  constexpr size_t kSize = size_t{16} << 30;
  struct statvfs fs {};
  ASSERT_EQ(statvfs("/dev/shm", &fs), 0);
  const uint64_t available = uint64_t{fs.f_bavail} * fs.f_frsize;
  if (available < kSize) {
    GTEST_SKIP() << "/dev/shm has " << (available >> 20) << " MiB free, the test needs 16 GiB";
  }
  auto cache = open(kSize, 4096);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->segmentSize(), kSize);
  const auto name = bytes("com\0big\0"s);
  ASSERT_TRUE(cache->insert({name, 1, 0}, Partition::global(), meta(), bytes("x"), kNow).ok());
  insertKeys(*cache);
  std::array<uint8_t, 16> out{};
  EXPECT_TRUE(cache->lookup({name, 1, 0}, nullptr, kNow, out).ok());
  EXPECT_EQ(countKeys(*cache), kKeys);
  EXPECT_EQ(countInChild(name_), 0);
  // Opening and using it touched a few pages per stripe, never the whole
  // segment (no memset): the shm object stays sparse.
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm" + name_).c_str(), &st), 0);
  const uint64_t resident = static_cast<uint64_t>(st.st_blocks) * 512;
  EXPECT_LT(resident, uint64_t{256} << 20) << "the segment was written all over";
  // A warm restart of it is just as cheap.
  cache.reset();
  auto reopened = open(kSize, 4096);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(countKeys(*reopened), kKeys);
  ASSERT_EQ(stat(("/dev/shm" + name_).c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{256} << 20);
}


// Issue 15: /dev/shm is everyone's. A segment someone else could have made
// (or may write) is refused, never reused and never removed.
class UntrustedSegment : public testing_util::SegmentFixture {
 protected:
  std::string path() const { return "/dev/shm" + name_; }
  void plant(mode_t mode) {
    auto cache = open();
    ASSERT_NE(cache, nullptr);
    insertKeys(*cache);
    cache.reset();
    ASSERT_EQ(chmod(path().c_str(), mode), 0);
  }
};

TEST_F(UntrustedSegment, AWorldWritableSegmentIsRefusedAndKept) {
  plant(0666);
  Options o;
  o.name = name_;
  o.size = 4u << 20;
  o.stripes = 4;
  o.max_partitions = 4;
  auto refused = Cache::open(o, kNow);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), Error::kUntrusted);
  o.discard = true;  // --cold does not remove it either
  ASSERT_FALSE(Cache::open(o, kNow).ok());
  EXPECT_EQ(Cache::attach(name_).error(), Error::kUntrusted);
  // Still there, with its entries: made trusted again, it is reused whole.
  ASSERT_EQ(chmod(path().c_str(), 0640), 0);
  auto cache = open();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(countKeys(*cache), kKeys);
}

TEST_F(UntrustedSegment, AGroupWritableSegmentIsRefused) {
  plant(0660);
  EXPECT_EQ(Cache::attach(name_).error(), Error::kUntrusted);
}

TEST_F(UntrustedSegment, ASegmentOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the segment away";
  plant(0640);
  ASSERT_EQ(chown(path().c_str(), 65534, 65534), 0);  // nobody
  EXPECT_EQ(Cache::attach(name_).error(), Error::kUntrusted);
  Options o;
  o.name = name_;
  o.size = 4u << 20;
  o.stripes = 4;
  o.max_partitions = 4;
  EXPECT_EQ(Cache::open(o, kNow).error(), Error::kUntrusted);
}

TEST_F(UntrustedSegment, ASymbolicLinkIsRefused) {
  const std::string target = "/dev/shm" + name_ + ".target";
  ASSERT_EQ(symlink(target.c_str(), path().c_str()), 0);
  Options o;
  o.name = name_;
  o.size = 4u << 20;
  o.stripes = 4;
  o.max_partitions = 4;
  EXPECT_EQ(Cache::open(o, kNow).error(), Error::kUntrusted);
  struct stat st {};
  EXPECT_NE(stat(target.c_str(), &st), 0);  // nothing was created through it
  unlink(path().c_str());
}

}  // namespace
}  // namespace shoal::shmcache
