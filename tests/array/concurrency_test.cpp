// Several real processes on one array: locked read-modify-writes, lock-free
// element atomics, disjoint unlocked writes, and seqlock snapshots under a
// writer that never waits for readers.

#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using shmkit::Index;
using shmkit::SharedArray;
using shmkit::testing::Child;
using shmkit::testing::exited_ok;
using shmkit::testing::require;
using shmkit::testing::ScopedName;
using shmkit::testing::Signal;
using namespace std::chrono_literals;

constexpr int kProcesses = 4;
constexpr int kIncrements = 100000;

// Runs `body(p, start)` in kProcesses children. Each child opens what it
// needs, then calls start(), which returns once every child is ready, so
// the work really overlaps; each child must succeed.
template <class F>
void run_in_processes(F&& body) {
  const Signal ready;
  const Signal go;
  const auto start = [&] {
    ready.notify();
    require(go.wait(), "never told to start");
  };
  std::vector<Child> children;
  children.reserve(kProcesses);
  for (int p = 0; p < kProcesses; ++p) {
    children.emplace_back([&, p] { body(p, start); });
  }
  bool all_ready = true;
  for (int p = 0; p < kProcesses; ++p) {
    all_ready = all_ready && ready.wait();
  }
  EXPECT_TRUE(all_ready) << "a child never got ready";
  for (int p = 0; p < kProcesses; ++p) {
    go.notify();
  }
  for (auto& child : children) {
    EXPECT_TRUE(exited_ok(child.wait(120s)));
  }
}

TEST(ArrayConcurrencyTest, LockedIncrementsFromFourProcessesAreExact) {
  const ScopedName name;
  auto array = SharedArray<std::int64_t>::create(name, {8});
  run_in_processes([&](int p, const auto& start) {
    auto mine = SharedArray<std::int64_t>::open(name);
    start();
    for (int i = 0; i < kIncrements; ++i) {
      if (p % 2 == 0) {
        auto guard = mine.lock();
        mine[0] += 1;
      } else {
        mine.with_lock([](auto& view) { view(0) += 1; });
      }
    }
  });
  EXPECT_EQ(array[0], std::int64_t{kProcesses} * kIncrements);
  const auto snapshot = array.snapshot();  // every lock holder closed its write section
  EXPECT_EQ(snapshot(0), std::int64_t{kProcesses} * kIncrements);
}

TEST(ArrayConcurrencyTest, AtomicFetchAddFromFourProcessesIsExact) {
  const ScopedName name;
  auto array = SharedArray<std::uint64_t>::create(name, {2, 4});
  run_in_processes([&](int p, const auto& start) {
    auto mine = SharedArray<std::uint64_t>::open(name);
    auto counter = mine.atomic(0);
    auto by_index = mine.atomic(Index{1, 3});
    start();
    for (int i = 0; i < kIncrements; ++i) {
      counter.fetch_add(1, std::memory_order_relaxed);
      if (i % 10 == 0) {
        by_index.fetch_add(static_cast<std::uint64_t>(p) + 1);
      }
    }
  });
  EXPECT_EQ(array[0], std::uint64_t{kProcesses} * kIncrements);
  EXPECT_EQ(array.read({1, 3}), std::uint64_t{(1 + 2 + 3 + 4) * (kIncrements / 10)});
  EXPECT_EQ(array.read({0, 1}), 0U);  // neighbours untouched
}

TEST(ArrayConcurrencyTest, AtomicCompareExchangeOnDoublesIsExact) {
  constexpr int kAdds = 20000;
  const ScopedName name;
  auto array = SharedArray<double>::create(name, {1});
  run_in_processes([&](int, const auto& start) {
    auto mine = SharedArray<double>::open(name);
    auto value = mine.atomic(0);
    start();
    for (int i = 0; i < kAdds; ++i) {
      double expected = value.load();
      while (!value.compare_exchange_weak(expected, expected + 1.0)) {
      }
    }
  });
  EXPECT_EQ(array[0], double{kProcesses} * kAdds);
}

TEST(ArrayConcurrencyTest, DisjointUnlockedWritesFromFourProcesses) {
  constexpr std::size_t kColumns = 4096;
  constexpr int kPasses = 50;
  const ScopedName name;
  auto array = SharedArray<std::uint32_t>::create(name, {kProcesses, kColumns});
  run_in_processes([&](int p, const auto& start) {
    auto mine = SharedArray<std::uint32_t>::open(name);
    const auto row = static_cast<std::size_t>(p);
    start();
    for (int pass = 1; pass <= kPasses; ++pass) {
      for (std::size_t j = 0; j < kColumns; ++j) {
        mine.write({row, j}, static_cast<std::uint32_t>(pass * 1000000 + p * 10000) + static_cast<std::uint32_t>(j));
      }
    }
  });
  for (std::size_t row = 0; row < kProcesses; ++row) {
    for (std::size_t j = 0; j < kColumns; ++j) {
      ASSERT_EQ(array.read({row, j}), static_cast<std::uint32_t>(kPasses * 1000000 + row * 10000 + j))
          << row << "," << j;
    }
  }
}

