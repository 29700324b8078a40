#pragma once
// shmcache: the lock-striped shared-memory cache shared by all workers.
//
// It stores opaque payloads under keys and knows nothing of DNS: a key is a
// name (any memcmp-ordered bytes; the resolver uses dns::LookupKey), a
// 16-bit type and a caller-defined kind, plus an ECS partition. On top of
// plain entries it keeps ordered sets (the resolver's NSEC/NSEC3 ranges):
// entries under a set key, ordered by an order key, with "greatest <= key"
// lookup.
//
// Concurrency: the segment is split into a power-of-two number of stripes,
// each with its own robust process-shared mutex, hash index, ordered-set
// index and arena. An operation locks exactly one stripe, never two. Readers
// copy out under the lock and keep no references. A process killed while it
// holds a stripe leaves the mutex "owner died": the next locker wipes that
// stripe (losing 1/N of the cache, never serving a half-written entry),
// marks the mutex consistent and counts the repair.
//
// Time is passed in (seconds, CLOCK_REALTIME in production) so that tests
// control it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "base/result.h"

namespace shoal::shmcache {

enum class Error : uint8_t {
  kNotFound,
  kTooLarge,        // entry larger than a stripe may hold
  kRankTooLow,      // a higher-ranked, unexpired entry is in place
  kNotSecure,       // ordered sets admit only secure entries
  kBufferTooSmall,  // the caller's buffer cannot take the payload
  kBadKey,          // empty name, or over the size limits
  kBadOptions,      // geometry or limits out of range
  kSegment,         // shared memory could not be created or mapped
  kIncompatible,    // attach: the segment has another layout or geometry
  kUntrusted,       // it exists but is not ours (another owner, or writable by others)
};
const char* toString(Error error);

template <typename T>
using Result = base::Result<T, Error>;
using Status = base::Status<Error>;

/// DNSSEC status of an entry (RFC 4035 section 4.3).
enum class Security : uint8_t { kIndeterminate = 0, kInsecure = 1, kSecure = 2, kBogus = 3 };

/// An EDNS Client Subnet partition (RFC 7871 section 7.3): the family and
/// the scope prefix the authority returned, and the address masked to it.
/// family 0 is the global partition, which covers every client; family 3
/// holds answers to queries sent without a subnet where one could have
/// gone: they are only for clients without a subnet (RFC 7871 section
/// 7.3.1: "/0 because nothing was sent" is not "scope 0").
struct Partition {
  static constexpr uint8_t kNoSubnet = 3;
  uint8_t family = 0;  // 0 = global, 1 = IPv4, 2 = IPv6 (ECS family numbers), 3 = no subnet
  uint8_t prefix = 0;
  std::array<uint8_t, 16> address{};

  static Partition global() { return {}; }
  static Partition noSubnet() { return {kNoSubnet, 0, {}}; }
  /// The partition of `client` at `prefix` bits (masked).
  static Partition of(const base::IpAddress& client, uint8_t prefix);
  bool covers(const base::IpAddress& client) const;
  bool operator==(const Partition&) const = default;
};

struct Key {
  std::span<const uint8_t> name;
  uint16_t type = 0;
  uint8_t kind = 0;  // caller-defined table: e.g. RRset, negative answer
};

struct Meta {
  int64_t expires_at = 0;  // absolute, seconds
  uint32_t original_ttl = 0;
  uint8_t rank = 0;  // a lower rank never replaces a higher one before it expires
  Security security = Security::kIndeterminate;
  uint16_t flags = 0;  // caller-defined
};

/// What a lookup found; the payload was copied into the caller's buffer.
struct Found {
  Meta meta;
  Partition partition;
  size_t payload_length = 0;
  int64_t inserted_at = 0;
  size_t order_length = 0;  // findRange: the order key copied out
  bool stale = false;  // expired, served because the caller allowed it
  /// Lookups of this entry in the last tenth of its TTL (this one
  /// included; 0 before that tenth): how popular it is as it is about to
  /// expire, for prefetch. An ECS partition counts all its lookups.
  uint32_t late_hits = 0;
};

struct Options {
  std::string name = "/shoal-cache";  // shm object name
  size_t size = 256u << 20;           // bytes
  unsigned stripes = 256;             // power of two
  unsigned max_partitions = 16;       // ECS partitions per name, type and kind
  bool discard = false;               // rebuild even if compatible (--cold)
  /// Fault every page in when the segment is created, so that the data
  /// path never takes a page fault and a shortage of memory shows at start,
  /// not under load. Costs about 0.25 s per GiB at start. (The supervisor
  /// turns it on by default, config key cache.prefault.)
  bool prefault = false;
};

/// Per-stripe fill, read without locks.
struct StripeFill {
  uint64_t live_entries = 0;
  uint64_t live_bytes = 0;
  uint64_t wipes = 0;
  uint64_t range_entries = 0;  // ordered-set entries (expired ones until evicted)
};

/// Sum of every process's counters, read without locks.
struct Counters {
  uint64_t lookups = 0, hits = 0, stale_hits = 0, misses = 0, expired = 0;
  uint64_t inserts = 0, replaced = 0, rank_refused = 0, too_large = 0;
  uint64_t evictions = 0, expired_evictions = 0, partition_evictions = 0;
  uint64_t owner_died = 0, corrupt = 0;
};

/// A copy of one entry, for listing (shoalctl cache lookup).
struct EntryCopy {
  std::vector<uint8_t> name;
  std::vector<uint8_t> order;  // empty unless an ordered-set entry
  uint16_t type = 0;
  uint8_t kind = 0;
  Meta meta;
  Partition partition;
  uint32_t hits = 0;  // ECS partitions: lookups that chose it (saturating)
  std::vector<uint8_t> payload;
};

class Segment;

class Cache {
 public:
  /// Creates the segment, or attaches to a compatible existing one and keeps
  /// its entries (warm restart). An existing segment with another magic,
  /// layout version or geometry, or `discard`, is rebuilt empty. For the
  /// supervisor (and tests); `now` stamps creation.
  static Result<std::unique_ptr<Cache>> open(const Options& options, int64_t now);
  /// Attaches to an existing segment without ever rebuilding it (workers,
  /// shoalctl). Fails with kIncompatible if its layout is not this build's.
  static Result<std::unique_ptr<Cache>> attach(const std::string& name);
  /// Removes the named segment (its memory is freed when the last process
  /// unmaps it).
  static void unlink(const std::string& name);

  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  /// Chooses the counter slot this process increments (0..63; the
  /// supervisor gives each worker its own).
  void setCounterSlot(unsigned slot);

