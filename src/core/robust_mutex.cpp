#include <shmkit/core/error.hpp>
#include <shmkit/core/robust_mutex.hpp>

#include <cerrno>
#include <ctime>

namespace shmkit {

namespace {

void check(int rc, const char* what) {
  if (rc != 0) {
    detail::throw_system_error(what, rc);
  }
}

// EOWNERDEAD hands us the lock of a dead owner; making it consistent at once
// means the mutex never reaches ENOTRECOVERABLE through shmkit.
LockState settle(pthread_mutex_t* native, int rc) {
  if (rc == 0) {
    return LockState::acquired;
  }
  if (rc == EOWNERDEAD) {
    check(pthread_mutex_consistent(native), "cannot make a recovered shared lock consistent");
    return LockState::recovered;
  }
  detail::throw_system_error("cannot lock a shared lock", rc);
}

}  // namespace

void RobustMutex::init() {
  pthread_mutexattr_t attr;
  check(pthread_mutexattr_init(&attr), "cannot initialise shared lock attributes");
  const int shared = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  const int robust = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  // ERRORCHECK makes a relock by the holder return EDEADLK; a robust NORMAL
  // mutex would hang that thread forever instead.
  const int kind = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  const int created = (shared == 0 && robust == 0 && kind == 0) ? pthread_mutex_init(&native, &attr) : 0;
  pthread_mutexattr_destroy(&attr);
  check(shared, "cannot make a lock process-shared");
  check(robust, "cannot make a lock robust");
  check(kind, "cannot make a lock error-checking");
  check(created, "cannot initialise a shared lock");
}

LockState RobustMutex::lock() {
  return settle(&native, pthread_mutex_lock(&native));
}

std::optional<LockState> RobustMutex::try_lock_for(std::chrono::nanoseconds timeout) {
  if (timeout < std::chrono::nanoseconds::zero()) {
    timeout = std::chrono::nanoseconds::zero();
  }
  timespec deadline{};
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  const auto total = std::chrono::nanoseconds(deadline.tv_nsec) + timeout;
  deadline.tv_sec += static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(total).count());
  deadline.tv_nsec = static_cast<long>((total % std::chrono::seconds(1)).count());
  const int rc = pthread_mutex_clocklock(&native, CLOCK_MONOTONIC, &deadline);
  if (rc == ETIMEDOUT) {
    return std::nullopt;
  }
  return settle(&native, rc);
}

void RobustMutex::unlock() noexcept {
  pthread_mutex_unlock(&native);
}

}  // namespace shmkit
