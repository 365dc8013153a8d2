#pragma once
// Waking the saver when a ring needs it. An idle saver sleeps on a futex
// word in the trailer instead of a fixed sleep, so a writer whose ring
// passes half full, or that blocks on a full ring, wakes it at once: a
// burst does not wait out idle_sleep (and with the drop policy, is not
// dropped meanwhile), and idle_sleep can be long to save CPU.
//
// Lost wake-ups are ruled out by a store-fence-load pair on each side: the
// writer publishes its head, fences, then reads `saver_sleeping`; the saver
// sets `saver_sleeping`, fences, then reads every ring's head. At least one
// of them sees the other's store, so either the saver sees the data and
// does not sleep, or the writer sees the flag and wakes it.

#include <atomic>
#include <chrono>
#include <cstdint>

#include <shmkit/logger/layout.hpp>

#include "core/detail/futex.hpp"

namespace shmkit::detail {

/// Wakes the saver, asleep or not: stop() does, for a reason of its own
/// process, and wake_saver does once it has seen the saver asleep.
inline void interrupt_saver(LoggerTrailer& trailer) noexcept {
  trailer.saver_seq.fetch_add(1, std::memory_order_release);
  futex_wake_all(trailer.saver_seq);
}

/// Writer side: wakes the saver if it sleeps. The exchange lets one writer
/// of many pay the system call.
inline void wake_saver(LoggerTrailer& trailer) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (trailer.saver_sleeping.load(std::memory_order_relaxed) != 0 &&
      trailer.saver_sleeping.exchange(0, std::memory_order_acq_rel) != 0) {
    interrupt_saver(trailer);
  }
}

/// Saver side: sleeps up to `timeout` unless `has_work()` (checked after
/// the flag is raised) says there is something to do, or a writer wakes it.
template <class HasWork>
void saver_sleep(LoggerTrailer& trailer, std::chrono::nanoseconds timeout, HasWork&& has_work) noexcept {
  const std::uint32_t seq = trailer.saver_seq.load(std::memory_order_acquire);
  trailer.saver_sleeping.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!has_work()) {
    futex_wait(trailer.saver_seq, seq, timeout);
  }
  trailer.saver_sleeping.store(0, std::memory_order_relaxed);
}

}  // namespace shmkit::detail
