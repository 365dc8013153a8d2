#include <shmkit/array/shared_array.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <string>

namespace {

std::string bench_name(const char* tag) {
  return "shmkit-bench-" + std::to_string(::getpid()) + "-" + tag;
}

void BM_Array_UnlockedWrite(benchmark::State& state) {
  auto array = shmkit::SharedArray<double>::create(bench_name("unlocked"), {1024}, {.unlink_on_close = true});
  std::size_t i = 0;
  for (auto _ : state) {
    array[i & 1023] = static_cast<double>(i);
    benchmark::ClobberMemory();
    ++i;
  }
}
BENCHMARK(BM_Array_UnlockedWrite);

}  // namespace
BENCHMARK_MAIN();
