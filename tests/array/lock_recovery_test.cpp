// A process SIGKILLed while holding an array's lock: nobody hangs, the next
// locker is told, and the seqlock counter it left odd is repaired.

#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using shmkit::LockState;
using shmkit::SharedArray;
using shmkit::testing::Child;
using shmkit::testing::ChildResult;
using shmkit::testing::exited_ok;
using shmkit::testing::require;
using shmkit::testing::ScopedName;
using shmkit::testing::Signal;
using namespace std::chrono_literals;

constexpr std::size_t kElements = 16;

// Forks a child that opens `name`, takes the lock, writes half of an update
// (elements [0, 8) = 1, [8, 16) untouched), tells the parent, and blocks
// until it is killed. Returns once the child has been SIGKILLed and reaped.
void kill_while_holding_the_lock(const ScopedName& name) {
  const Signal locked;
  Child holder([&] {
    auto array = SharedArray<std::int32_t>::open(name);
    auto guard = array.lock();
    for (std::size_t i = 0; i < kElements / 2; ++i) {
      array[i] = 1;
    }
    locked.notify();
    while (true) {
      pause();
    }
  });
  ASSERT_TRUE(locked.wait());
  const ChildResult result = holder.kill_and_wait();
  EXPECT_FALSE(result.exited);
  EXPECT_EQ(result.signal, SIGKILL);
}

TEST(ArrayLockRecoveryTest, LockAfterAKilledHolderIsRecovered) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  kill_while_holding_the_lock(name);
  {
    auto guard = array.lock();
    EXPECT_TRUE(guard.recovered());
    EXPECT_EQ(guard.state(), LockState::recovered);
    // The half-done update is visible; the recovering process repairs it.
    EXPECT_EQ(array[0], 1);
    EXPECT_EQ(array[kElements - 1], 0);
    for (std::size_t i = kElements / 2; i < kElements; ++i) {
      array[i] = 1;
    }
  }
  auto next = array.lock();
  EXPECT_FALSE(next.recovered());
}

TEST(ArrayLockRecoveryTest, TryLockForAfterAKilledHolderIsRecovered) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  kill_while_holding_the_lock(name);
  {
    auto guard = array.try_lock_for(5s);
    ASSERT_TRUE(guard.has_value());
    EXPECT_TRUE(guard->recovered());
  }
  auto next = array.try_lock_for(5s);
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->recovered());
}

TEST(ArrayLockRecoveryTest, WithLockAndLockedWritesRecoverToo) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  kill_while_holding_the_lock(name);
  const LockState state = array.with_lock([](auto& view, LockState s) {
    view(kElements - 1) = 5;
    return s;
  });
  EXPECT_EQ(state, LockState::recovered);
  // Locked element access just goes ahead after a recovery.
  kill_while_holding_the_lock(name);
  array.write({3}, 9, shmkit::Locking::locked);
  EXPECT_EQ(array.read({3}, shmkit::Locking::locked), 9);
  EXPECT_FALSE(array.lock().recovered());
}

TEST(ArrayLockRecoveryTest, DynamicArrayLockIsRecovered) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  kill_while_holding_the_lock(name);
  auto dynamic = shmkit::DynamicArray::open(name);
  {
    auto guard = dynamic.lock();
    EXPECT_TRUE(guard.recovered());
  }
  EXPECT_FALSE(dynamic.lock().recovered());
}

