#include "shmcache/segment.h"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "base/ownership.h"

namespace shoal::shmcache {

namespace bip = boost::interprocess;

struct Segment::Mapping {
  bip::shared_memory_object shm;
  bip::mapped_region region;
};

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kMinArena = 16 * 1024;
constexpr size_t kBytesPerIndexSlot = 112;   // ~0.75 load at ~150-byte entries
constexpr size_t kBytesPerRangeSlot = 512;

size_t alignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }
size_t alignDown(size_t v, size_t a) { return v / a * a; }

struct Geometry {
  uint64_t header_size, stripe_size, index_slots, range_capacity, arena_offset, arena_size;
};

Result<Geometry> computeGeometry(size_t size, unsigned stripes, unsigned max_partitions) {
  if (stripes == 0 || stripes > 65536 || (stripes & (stripes - 1)) != 0) {
    return base::fail(Error::kBadOptions);
  }
  if (max_partitions == 0 || max_partitions > 1024) return base::fail(Error::kBadOptions);
  Geometry g{};
  g.header_size = alignUp(sizeof(SegmentHeader), kPage);
  if (size <= g.header_size) return base::fail(Error::kBadOptions);
  g.stripe_size = alignDown((size - g.header_size) / stripes, 64);
  g.index_slots = g.stripe_size / kBytesPerIndexSlot;
  g.range_capacity = g.stripe_size / kBytesPerRangeSlot;
  g.arena_offset = alignUp(sizeof(StripeHeader) + g.index_slots * sizeof(IndexSlot) +
                               g.range_capacity * sizeof(uint32_t),
                           64);
  if (g.stripe_size < g.arena_offset + kMinArena) return base::fail(Error::kBadOptions);
  g.arena_size = alignDown(g.stripe_size - g.arena_offset, kEntryAlign);
  // Index slots address the arena in kEntryAlign units with 32 bits.
  if (g.arena_size / kEntryAlign >= 0xFFFFFFFFull) return base::fail(Error::kBadOptions);
  return g;
}

/// Allocates and maps every page of a new (all-zero) segment now.
void prefault(uint8_t* base, size_t size) {
#ifdef MADV_POPULATE_WRITE
  if (madvise(base, size, MADV_POPULATE_WRITE) == 0) return;
#endif
  // Older kernels: write each page (it is zero already).
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (size_t off = 0; off < size; off += page) {
    reinterpret_cast<volatile uint8_t*>(base)[off] = 0;
  }
}

/// Whether a segment by this name exists and is not ours to trust (issue
/// 15): another user could have made it before shoal started. POSIX shared
/// memory objects are files in /dev/shm on Linux; lstat does not follow a
/// planted symbolic link.
bool existsUntrusted(const std::string& name) {
  struct stat st {};
  if (lstat(("/dev/shm" + name).c_str(), &st) != 0) return false;  // absent: created below
  return !S_ISREG(st.st_mode) || !base::untrustedBecause(st).empty();
}

bool compatible(const SegmentHeader& h, const Options& o, const Geometry& g) {
  return h.magic == kMagic && h.layout_version == kLayoutVersion &&  // SHM_LAYOUT
         h.header_size == sizeof(SegmentHeader) && h.segment_size == o.size &&
         h.stripe_count == o.stripes && h.stripe_size == g.stripe_size &&
         h.index_slots == g.index_slots && h.range_capacity == g.range_capacity &&
         h.arena_offset == g.arena_offset && h.arena_size == g.arena_size;
}

}  // namespace

Segment::~Segment() = default;

