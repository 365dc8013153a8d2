// SharedArray benchmarks, each next to the baseline it is judged against:
// element access vs a std::vector with the same access pattern, slice copies
// vs memcpy of the same size, and cross-process write-to-visible latency.
// bench/compare/array_compare.py runs this binary and the Python peers.

#include <shmkit/array/shared_array.hpp>

#include <benchmark/benchmark.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kElements = 1024;  // element benchmarks cycle through 8 KiB: always in L1
constexpr std::size_t kMask = kElements - 1;
constexpr std::size_t kSliceBytes = std::size_t{1} << 20;
constexpr std::size_t kSliceElements = kSliceBytes / sizeof(double);

std::string bench_name(const char* tag) {
  return "shmkit-bench-" + std::to_string(::getpid()) + "-" + tag;
}

shmkit::SharedArray<double> make_array(const char* tag, std::size_t size) {
  return shmkit::SharedArray<double>::create(bench_name(tag), {size}, {.unlink_on_close = true});
}

// ---- element access: baseline ------------------------------------------------

void BM_Array_PlainWrite(benchmark::State& state) {
  std::vector<double> plain(kElements);
  std::size_t i = 0;
  for (auto _ : state) {
    plain[i & kMask] = static_cast<double>(i);
    benchmark::ClobberMemory();
    ++i;
  }
}
BENCHMARK(BM_Array_PlainWrite);

void BM_Array_PlainRead(benchmark::State& state) {
  std::vector<double> plain(kElements, 1.0);
  std::size_t i = 0;
  for (auto _ : state) {
    double value = plain[i & kMask];
    benchmark::DoNotOptimize(value);
    ++i;
  }
}
BENCHMARK(BM_Array_PlainRead);

// ---- element access: SharedArray ---------------------------------------------

void BM_Array_UnlockedWrite(benchmark::State& state) {
  auto array = make_array("unlocked-write", kElements);
  std::size_t i = 0;
  for (auto _ : state) {
    array[i & kMask] = static_cast<double>(i);
    benchmark::ClobberMemory();
    ++i;
  }
}
BENCHMARK(BM_Array_UnlockedWrite);

void BM_Array_UnlockedRead(benchmark::State& state) {
  auto array = make_array("unlocked-read", kElements);
  std::size_t i = 0;
  for (auto _ : state) {
    double value = array[i & kMask];
    benchmark::DoNotOptimize(value);
    ++i;
  }
}
BENCHMARK(BM_Array_UnlockedRead);

void BM_Array_CheckedWrite(benchmark::State& state) {
  auto array = make_array("checked-write", kElements);
  std::size_t i = 0;
  for (auto _ : state) {
    array.write({i & kMask}, static_cast<double>(i));
    benchmark::ClobberMemory();
    ++i;
  }
}
BENCHMARK(BM_Array_CheckedWrite);

void BM_Array_CheckedRead(benchmark::State& state) {
  auto array = make_array("checked-read", kElements);
  std::size_t i = 0;
  for (auto _ : state) {
    double value = array.read({i & kMask});
    benchmark::DoNotOptimize(value);
    ++i;
  }
}
BENCHMARK(BM_Array_CheckedRead);

void BM_Array_LockedWrite(benchmark::State& state) {
  auto array = make_array("locked-write", kElements);
  std::size_t i = 0;
  for (auto _ : state) {
    array.write({i & kMask}, static_cast<double>(i), shmkit::Locking::locked);
    ++i;
  }
}
BENCHMARK(BM_Array_LockedWrite);

void BM_Array_LockedRead(benchmark::State& state) {
  auto array = make_array("locked-read", kElements);
  std::size_t i = 0;
  for (auto _ : state) {
    double value = array.read({i & kMask}, shmkit::Locking::locked);
    benchmark::DoNotOptimize(value);
    ++i;
  }
}
BENCHMARK(BM_Array_LockedRead);

void BM_Array_LockGuard(benchmark::State& state) {
  auto array = make_array("lock-guard", kElements);
  for (auto _ : state) {
    const shmkit::ArrayLock lock = array.lock();
    benchmark::DoNotOptimize(&lock);
  }
}
BENCHMARK(BM_Array_LockGuard);

void BM_Array_AtomicFetchAdd(benchmark::State& state) {
  auto array = shmkit::SharedArray<std::uint64_t>::create(bench_name("atomic"), {8}, {.unlink_on_close = true});
  for (auto _ : state) {
    benchmark::DoNotOptimize(array.atomic(0).fetch_add(1));
  }
}
BENCHMARK(BM_Array_AtomicFetchAdd);

// ---- 1 MiB copies ------------------------------------------------------------

