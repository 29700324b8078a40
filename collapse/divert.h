#pragma once
// Diverting the segments of collapsed connections to their worker before
// the kernel, finding no socket for them, answers with a reset.
//
// The supervisor installs two tables (families ip and ip6) named "shoal",
// each with one chain on the input hook and, per worker, a set of
// connection tuples (client address . client port . server address .
// server port) and a rule sending every TCP segment of a tuple in the set
// to the worker's NFQUEUE queue (first_queue + worker slot), with "bypass":
// while no worker listens on the queue the segment goes on, and the client
// gets a reset and reconnects. `nft list table ip shoal` shows it all.
//
// The queue verdict is nftables' own `queue` expression where the kernel
// has it (CONFIG_NFT_QUEUE), else the xtables NFQUEUE target through
// nft_compat (CONFIG_NETFILTER_XT_TARGET_NFQUEUE).
//
// A worker adds a tuple when it collapses the connection and deletes it
// when the connection comes back or is forgotten. The elements carry no
// timeout of their own: that would take a set element from 64 octets to 96
// (kmalloc caches), for a clock the worker keeps anyway. Netlink (libmnl) with nftables messages built by
// libnftnl: one request and its acknowledgement per change, no process
// started, no parsing of rule text.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "collapse/tuple.h"

struct mnl_socket;

namespace shoal::collapse {

/// The supervisor's side: the tables, chains, sets and rules.
class DivertRules {
 public:
  /// Replaces any "shoal" tables by fresh ones for `workers` workers.
  static bool install(unsigned workers, uint16_t first_queue, std::string* error);
  /// Removes them (quietly if absent).
  static void remove();
};

/// A worker's set: its collapsed tuples.
class DivertSet {
 public:
  /// The set of worker `slot` (installed by DivertRules); null and `error`
  /// when netlink cannot be opened or the set does not exist.
  static std::unique_ptr<DivertSet> open(unsigned slot, std::string* error);
  ~DivertSet();
  DivertSet(const DivertSet&) = delete;
  DivertSet& operator=(const DivertSet&) = delete;

  /// Diverts the tuple's segments.
  bool add(const ConnTuple& tuple, std::string* error);
  /// Lets its segments through again (absent: not an error).
  bool remove(const ConnTuple& tuple, std::string* error);
  /// The same for many (one message per family); true if all went.
  bool removeMany(std::span<const ConnTuple> tuples, std::string* error);
  /// Empties both of the worker's sets (a new worker knows none of its
  /// predecessor's collapsed connections).
  bool flush(std::string* error);

 private:
  DivertSet() = default;
  bool exists(std::string* error);
  bool change(uint16_t message, std::span<const ConnTuple> tuples, uint8_t family,
              std::string* error);

  mnl_socket* socket_ = nullptr;
  unsigned port_id_ = 0;
  uint32_t seq_ = 0;
  std::string set_name_;
  std::vector<char> buffer_;  // the batches' (reused)
};

}  // namespace shoal::collapse
