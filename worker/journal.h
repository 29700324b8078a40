#pragma once
// The UDP journal: what a worker has read from its client sockets and not
// answered yet, kept where its replacement finds it after a crash.
//
// A killed worker takes with it every query it had read: a datagram the
// kernel handed over is gone from the socket. Stubs retry after 1-5 s, and
// a load generator counts it lost. So the worker receives straight into
// this journal, which lives in memory the supervisor mapped (shared,
// anonymous) before forking and gives to the next process of the same
// slot:
//
//  - recvmmsg writes the datagrams, their sources and their lengths
//    (msg_len, written by the kernel per datagram during the call) into
//    `batch`. A worker killed anywhere after the kernel copied a datagram,
//    even on its way out of the system call, leaves msg_len > 0 behind.
//    After the batch's answers have left (sendmmsg), the worker zeroes the
//    lengths: the batch is done.
//  - a cache miss waits for the resolver, possibly for seconds: its query
//    is copied into a `pending` entry (slow path), freed when answered.
//
// A new worker finds the journal's owner dead (crash restart) and answers
// what it holds before it reads its sockets. It first copies the entries
// out and clears them, so a query that kills workers is replayed once, not
// in a loop. Answers that left just before the kill may go out twice;
// clients drop the duplicate. A worker that stops cleanly leaves its
// journal empty. TCP is not journaled: its connections die with the worker
// and the client reconnects.

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "worker/sockaddr.h"

namespace shoal::worker {

/// Datagrams per recvmmsg call.
inline constexpr size_t kJournalBatch = 32;
/// Largest query received over UDP; a longer datagram arrives truncated
/// (MSG_TRUNC) and is dropped. DNS queries are a few hundred octets.
inline constexpr size_t kJournalSlot = 4096;
/// Cache misses journaled at once (more in flight: not journaled, counted).
inline constexpr size_t kPendingEntries = 512;
/// Largest journaled miss (a larger query is answered, not journaled).
inline constexpr size_t kPendingQuery = 512;

struct JournalBatch {
  uint32_t listener;  // which of the worker's UDP sockets it came from
  mmsghdr msgs[kJournalBatch];
  iovec iov[kJournalBatch];
  sockaddr_storage from[kJournalBatch];
  uint8_t control[kJournalBatch][kPacketInfoSpace];  // pktinfo (wildcard sockets)
  uint8_t data[kJournalBatch][kJournalSlot];
};

struct PendingQuery {
  std::atomic<uint32_t> used;  // 1: a miss waiting for its answer
  uint32_t listener;
  uint32_t length;
  socklen_t from_length;
  sockaddr_storage from;
  LocalAddress local;  // where it arrived (wildcard sockets)
  uint8_t packet[kPendingQuery];
};

struct Journal {
  std::atomic<int32_t> owner;  // pid of the worker using it; 0: left clean
  JournalBatch batch;
  PendingQuery pending[kPendingEntries];
};

/// Makes batch entry `k` empty and ready for recvmmsg: its buffers, and
/// the lengths the kernel overwrites. Only entries a call filled need it
/// again (the kernel leaves the others alone).
void resetBatchEntry(JournalBatch& batch, size_t k);

/// Maps a zeroed journal shared with future children (supervisor, before
/// fork). Returns nullptr when the memory cannot be had (the worker then
/// runs without one).
Journal* mapJournal();

}  // namespace shoal::worker