Result<std::unique_ptr<Segment>> Segment::open(const Options& options, int64_t now) {
  auto geometry = computeGeometry(options.size, options.stripes, options.max_partitions);
  if (!geometry) return base::fail(geometry.error());
  const Geometry& g = *geometry;
  // Refused, never removed and rebuilt: the caller says whose it is.
  if (existsUntrusted(options.name)) return base::fail(Error::kUntrusted);
  std::unique_ptr<Segment> seg(new Segment());
  try {
    // Reuse a compatible segment (warm restart) unless told to discard it.
    if (!options.discard) {
      try {
        bip::shared_memory_object shm(bip::open_only, options.name.c_str(), bip::read_write);
        // Made by someone else between the check above and now.
        if (!base::untrustedBecause(shm.get_mapping_handle().handle).empty()) {
          return base::fail(Error::kUntrusted);
        }
        bip::offset_t current = 0;
        if (shm.get_size(current) && static_cast<size_t>(current) == options.size) {
          bip::mapped_region region(shm, bip::read_write);
          auto* header = static_cast<SegmentHeader*>(region.get_address());
          if (compatible(*header, options, g)) {
            header->max_partitions = options.max_partitions;  // a limit, not geometry
            seg->mapping_.reset(new Mapping{std::move(shm), std::move(region)});
            seg->base_ = static_cast<uint8_t*>(seg->mapping_->region.get_address());
            seg->header_ = header;
            seg->rebuilt_ = false;
            return seg;
          }
        }
      } catch (const bip::interprocess_exception&) {
        // Absent or unreadable: build a new one below.
      }
    }
    // A new object is all zeroes; processes still mapping an old one keep
    // their own copy until they unmap it.
    bip::shared_memory_object::remove(options.name.c_str());
    bip::permissions perms(0640);
    bip::shared_memory_object shm(bip::create_only, options.name.c_str(), bip::read_write, perms);
    shm.truncate(static_cast<bip::offset_t>(options.size));
    bip::mapped_region region(shm, bip::read_write);
    seg->mapping_.reset(new Mapping{std::move(shm), std::move(region)});
  } catch (const bip::interprocess_exception&) {
    return base::fail(Error::kSegment);
  }
  seg->base_ = static_cast<uint8_t*>(seg->mapping_->region.get_address());
  if (options.prefault) prefault(seg->base_, options.size);
  auto* header = new (seg->base_) SegmentHeader();  // SHM_LAYOUT
  header->layout_version = kLayoutVersion;
  header->header_size = sizeof(SegmentHeader);
  header->segment_size = options.size;
  header->stripe_count = options.stripes;
  header->max_partitions = options.max_partitions;
  header->stripe_size = g.stripe_size;
  header->stripes_offset = g.header_size;
  header->index_slots = g.index_slots;
  header->range_capacity = g.range_capacity;
  header->arena_offset = g.arena_offset;
  header->arena_size = g.arena_size;
  header->created_at = now;
  seg->header_ = header;
  for (size_t i = 0; i < options.stripes; ++i) {
    auto* stripe = new (&seg->stripe(i)) StripeHeader();
    if (!stripe->mutex.init()) return base::fail(Error::kSegment);
  }
  // The magic goes last: a process that dies while building leaves a segment
  // that the next open() rebuilds.
  std::atomic_thread_fence(std::memory_order_release);
  header->magic = kMagic;
  seg->rebuilt_ = true;
  return seg;
}

Result<std::unique_ptr<Segment>> Segment::attach(const std::string& name) {
  if (existsUntrusted(name)) return base::fail(Error::kUntrusted);
  std::unique_ptr<Segment> seg(new Segment());
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
    if (!base::untrustedBecause(shm.get_mapping_handle().handle).empty()) {
      return base::fail(Error::kUntrusted);
    }
    bip::offset_t size = 0;
    if (!shm.get_size(size) || static_cast<size_t>(size) < sizeof(SegmentHeader)) {
      return base::fail(Error::kIncompatible);
    }
    bip::mapped_region region(shm, bip::read_write);
    seg->mapping_.reset(new Mapping{std::move(shm), std::move(region)});
  } catch (const bip::interprocess_exception&) {
    return base::fail(Error::kSegment);
  }
  seg->base_ = static_cast<uint8_t*>(seg->mapping_->region.get_address());
  seg->header_ = reinterpret_cast<SegmentHeader*>(seg->base_);
  const SegmentHeader& h = *seg->header_;
  Options o;
  o.size = seg->mapping_->region.get_size();
  o.stripes = h.stripe_count;
  auto g = computeGeometry(o.size, o.stripes, h.max_partitions);
  if (!g || !compatible(h, o, *g)) return base::fail(Error::kIncompatible);
  return seg;
}

StripeHeader& Segment::stripe(size_t i) {
  return *reinterpret_cast<StripeHeader*>(base_ + header_->stripes_offset +
                                          i * header_->stripe_size);
}

IndexSlot* Segment::slots(size_t i) {
  return reinterpret_cast<IndexSlot*>(reinterpret_cast<uint8_t*>(&stripe(i)) +
                                      sizeof(StripeHeader));
}

uint32_t* Segment::ranges(size_t i) {
  return reinterpret_cast<uint32_t*>(slots(i) + header_->index_slots);
}

uint8_t* Segment::arena(size_t i) {
  return reinterpret_cast<uint8_t*>(&stripe(i)) + header_->arena_offset;
}

void wipeStripe(Segment& segment, size_t i, bool repair) {
  StripeHeader& s = segment.stripe(i);
  std::memset(segment.slots(i), 0, segment.header().index_slots * sizeof(IndexSlot));
  std::memset(segment.ranges(i), 0, segment.header().range_capacity * sizeof(uint32_t));
  s.head = 0;
  s.tail = 0;
  s.used = 0;
  s.index_used = 0;
  s.range_count = 0;
  s.live_entries.store(0, std::memory_order_relaxed);
  s.live_bytes.store(0, std::memory_order_relaxed);
  if (repair) s.wipes.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace shoal::shmcache
