// Logger benchmarks: the producer's log() call for 64-byte entries (what
// a rig pays per event), end-to-end throughput into record files on
// /dev/shm and /tmp (64-byte entries and 1 MiB frames), and assembly of
// record files into stored and deflated .npz archives.
// Cross-process figures with percentiles come from `shmkit log bench`;
// bench/compare/logger_compare.py runs both next to numpy.

#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string instance_name(const char* tag) {
  return "shmkit-bench-" + std::to_string(::getpid()) + "-" + tag;
}

/// A scratch output directory removed at scope exit.
class ScratchDir {
 public:
  ScratchDir(const fs::path& parent, const char* tag)
      : path_(parent / ("shmkit-bench-" + std::to_string(::getpid()) + "-" + tag)) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

shmkit::DataLoggerOptions bench_options(std::size_t ring_bytes) {
  shmkit::DataLoggerOptions options;
  options.ring_bytes = ring_bytes;
  options.fsync = shmkit::FsyncPolicy::none;  // tmpfs ignores it; on /tmp it would measure the disk
  return options;
}

std::vector<std::byte> pattern(std::size_t size) {
  std::vector<std::byte> payload(size);
  for (std::size_t i = 0; i < size; ++i) {
    payload[i] = std::byte(static_cast<unsigned char>(i * 31));
  }
  return payload;
}

// Both counts are totals since the logger (and writer) were created.
void wait_until_saved(const shmkit::DataLogger& logger, std::uint64_t count) {
  while (logger.stats().entries_saved < count) {
    std::this_thread::yield();
  }
}

// restart() starts a new session and deletes the record files of the old
// one, so long runs do not fill the disk.
void restart(shmkit::DataLogger& logger) {
  logger.stop();
  for (const auto& item : fs::directory_iterator(logger.log_directory())) {
    if (item.path().extension() == ".shmlog") {
      fs::remove(item.path());
    }
  }
  logger.start();
}

// log() of a 64-byte entry into a ring with room: the producer's cost per
// entry. Every 100,000 entries (8.8 MB of a 16 MiB ring) the clock stops
// while the saver catches up, so back-pressure is not what is measured
// (BM_Logger_Throughput measures that).
void BM_Logger_Log64(benchmark::State& state) {
  constexpr std::uint64_t kBatch = 100'000;
  ScratchDir dir("/dev/shm", "log64");
  const std::string name = instance_name("log64");
  shmkit::DataLogger logger(dir.path(), name, bench_options(std::size_t{16} << 20));
  logger.start();
  auto writer = shmkit::LogWriter::connect(name);
  const auto payload = pattern(64);
  std::uint64_t time = 1;
  std::uint64_t in_batch = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(writer.log(1, time++, payload));
    if (++in_batch == kBatch) {
      state.PauseTiming();
      wait_until_saved(logger, writer.stats().logged);
      restart(logger);
      in_batch = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["dropped"] = static_cast<double>(writer.stats().dropped);
}
BENCHMARK(BM_Logger_Log64);

// Entries per second from log() until the saver has written them to a record
// file. Args: payload bytes, batch size, output directory (0: /dev/shm, 1: /tmp).
void BM_Logger_Throughput(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::uint64_t>(state.range(1));
  ScratchDir dir(state.range(2) == 0 ? "/dev/shm" : "/tmp", "throughput");
  const std::string name = instance_name("throughput");
  shmkit::DataLogger logger(dir.path(), name, bench_options(std::size_t{16} << 20));
  logger.start();
  auto writer = shmkit::LogWriter::connect(name);
  const auto payload = pattern(size);
  std::uint64_t time = 1;
  std::uint64_t logged = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < batch; ++i) {
      logged += writer.log(1, time++, payload) ? 1 : 0;
    }
    wait_until_saved(logger, logged);
    state.PauseTiming();
    restart(logger);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch * size));
}
BENCHMARK(BM_Logger_Throughput)
    ->ArgNames({"bytes", "batch", "tmp"})
    ->Args({64, 200000, 0})
    ->Args({64, 200000, 1})
    ->Args({1 << 20, 256, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Assembly of record files holding 100,000 entries of 256 bytes into one
// archive. Arg: deflate level (0: stored).
void BM_Logger_Assemble(benchmark::State& state) {
  constexpr std::uint64_t kEntries = 100'000;
  ScratchDir dir("/dev/shm", "assemble");
  const std::string name = instance_name("assemble");
  fs::path log_dir;
  {
    shmkit::DataLogger logger(dir.path(), name, bench_options(std::size_t{16} << 20));
    logger.start();
    auto writer = shmkit::LogWriter::connect(name);
    const auto payload = pattern(256);
    for (std::uint64_t t = 0; t < kEntries; ++t) {
      (void)writer.log(1, t, payload);
    }
    logger.stop();
    log_dir = logger.log_directory();
  }
  shmkit::AssembleOptions options;
  options.compression_level = static_cast<int>(state.range(0));
  options.verify = false;
  options.remove_sources = false;  // inputs are renamed *.assembled; restored below for the next round
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    const auto report = shmkit::assemble_log_archives(log_dir, options);
    state.PauseTiming();
    if (report.entries != kEntries) {
      state.SkipWithError("assembly lost entries");
      break;
    }
    bytes = fs::file_size(log_dir / "1_log.npz");
    fs::remove(log_dir / "1_log.npz");
    for (const auto& item : fs::directory_iterator(log_dir)) {
      const std::string file = item.path().string();
      if (file.ends_with(".assembled")) {
        fs::rename(file, file.substr(0, file.size() - 10));
      }
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kEntries));
  state.counters["archive_MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_Logger_Assemble)->ArgName("level")->Arg(0)->Arg(6)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