  /// Inserts or replaces the entry for (key, partition). Refused with
  /// kRankTooLow when an unexpired entry of higher rank is in place, and
  /// kTooLarge when it cannot fit a stripe. At most max_partitions ECS
  /// partitions (the global entry aside) are kept per key: the least
  /// recently used goes first.
  Status insert(const Key& key, const Partition& partition, const Meta& meta,
                std::span<const uint8_t> payload, int64_t now);

  /// Finds the most specific partition of `key` covering `client` (the
  /// global one covers everybody; a null client, one without a subnet,
  /// matches only the global and the no-subnet ones) and copies its payload
  /// into `out`. Entries that expired at most
  /// `max_stale` seconds ago are returned with `stale` set. Partitions
  /// longer than `max_prefix` are not used: a client known only to /16
  /// cannot be given an answer meant for one /24 of it (RFC 7871 7.3.2).
  Result<Found> lookup(const Key& key, const base::IpAddress* client, int64_t now,
                       std::span<uint8_t> out, uint32_t max_stale = 0,
                       uint8_t max_prefix = 128);

  /// Removes every partition of `key`. Returns how many entries went.
  size_t remove(const Key& key);
  /// Removes every entry (all types, kinds, partitions, ordered sets) whose
  /// name equals `name`, or, with `subtree`, starts with it, except plain
  /// entries (not ordered-set entries) whose kind is in `keep_kinds`: those
  /// stay where they are, never out of the cache for a moment. Scans the
  /// whole cache one stripe at a time: for operators, not the data path.
  size_t removeName(std::span<const uint8_t> name, bool subtree,
                    std::span<const uint8_t> keep_kinds = {});
  /// Copies every live entry whose name (or set key) equals `name` or, with
  /// `subtree`, starts with it; with `only_kinds`, only the plain entries
  /// (not ordered-set entries) of those kinds (every entry is still looked
  /// at, but only those are copied). Slow path, for shoalctl.
  std::vector<EntryCopy> collect(std::span<const uint8_t> name, bool subtree,
                                 std::span<const uint8_t> only_kinds = {});
  /// Copies every unexpired ECS-partitioned entry (family != 0), without
  /// its payload: what shoalctl ecs lists and counts. Slow path.
  std::vector<EntryCopy> collectPartitioned(int64_t now);

  /// Inserts an entry into the ordered set `set` under `order`. Only secure
  /// entries are admitted.
  Status insertRange(std::span<const uint8_t> set, std::span<const uint8_t> order,
                     const Meta& meta, std::span<const uint8_t> payload, int64_t now);
  /// The unexpired entry of `set` with the greatest order key <= `order`;
  /// if there is none, the greatest of the set (wrap-around: the last NSEC
  /// of a zone covers the names after it). `order_out` receives its order
  /// key (Found::order_length octets), `out` its payload.
  Result<Found> findRange(std::span<const uint8_t> set, std::span<const uint8_t> order,
                          int64_t now, std::span<uint8_t> order_out, std::span<uint8_t> out);

  Counters counters() const;
  std::vector<StripeFill> fill() const;
  unsigned stripeCount() const;
  size_t segmentSize() const;
  size_t arenaBytesPerStripe() const;
  /// Entries larger than this are refused with kTooLarge.
  size_t maxEntrySize() const;
  /// Drops every entry (all stripes), keeping the segment.
  void clear();

 private:
  explicit Cache(std::unique_ptr<Segment> segment);
  std::unique_ptr<Segment> segment_;
  unsigned counter_slot_ = 0;
};

}  // namespace shoal::shmcache
