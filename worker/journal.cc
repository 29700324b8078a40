// The journal (worker/journal.h): mapping it, replaying what a killed
// predecessor left, and the pending entries of UDP cache misses.

#include "worker/journal.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/log.h"
#include "worker/sockaddr.h"
#include "worker/udp_server.h"

namespace shoal::worker {

using base::logLine;

Journal* mapJournal() {
  void* memory = mmap(nullptr, sizeof(Journal), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return memory == MAP_FAILED ? nullptr : static_cast<Journal*>(memory);  // zeroed
}

void resetBatchEntry(JournalBatch& b, size_t k) {
  b.iov[k] = {b.data[k], kJournalSlot};
  msghdr& h = b.msgs[k].msg_hdr;
  h.msg_name = &b.from[k];
  h.msg_namelen = sizeof b.from[k];
  h.msg_iov = &b.iov[k];
  h.msg_iovlen = 1;
  // Always offered: a socket without IP_PKTINFO leaves it empty.
  h.msg_control = b.control[k];
  h.msg_controllen = kPacketInfoSpace;
  h.msg_flags = 0;
  b.msgs[k].msg_len = 0;
}

namespace {

/// A query copied out of the journal before it is answered again.
struct Replay {
  uint32_t listener = 0;
  sockaddr_storage from{};
  LocalAddress local;
  std::vector<uint8_t> packet;
};

}  // namespace

void UdpServer::replayJournal() {
  free_pending_.clear();
  for (int32_t i = static_cast<int32_t>(kPendingEntries) - 1; i >= 0; --i) {
    free_pending_.push_back(i);
  }
  const pid_t previous = journal_->owner.load();
  std::vector<Replay> replays;
  // Only a dead owner's journal is replayed (a crash restart: the
  // supervisor hands a fresh one to every other start).
  if (previous != 0 && previous != getpid() && kill(previous, 0) != 0) {
    JournalBatch& b = journal_->batch;
    for (size_t k = 0; k < kJournalBatch; ++k) {
      const uint32_t length = b.msgs[k].msg_len;
      if (length == 0 || length > kJournalSlot) continue;
      Replay& r = replays.emplace_back();
      r.listener = b.listener;
      r.from = b.from[k];
      r.local = localAddressOf(b.msgs[k].msg_hdr);
      r.packet.assign(b.data[k], b.data[k] + length);
    }
    for (PendingQuery& p : journal_->pending) {
      if (p.used.load() == 0 || p.length > kPendingQuery) continue;
      Replay& r = replays.emplace_back();
      r.listener = p.listener;
      r.from = p.from;
      r.local = p.local;
      r.packet.assign(p.packet, p.packet + p.length);
    }
  }
  // Cleared before anything is answered: a query that kills the worker is
  // replayed once, not by every replacement.
  clearJournal();
  journal_->owner.store(getpid());
  if (replays.empty()) return;
  size_t answered = 0;
  for (const Replay& r : replays) {
    if (r.listener >= listeners_.size()) continue;  // the listen addresses changed
    onDatagram(*listeners_[r.listener], r.packet, reinterpret_cast<const sockaddr*>(&r.from),
               r.local);
    ++answered;
  }
  flushAnswers();
  counters_.journal_replayed += answered;
  logLine("worker %u: answered %zu quer%s its predecessor had read before it died", slot_,
          answered, answered == 1 ? "y" : "ies");
}

int32_t UdpServer::journalPending(std::span<const uint8_t> query, const ClientOrigin& origin) {
  if (origin.tcp) return -1;  // TCP is not journaled
  if (query.size() > kPendingQuery || free_pending_.empty()) {
    ++counters_.journal_skipped;
    return -1;
  }
  const int32_t index = free_pending_.back();
  free_pending_.pop_back();
  PendingQuery& p = journal_->pending[index];
  p.listener = origin.listener;
  p.length = static_cast<uint32_t>(query.size());
  p.from_length = sockaddrLength(origin.from);
  std::memcpy(&p.from, origin.from, p.from_length);
  p.local = origin.local != nullptr ? *origin.local : LocalAddress{};
  std::memcpy(p.packet, query.data(), query.size());
  p.used.store(1, std::memory_order_release);
  return index;
}

void UdpServer::releasePending(int32_t index) {
  if (index < 0 || static_cast<size_t>(index) >= kPendingEntries) return;
  journal_->pending[index].used.store(0, std::memory_order_release);
  free_pending_.push_back(index);
}

void UdpServer::clearJournal() {
  for (size_t k = 0; k < kJournalBatch; ++k) resetBatchEntry(journal_->batch, k);
  for (PendingQuery& p : journal_->pending) p.used.store(0);
}

}  // namespace shoal::worker
