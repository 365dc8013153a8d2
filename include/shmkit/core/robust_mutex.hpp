#pragma once
/// @file
/// A process-shared, robust mutex that lives inside a shared segment.

#include <pthread.h>

#include <chrono>
#include <optional>
#include <type_traits>

namespace shmkit {

/// How a lock was obtained. `recovered` means the previous owner died while
/// holding it: the lock is yours, but the data it protects may be half
/// updated, and the caller should check or repair it.
enum class LockState { acquired, recovered };

/// A pthread mutex set up as PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST.
///
/// Place it in shared memory and call `init()` once, in the creating process,
/// before any other process can see it. If a process dies holding the lock,
/// the next `lock()` returns `LockState::recovered` after making the mutex
/// consistent again, so no process ever hangs on a dead owner.
///
/// The mutex is not recursive: locking it twice from one thread is an error.
struct RobustMutex {
  pthread_mutex_t native;

  /// Initialises the mutex in place. @throws Error if pthread refuses.
  void init();

  /// Blocks until the lock is held. @throws Error only if the mutex is
  /// unrecoverable (which shmkit itself never leaves behind) or on EDEADLK.
  LockState lock();

  /// Waits up to `timeout` (monotonic clock). Returns nullopt on timeout.
  /// @throws Error as `lock()`.
  std::optional<LockState> try_lock_for(std::chrono::nanoseconds timeout);

  /// Releases the lock. Must be called by the holder.
  void unlock() noexcept;
};

static_assert(std::is_standard_layout_v<RobustMutex> && std::is_trivially_copyable_v<RobustMutex>,
              "RobustMutex lives in shared memory");

/// Scoped ownership of a RobustMutex.
class RobustLockGuard {
 public:
  explicit RobustLockGuard(RobustMutex& mutex) : mutex_(&mutex), state_(mutex.lock()) {}
  RobustLockGuard(const RobustLockGuard&) = delete;
  RobustLockGuard& operator=(const RobustLockGuard&) = delete;
  ~RobustLockGuard() { mutex_->unlock(); }

  /// True when the previous owner died holding the lock.
  [[nodiscard]] bool recovered() const noexcept { return state_ == LockState::recovered; }

 private:
  RobustMutex* mutex_;
  LockState state_;
};

}  // namespace shmkit