TEST(ArrayLockRecoveryTest, SeqlockLeftOddByTheDeadWriterIsRepaired) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  kill_while_holding_the_lock(name);
  // The dead writer's section is still open: no snapshot is consistent yet.
  std::vector<std::int32_t> copy(kElements);
  EXPECT_FALSE(array.try_snapshot(std::span(copy)));
  EXPECT_TRUE(shmkit::testing::throws_with<shmkit::TimeoutError>([&] { (void)array.snapshot(20ms); },
                                                                 {"consistent snapshot", name.str()}));
  {
    auto guard = array.lock();
    ASSERT_TRUE(guard.recovered());
    // Still inside the (inherited) write section while we repair.
    EXPECT_FALSE(array.try_snapshot(std::span(copy)));
    for (std::size_t i = 0; i < kElements; ++i) {
      array[i] = 2;
    }
  }
  // Closing the recovering section makes snapshots work again.
  const auto snapshot = array.snapshot(1s);
  for (std::size_t i = 0; i < kElements; ++i) {
    EXPECT_EQ(snapshot(i), 2) << i;
  }
  EXPECT_TRUE(array.try_snapshot(std::span(copy)));
  EXPECT_EQ(copy, std::vector<std::int32_t>(kElements, 2));
  // And later lock holders keep the counter's parity right.
  {
    auto guard = array.lock();
    EXPECT_FALSE(array.try_snapshot(std::span(copy)));
  }
  EXPECT_TRUE(array.try_snapshot(std::span(copy)));
}

// A child forked while the parent holds the lock inherits the guard: its
// destruction there must leave the parent's write section open and its
// lock held, or readers would take the parent's half-done write as a
// consistent snapshot.
TEST(ArrayLockRecoveryTest, AGuardAForkedChildDestroysLeavesTheParentsLockAlone) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  std::vector<std::int32_t> copy(kElements);
  {
    auto guard = array.lock();
    for (std::size_t i = 0; i < kElements / 2; ++i) {
      array[i] = 3;
    }
    Child child([&] {
      { const shmkit::ArrayLock inherited = std::move(guard); }
      // Still the parent's: the child cannot take it (nor snapshot).
      require(!array.try_lock_for(0ns).has_value(), "the child took a lock its parent holds");
      std::vector<std::int32_t> seen(kElements);
      require(!array.try_snapshot(std::span(seen)), "the child's destruction closed the parent's write section");
    });
    EXPECT_TRUE(exited_ok(child.wait()));
    EXPECT_FALSE(array.try_snapshot(std::span(copy)));
    for (std::size_t i = kElements / 2; i < kElements; ++i) {
      array[i] = 3;
    }
  }
  // The parent's own release closes its section: whole writes only.
  ASSERT_TRUE(array.try_snapshot(std::span(copy)));
  EXPECT_EQ(copy, std::vector<std::int32_t>(kElements, 3));
  auto again = array.try_lock_for(0ns);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->recovered());
}

TEST(ArrayLockRecoveryTest, ProcessWaitingForTheLockIsRecoveredWhenTheHolderDies) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  const Signal locked;
  const Signal waiting;
  Child holder([&] {
    auto mine = SharedArray<std::int32_t>::open(name);
    auto guard = mine.lock();
    locked.notify();
    while (true) {
      pause();
    }
  });
  ASSERT_TRUE(locked.wait());
  Child waiter([&] {
    auto mine = SharedArray<std::int32_t>::open(name);
    waiting.notify();  // about to block in lock() (or, if late, find the lock abandoned)
    auto guard = mine.lock();
    require(guard.recovered(), "the waiter was not told that the holder died");
    mine[0] = 7;
  });
  ASSERT_TRUE(waiting.wait());
  holder.kill_and_wait();
  EXPECT_TRUE(exited_ok(waiter.wait(30s)));
  EXPECT_EQ(array[0], 7);
  EXPECT_FALSE(array.lock().recovered());
  EXPECT_EQ(array.snapshot()(0), 7);
}

TEST(ArrayLockRecoveryTest, RepeatedKillsNeverWedgeTheLock) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {kElements});
  for (int round = 0; round < 5; ++round) {
    kill_while_holding_the_lock(name);
    auto guard = array.try_lock_for(5s);
    ASSERT_TRUE(guard.has_value()) << "round " << round;
    EXPECT_TRUE(guard->recovered()) << "round " << round;
  }
  EXPECT_EQ(array.snapshot(1s).size(), kElements);
}

}  // namespace
