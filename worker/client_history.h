#pragma once
// Internal to worker/: what each TCP client (an IPv4 address, or an IPv6
// /64) has done lately, and the bucket that puts it in (the seed's client
// profiles, issue 13). Sans-I/O: the caller gives the time.
//
//   keep-active  frequent: its queries come at least every 10 s on
//                average over the last minute (an exponentially weighted
//                rate), and it uses its connections for more than one
//                query: its connections are held 3 x tcp_idle_timeout;
//   dont-bother  one-shot: at least 3 of its connections closed, with on
//                average no more than one query each (it opens, asks,
//                leaves; connections still open do not count yet):
//                closed a tenth of tcp_idle_timeout after its answer;
//   collapse     everything else, and every client not seen 3 times yet:
//                the idle timeout as configured (the bucket whose idle
//                connections a collapse to a tuple would take).
// The table holds the most recently seen clients (kCapacity per worker);
// the least recently seen goes when a new one comes.

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/ip_address.h"

namespace shoal::worker {

enum class ClientBucket : uint8_t { kCollapse = 0, kKeepActive = 1, kDontBother = 2 };
inline constexpr size_t kClientBuckets = 3;

/// "keep-active", "collapse", "dont-bother".
const char* toString(ClientBucket bucket);

/// The key of a client: its IPv4 address, or its IPv6 /64, with the family.
struct ClientKey {
  uint64_t bits = 0;
  bool v6 = false;
  bool operator==(const ClientKey&) const = default;
  static ClientKey of(const base::IpAddress& address);
  /// The prefix it stands for: the address (v4) or the /64 (v6).
  base::IpAddress address() const;
  unsigned prefixLength() const { return v6 ? 64 : 32; }
};

struct ClientKeyHash {
  size_t operator()(const ClientKey& k) const { return std::hash<uint64_t>()(k.bits) ^ k.v6; }
};

class ClientHistory {
 public:
  static constexpr size_t kCapacity = 4096;
  /// Queries per second (over about a minute) that make a client frequent.
  static constexpr double kFrequentRate = 0.1;
  static constexpr int64_t kRateWindowMs = 60'000;

  struct Entry {
    ClientKey key;
    uint64_t connections = 0;  // opened, in all
    uint64_t queries = 0;      // over TCP, in all
    uint32_t open = 0;         // connections open now
    uint64_t closed = 0;          // connections closed
    uint64_t closed_queries = 0;  // the queries those carried
    double rate = 0;           // queries per second, weighted to the last minute
    int64_t last_ms = 0;       // when last seen (a connection or a query)
    ClientBucket bucket = ClientBucket::kCollapse;  // top(): what a new connection would get
  };

  /// A connection from `peer` opens: its bucket, from what came before.
  ClientBucket onConnect(const ClientKey& key, int64_t now_ms);
  void onQuery(const ClientKey& key, int64_t now_ms);
  /// A connection of `key` closes, having carried `queries`.
  void onClose(const ClientKey& key, uint64_t queries);
  /// A connection of `key` collapses (worker/collapser.h): no longer open,
  /// but not closed either (it may come back).
  void onCollapse(const ClientKey& key);
  /// A collapsed connection comes back: open again, the same connection
  /// (not counted as a new one); its bucket from what came before.
  ClientBucket onRevive(const ClientKey& key, int64_t now_ms);

  /// The `count` clients with the highest rates now (for shoalctl), each
  /// with its rate decayed to `now_ms` and the bucket its next connection
  /// would get.
  std::vector<Entry> top(size_t count, int64_t now_ms) const;
  size_t size() const { return entries_.size(); }

 private:
  Entry& touch(const ClientKey& key, int64_t now_ms);
  static double decayed(const Entry& e, int64_t now_ms);
  static ClientBucket classify(const Entry& e);

  std::list<Entry> lru_;  // most recently seen first
  std::unordered_map<ClientKey, std::list<Entry>::iterator, ClientKeyHash> entries_;
};

}  // namespace shoal::worker
