#include <shmkit/core/error.hpp>
#include <shmkit/core/robust_mutex.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using shmkit::LockState;
using shmkit::RobustLockGuard;
using shmkit::RobustMutex;
using shmkit::testing::Child;
using shmkit::testing::exited_ok;
using shmkit::testing::require;
using shmkit::testing::Signal;
using namespace std::chrono_literals;

// What the tests share across fork(): a mutex and the data it guards.
struct Shared {
  RobustMutex mutex;
  std::uint64_t counter;
  std::uint64_t half_updated[2];
};

// An anonymous MAP_SHARED mapping: shared with children forked after it.
class SharedBlock {
 public:
  SharedBlock() {
    void* addr = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (addr == MAP_FAILED) {
      throw std::runtime_error("mmap failed");
    }
    shared_ = new (addr) Shared{};
    shared_->mutex.init();
  }
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;
  ~SharedBlock() { ::munmap(shared_, sizeof(Shared)); }
  Shared* operator->() const noexcept { return shared_; }

 private:
  Shared* shared_ = nullptr;
};

TEST(RobustMutexTest, LockAndUnlockInOneProcess) {
  const SharedBlock block;
  EXPECT_EQ(block->mutex.lock(), LockState::acquired);
  block->mutex.unlock();
  const auto state = block->mutex.try_lock_for(0ns);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(*state, LockState::acquired);
  block->mutex.unlock();
}

TEST(RobustMutexTest, GuardReleasesOnScopeExit) {
  const SharedBlock block;
  {
    const RobustLockGuard guard(block->mutex);
    EXPECT_FALSE(guard.recovered());
  }
  const auto state = block->mutex.try_lock_for(0ns);
  ASSERT_TRUE(state.has_value());
  block->mutex.unlock();
}

// The header promises an Error (EDEADLK) when the owner locks again. In a
// child, so that a mutex which deadlocks instead fails the test, not hangs it.
TEST(RobustMutexTest, RelockByOwnerThrowsInsteadOfDeadlocking) {
  const SharedBlock block;
  Child child([&] {
    require(block->mutex.lock() == LockState::acquired, "first lock should be clean");
    bool threw = false;
    try {
      const auto state = block->mutex.try_lock_for(10ms);
      require(!state.has_value(), "the owner locked its own mutex a second time");
    } catch (const shmkit::Error&) {
      threw = true;
    }
    require(threw, "try_lock_for by the owner timed out instead of throwing (EDEADLK)");
    try {
      (void)block->mutex.lock();
    } catch (const shmkit::Error& e) {
      require(std::string(e.what()).find("deadlock") != std::string::npos, e.what());
      block->mutex.unlock();
      return;
    }
    throw std::runtime_error("the owner locked its own mutex a second time");
  });
  EXPECT_TRUE(exited_ok(child.wait(5s)));
}

TEST(RobustMutexTest, TryLockTimesOutWhileAnotherProcessHolds) {
  const SharedBlock block;
  const Signal locked;
  const Signal release;
  Child holder([&] {
    require(block->mutex.lock() == LockState::acquired, "first lock should be clean");
    locked.notify();
    require(release.wait(), "parent never released the holder");
    block->mutex.unlock();
  });
  ASSERT_TRUE(locked.wait());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(block->mutex.try_lock_for(20ms).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_FALSE(block->mutex.try_lock_for(0ns).has_value());
  EXPECT_FALSE(block->mutex.try_lock_for(-5ms).has_value());  // negative means "do not wait"
  release.notify();
  EXPECT_TRUE(exited_ok(holder.wait(30s)));
  const auto state = block->mutex.try_lock_for(5s);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(*state, LockState::acquired);  // released properly, nothing to recover
  block->mutex.unlock();
}

TEST(RobustMutexTest, LockOfKilledOwnerIsRecovered) {
  const SharedBlock block;
  const Signal locked;
  Child holder([&] {
    (void)block->mutex.lock();
    block->half_updated[0] = 1;  // dies between the two halves of an update
    locked.notify();
    pause();
  });
  ASSERT_TRUE(locked.wait());
  const auto result = holder.kill_and_wait();
  EXPECT_FALSE(result.exited);
  {
    const RobustLockGuard guard(block->mutex);
    EXPECT_TRUE(guard.recovered());
    EXPECT_EQ(block->half_updated[0], 1U);  // the caller sees the half-done state and repairs it
    block->half_updated[1] = 1;
  }
  // Consistent again: the next owner is not told of a recovery.
  const RobustLockGuard guard(block->mutex);
  EXPECT_FALSE(guard.recovered());
}

TEST(RobustMutexTest, TryLockForReportsRecovery) {
  const SharedBlock block;
  const Signal locked;
  Child holder([&] {
    (void)block->mutex.lock();
    locked.notify();
    pause();
  });
  ASSERT_TRUE(locked.wait());
  holder.kill_and_wait();
  const auto state = block->mutex.try_lock_for(5s);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(*state, LockState::recovered);
  block->mutex.unlock();
  const auto again = block->mutex.try_lock_for(5s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, LockState::acquired);
  block->mutex.unlock();
}

TEST(RobustMutexTest, WaiterBlockedOnDeadOwnerIsWoken) {
  // A second process is already blocked in lock() when the owner dies.
  const SharedBlock block;
  const Signal locked;
  const Signal waiter_started;
  Child holder([&] {
    (void)block->mutex.lock();
    locked.notify();
    pause();
  });
  ASSERT_TRUE(locked.wait());
  Child waiter([&] {
    waiter_started.notify();
    const RobustLockGuard guard(block->mutex);
    require(guard.recovered(), "the waiter should learn that the owner died");
  });
  ASSERT_TRUE(waiter_started.wait());
  holder.kill_and_wait();
  EXPECT_TRUE(exited_ok(waiter.wait(30s)));
}

TEST(RobustMutexTest, ExcludesAcrossProcesses) {
  constexpr int kProcesses = 4;
  constexpr int kIterations = 20000;
  const SharedBlock block;
  std::vector<Child> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        const RobustLockGuard guard(block->mutex);
        ++block->counter;
      }
    });
  }
  for (auto& child : children) {
    EXPECT_TRUE(exited_ok(child.wait(60s)));
  }
  EXPECT_EQ(block->counter, std::uint64_t{kProcesses} * kIterations);
}

}  // namespace
