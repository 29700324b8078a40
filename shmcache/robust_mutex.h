#pragma once
// A process-shared, robust pthread mutex living in shared memory, and its
// RAII guard.
//
// Why not boost::interprocess::interprocess_mutex: on Linux it is robust, but
// once an owner dies it throws `not_recoverable` forever after. Here the
// next locker learns that the owner died (EOWNERDEAD), repairs what the lock
// protects, marks the mutex consistent and carries on.

#include <pthread.h>

namespace shoal::shmcache {

class RobustMutex {
 public:
  /// Initialises the mutex in place (shared memory, at segment creation).
  /// Returns false if pthread refuses.
  bool init();

  enum class LockState { kLocked, kOwnerDied };
  /// Blocks until locked. kOwnerDied: the previous owner died holding the
  /// lock; the caller now holds it and must repair the protected state, then
  /// call markConsistent().
  LockState lock();
  void markConsistent();
  void unlock();

 private:
  pthread_mutex_t mutex_;
};

/// Holds a RobustMutex for a scope. Reports whether the previous owner died.
class RobustLock {
 public:
  explicit RobustLock(RobustMutex& mutex) : mutex_(mutex), state_(mutex.lock()) {}
  ~RobustLock() { mutex_.unlock(); }
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;

  bool ownerDied() const { return state_ == RobustMutex::LockState::kOwnerDied; }

 private:
  RobustMutex& mutex_;
  RobustMutex::LockState state_;
};

}  // namespace shoal::shmcache