void BM_Array_Memcpy1MiB(benchmark::State& state) {
  std::vector<double> source(kSliceElements, 1.0);
  std::vector<double> target(kSliceElements, 0.0);
  for (auto _ : state) {
    std::memcpy(target.data(), source.data(), kSliceBytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kSliceBytes));
}
BENCHMARK(BM_Array_Memcpy1MiB);

void BM_Array_ReadSlice1MiB(benchmark::State& state) {
  auto array = make_array("read-slice", kSliceElements);
  std::vector<double> out(kSliceElements);
  for (auto _ : state) {
    array.read_slice(0, out);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kSliceBytes));
}
BENCHMARK(BM_Array_ReadSlice1MiB);

void BM_Array_WriteSlice1MiB(benchmark::State& state) {
  auto array = make_array("write-slice", kSliceElements);
  const std::vector<double> in(kSliceElements, 2.0);
  for (auto _ : state) {
    array.write_slice(0, in);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kSliceBytes));
}
BENCHMARK(BM_Array_WriteSlice1MiB);

void BM_Array_LockedWriteSlice1MiB(benchmark::State& state) {
  auto array = make_array("locked-write-slice", kSliceElements);
  const std::vector<double> in(kSliceElements, 2.0);
  for (auto _ : state) {
    array.write_slice(0, in, shmkit::Locking::locked);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kSliceBytes));
}
BENCHMARK(BM_Array_LockedWriteSlice1MiB);

void BM_Array_Snapshot1MiB(benchmark::State& state) {
  auto array = make_array("snapshot", kSliceElements);
  std::vector<double> out(kSliceElements);
  for (auto _ : state) {
    if (!array.try_snapshot(out)) {
      state.SkipWithError("try_snapshot failed without any writer");
      break;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kSliceBytes));
}
BENCHMARK(BM_Array_Snapshot1MiB);

void BM_Array_SnapshotAlloc1MiB(benchmark::State& state) {
  auto array = make_array("snapshot-alloc", kSliceElements);
  for (auto _ : state) {
    auto copy = array.snapshot();
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kSliceBytes));
}
BENCHMARK(BM_Array_SnapshotAlloc1MiB);

// ---- cross-process latency ---------------------------------------------------

// Element 0 is the ping, element 8 (the next cache line) the pong.
constexpr std::size_t kPing = 0;
constexpr std::size_t kPong = 8;
constexpr std::uint64_t kStop = ~std::uint64_t{0};

[[noreturn]] void echo_child(const std::string& name) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
  auto array = shmkit::SharedArray<std::uint64_t>::open(name);
  std::uint64_t last = 0;
  while (true) {
    const std::uint64_t value = array.atomic(kPing).load(std::memory_order_acquire);
    if (value == kStop) {
      ::_exit(0);  // no destructors: the parent owns the name
    }
    if (value != last) {
      array.atomic(kPong).store(value, std::memory_order_release);
      last = value;
    }
  }
}

// One-way latency: a write in this process until another process sees it,
// measured as half a ping-pong round trip through two elements.
void BM_Array_CrossProcessLatency(benchmark::State& state) {
  constexpr int kRoundTrips = 64;  // per iteration, so the clock reads cost little
  const std::string name = bench_name("latency");
  auto array = shmkit::SharedArray<std::uint64_t>::create(name, {16}, {.unlink_on_close = true});
  const pid_t child = ::fork();
  if (child < 0) {
    state.SkipWithError("fork failed");
    return;
  }
  if (child == 0) {
    echo_child(name);
  }
  auto ping = array.atomic(kPing);
  auto pong = array.atomic(kPong);
  std::uint64_t sequence = 0;
  bool stalled = false;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < kRoundTrips && !stalled; ++k) {
      ping.store(++sequence, std::memory_order_release);
      std::uint64_t spins = 0;
      while (pong.load(std::memory_order_acquire) != sequence) {
        if (++spins % (1U << 24) == 0 && ::waitpid(child, nullptr, WNOHANG) != 0) {
          stalled = true;  // the echo process died
          break;
        }
      }
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count() / (2.0 * kRoundTrips));
    if (stalled) {
      state.SkipWithError("the echo process died");
      break;
    }
  }
  ping.store(kStop, std::memory_order_release);
  ::kill(child, SIGKILL);
  while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
}
// Fixed iterations: the reported (one-way) time is 1/128 of the wall time an
// iteration takes, so a min-time target would run 128 times too long.
BENCHMARK(BM_Array_CrossProcessLatency)->UseManualTime()->Iterations(2000);

}  // namespace
BENCHMARK_MAIN();
