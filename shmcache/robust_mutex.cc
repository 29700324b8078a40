#include "shmcache/robust_mutex.h"

#include <cerrno>

#include "base/check.h"

namespace shoal::shmcache {

bool RobustMutex::init() {
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr) != 0) return false;
  bool ok = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
            pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
            pthread_mutex_init(&mutex_, &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  return ok;
}

RobustMutex::LockState RobustMutex::lock() {
  const int rc = pthread_mutex_lock(&mutex_);
  if (rc == 0) return LockState::kLocked;
  if (rc == EOWNERDEAD) return LockState::kOwnerDied;
  // ENOTRECOVERABLE cannot happen: every EOWNERDEAD is followed by
  // markConsistent(). Anything else means the segment is not a mutex.
  SHOAL_CHECK(rc == 0);
  return LockState::kLocked;
}

void RobustMutex::markConsistent() { pthread_mutex_consistent(&mutex_); }

void RobustMutex::unlock() { pthread_mutex_unlock(&mutex_); }

}  // namespace shoal::shmcache