// A writer process fills a 64x1024 array with one value per iteration under
// the lock; the parent snapshots all the while. A torn copy would mix two
// iterations' values.
TEST(ArrayConcurrencyTest, SnapshotIsNeverTornByAConcurrentWriter) {
  constexpr std::size_t kRows = 64;
  constexpr std::size_t kColumns = 1024;
  constexpr std::uint32_t kIterations = 20000;
  const ScopedName name;
  auto array = SharedArray<std::uint32_t>::create(name, {kRows, kColumns});
  const Signal started;
  Child writer([&] {
    auto mine = SharedArray<std::uint32_t>::open(name);
    std::vector<std::uint32_t> frame(mine.size());
    for (std::uint32_t iteration = 1; iteration <= kIterations; ++iteration) {
      // Prepare the next frame outside the lock, as a real producer does;
      // this also leaves readers gaps between write sections.
      std::fill(frame.begin(), frame.end(), iteration);
      {
        auto guard = mine.lock();
        std::copy(frame.begin(), frame.end(), mine.data());
      }
      if (iteration == 1) {
        started.notify();
      }
    }
  });
  ASSERT_TRUE(started.wait());

  std::size_t snapshots = 0;
  std::size_t timeouts = 0;
  std::size_t torn = 0;
  std::uint32_t last_seen = 0;
  std::vector<std::uint32_t> copy(array.size());
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (last_seen < kIterations && std::chrono::steady_clock::now() < deadline) {
    try {
      const auto snapshot = array.snapshot(100ms);
      ++snapshots;
      const std::uint32_t first = snapshot.flat(0);
      for (std::size_t i = 1; i < snapshot.size(); ++i) {
        if (snapshot.flat(i) != first) {
          ++torn;
          break;
        }
      }
      EXPECT_GE(first, last_seen) << "snapshots went back in time";
      last_seen = first;
    } catch (const shmkit::TimeoutError&) {
      ++timeouts;  // the writer may starve a reader; it must never tear one
    }
    if (array.try_snapshot(std::span(copy), 8)) {
      ++snapshots;
      for (std::size_t i = 1; i < copy.size(); ++i) {
        if (copy[i] != copy[0]) {
          ++torn;
          break;
        }
      }
    }
  }
  EXPECT_TRUE(exited_ok(writer.wait(60s)));
  EXPECT_EQ(torn, 0U) << "of " << snapshots << " snapshots";
  EXPECT_GT(snapshots, 0U) << timeouts << " snapshot attempts timed out";
  EXPECT_EQ(array.snapshot()(kRows - 1, kColumns - 1), kIterations);
  RecordProperty("snapshots", static_cast<int>(snapshots));
  RecordProperty("timeouts", static_cast<int>(timeouts));
  std::cout << "snapshots " << snapshots << ", timeouts " << timeouts << ", last seen " << last_seen << "\n";
}

// A ring of frames: the writer fills one frame after another under the lock
// (one value per frame); the parent takes slice snapshots of single frames,
// among them the one being written. A torn frame would hold two values.
TEST(ArrayConcurrencyTest, SliceSnapshotOfOneFrameIsNeverTorn) {
  constexpr std::size_t kFrames = 4;
  constexpr std::size_t kFrameElements = 64 * 1024;
  constexpr std::uint32_t kIterations = 20000;
  const ScopedName name;
  auto ring = SharedArray<std::uint32_t>::create(name, {kFrames, 64, 1024});
  const Signal started;
  Child writer([&] {
    auto mine = SharedArray<std::uint32_t>::open(name);
    std::vector<std::uint32_t> frame(kFrameElements);
    for (std::uint32_t iteration = 1; iteration <= kIterations; ++iteration) {
      std::fill(frame.begin(), frame.end(), iteration);
      {
        auto guard = mine.lock();
        std::copy(frame.begin(), frame.end(), mine.data() + (iteration % kFrames) * kFrameElements);
      }
      if (iteration == 1) {
        started.notify();
      }
    }
  });
  ASSERT_TRUE(started.wait());

  std::size_t snapshots = 0;
  std::size_t torn = 0;
  std::vector<std::uint32_t> copy(kFrameElements);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (std::size_t k = 0;
       !shmkit::testing::wait_until_exited_unreaped(writer.pid(), 0ms) && std::chrono::steady_clock::now() < deadline;
       ++k) {
    if (!ring.try_snapshot_slice((k % kFrames) * kFrameElements, std::span(copy), 8)) {
      continue;  // the writer may starve a reader; it must never tear one
    }
    ++snapshots;
    if (std::find_if(copy.begin(), copy.end(), [&](std::uint32_t v) { return v != copy[0]; }) != copy.end()) {
      ++torn;
    }
  }
  EXPECT_TRUE(exited_ok(writer.wait(60s)));
  EXPECT_EQ(torn, 0U) << "of " << snapshots << " snapshots";
  EXPECT_GT(snapshots, 0U);
  // Once the writer is done every frame holds the last value written to it.
  for (std::size_t f = 0; f < kFrames; ++f) {
    ASSERT_TRUE(ring.try_snapshot_slice(f * kFrameElements, std::span(copy)));
    const std::uint32_t last = kIterations - (kIterations - static_cast<std::uint32_t>(f)) % kFrames;
    EXPECT_EQ(copy.front(), last) << "frame " << f;
    EXPECT_EQ(copy.back(), last) << "frame " << f;
  }
  std::cout << "slice snapshots " << snapshots << "\n";
}

TEST(ArrayConcurrencyTest, SliceSnapshotChecksItsRange) {
  const ScopedName name;
  auto array = SharedArray<std::uint32_t>::create(name, {4, 8});
  std::vector<std::uint32_t> copy(8);
  EXPECT_TRUE(array.try_snapshot_slice(24, std::span(copy)));
  EXPECT_THROW((void)array.try_snapshot_slice(25, std::span(copy)), shmkit::IndexError);
}

}  // namespace
