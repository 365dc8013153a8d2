// The logger with real producer processes: every entry exactly once and in
// order, SIGKILLed producers and loggers, full rings under both policies,
// payloads larger than the ring, two loggers side by side, start/stop.

#include <sys/mman.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <shmkit/core/error.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>
#include <shmkit/logger/record_file.hpp>

#include "logger_test_util.hpp"

namespace shmkit {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::exited_ok;
using testing::InstanceName;
using testing::make_payload;
using testing::require;
using testing::Signal;
using testing::TempDir;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Sanitizer builds run about 10x slower; the stress test logs a tenth of the
// entries there so it stays well under a minute.
constexpr std::uint64_t kStressEntries = 25'000;
#else
constexpr std::uint64_t kStressEntries = 250'000;
#endif

/// Counters shared with forked children (MAP_SHARED anonymous memory).
struct SharedWords {
  std::atomic<std::uint64_t> acked[8];    // entries whose log() returned true, per producer
  std::atomic<std::uint64_t> dropped[8];  // entries whose log() returned false, per producer
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class SharedCounters {
 public:
  SharedCounters() {
    void* p = ::mmap(nullptr, sizeof(SharedWords), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw std::runtime_error("mmap failed");
    }
    words_ = new (p) SharedWords{};
  }
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;
  ~SharedCounters() { ::munmap(words_, sizeof(SharedWords)); }
  SharedWords* operator->() const noexcept { return words_; }

 private:
  SharedWords* words_ = nullptr;
};

/// Payload of entry `index` of producer `producer`: a slice of a random
/// pool chosen by the index, so reordered or mixed-up bytes are noticed.
class PayloadPool {
 public:
  explicit PayloadPool(std::uint64_t producer) : pool_(make_payload(16384, producer + 1)) {}
  std::span<const std::byte> payload(std::uint64_t index, std::size_t size) const {
    return std::span<const std::byte>(pool_).subspan((index * 61) % 8192, size);
  }

 private:
  std::vector<std::byte> pool_;
};

/// Random size 0..4096 of entry `index` of `producer` (reproducible).
std::size_t random_size(std::uint64_t producer, std::uint64_t index) {
  std::uint64_t x = (producer + 1) * 0x9E3779B97F4A7C15ULL ^ (index + 1) * 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 29;
  return static_cast<std::size_t>(x % 4097);
}

/// Logger options for tests: no fsync (the tests check what the saver
/// writes, not what survives power loss) and the given ring size.
DataLoggerOptions quiet_options(std::size_t ring_bytes = std::size_t{1} << 20) {
  DataLoggerOptions options;
  options.ring_bytes = ring_bytes;
  options.fsync = FsyncPolicy::none;
  return options;
}

/// Every record (source, time, payload) in a log directory's record files,
/// per source in file order (session, run). CRCs are checked by the reader.
std::map<std::uint8_t, std::vector<LogEntry>> read_record_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    if (item.path().extension() == kRecordFileExtension) {
      files.push_back(item.path());
    }
  }
  std::sort(files.begin(), files.end());  // {source:03d}_{session:06d}_{run:06d}: name order is file order
  std::map<std::uint8_t, std::vector<LogEntry>> out;
  for (const auto& file : files) {
    RecordFileReader reader(file);
    LogEntry entry;
    while (reader.next(entry)) {
      out[entry.source_id].push_back(entry);
    }
  }
  return out;
}

/// Every entry of every archive in `dir`, per source.
std::map<std::uint8_t, std::vector<LogEntry>> read_archives(const std::filesystem::path& dir) {
  std::map<std::uint8_t, std::vector<LogEntry>> out;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    if (item.path().extension() == ".npz") {
      LogArchiveReader reader(item.path());
      auto cursor = reader.entries();
      LogEntry entry;
      while (cursor.next(entry)) {
        out[entry.source_id].push_back(entry);
      }
    }
  }
  return out;
}

/// Checks that `entries` are exactly times 0..count-1 in order, with the
/// payloads `producer` logged.
::testing::AssertionResult entries_are_sequence(const std::vector<LogEntry>& entries, std::uint64_t producer,
                                                std::uint64_t count) {
  const PayloadPool pool(producer);
  if (entries.size() != count) {
    return ::testing::AssertionFailure() << "producer " << producer << ": " << entries.size() << " entries, expected "
                                         << count;
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const LogEntry& e = entries[i];
    if (e.acquisition_time != i) {
      return ::testing::AssertionFailure() << "producer " << producer << ": entry " << i << " has time "
                                           << e.acquisition_time << " (order broken, lost or duplicated)";
    }
    const auto expected = pool.payload(i, random_size(producer, i));
    if (!std::equal(e.payload.begin(), e.payload.end(), expected.begin(), expected.end())) {
      return ::testing::AssertionFailure() << "producer " << producer << ": entry " << i << " has wrong payload ("
                                           << e.payload.size() << " bytes, expected " << expected.size() << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

/// A child that connects to `instance` and logs entries 0..count-1 of
/// `producer` under source `producer + 1`, counting acks in `words`.
Child spawn_producer(const std::string& instance, std::uint64_t producer, std::uint64_t count, SharedCounters& words,
                     LogWriterOptions options = {}) {
  return Child([&instance, producer, count, &words, options] {
    auto writer = LogWriter::connect(instance, options);
    const PayloadPool pool(producer);
    for (std::uint64_t i = 0; i < count; ++i) {
      if (writer.log(static_cast<std::uint8_t>(producer + 1), i, pool.payload(i, random_size(producer, i)))) {
        words->acked[producer].store(i + 1, std::memory_order_release);
      } else {
        words->dropped[producer].fetch_add(1, std::memory_order_release);
      }
    }
  });
}

/// Polls `condition` until it holds or `limit` passes.
template <typename F>
bool eventually(F&& condition, std::chrono::milliseconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(1ms);  // polling with a deadline, not a synchronisation by sleeping
  }
  return true;
}

TEST(LoggerProcessTest, FourProducersEveryEntryExactlyOnceInOrder) {
  InstanceName name("stress");
  TempDir dir;
  SharedCounters words;
  DataLogger logger(dir.path(), name.str(), quiet_options());
  std::vector<Child> producers;
  for (std::uint64_t p = 0; p < 4; ++p) {
    producers.push_back(spawn_producer(name.str(), p, kStressEntries, words, {.block_timeout = 30s}));
  }
  logger.start();
  for (auto& child : producers) {
    EXPECT_TRUE(exited_ok(child.wait(120s)));
  }
  const LoggerStats stats = logger.stop();
  EXPECT_EQ(stats.entries_saved, 4 * kStressEntries);
  EXPECT_EQ(stats.dropped, 0U);
  const auto entries = read_record_files(logger.log_directory());
  ASSERT_EQ(entries.size(), 4U);
  for (std::uint64_t p = 0; p < 4; ++p) {
    EXPECT_EQ(words->dropped[p].load(), 0U);
    EXPECT_TRUE(entries_are_sequence(entries.at(static_cast<std::uint8_t>(p + 1)), p, kStressEntries));
  }
}

TEST(LoggerProcessTest, KilledProducerLosesAtMostItsInFlightEntry) {
  InstanceName name("killprod");
  TempDir dir;
  SharedCounters words;
  DataLogger logger(dir.path(), name.str(), quiet_options());
  // Endless producer: whatever it acknowledged before SIGKILL must be saved.
  Child producer = spawn_producer(name.str(), 0, std::uint64_t{1} << 40, words);
  logger.start();
  ASSERT_TRUE(eventually([&] { return words->acked[0].load() >= 20'000; }));
  producer.kill_and_wait();
  const std::uint64_t acked = words->acked[0].load(std::memory_order_acquire);
  // The dead writer's slot is drained and freed by the running logger.
  ASSERT_TRUE(eventually([&] { return logger.stats().writers.empty(); }));
  // A new producer can connect and log after the crash.
  Child next = spawn_producer(name.str(), 1, 1000, words);
  EXPECT_TRUE(exited_ok(next.wait()));
  const LoggerStats stats = logger.stop();
  EXPECT_EQ(stats.discarded_partial, 0U);
  const auto entries = read_record_files(logger.log_directory());
  const auto& first = entries.at(1);
  // Entries are saved in order; at most the one in flight (written to the
  // ring but not acknowledged) may be there beyond the acknowledged ones.
  ASSERT_GE(first.size(), acked);
  ASSERT_LE(first.size(), acked + 1);
  EXPECT_TRUE(entries_are_sequence(first, 0, first.size()));
  EXPECT_TRUE(entries_are_sequence(entries.at(2), 1, 1000));
}

TEST(LoggerProcessTest, KilledProducerInsideAChunkedEntryLeavesNoPartialEntry) {
  InstanceName name("killchunk");
  TempDir dir;
  Signal started;
  DataLogger logger(dir.path(), name.str(), quiet_options(64 * 1024));
  // The producer is killed while its 8 MiB entry is still going through the
  // 64 KiB ring: the logger must not hang and must not save a partial entry.
  Child producer([&] {
    auto writer = LogWriter::connect(name.str());
    const auto big = make_payload(8 << 20, 3);
    require(writer.log(1, 1, std::span<const std::byte>(big).first(100)), "small entry");
    started.notify();
    for (std::uint64_t t = 2;; ++t) {
      (void)writer.log(1, t, big);
    }
  });
  ASSERT_TRUE(started.wait());
  logger.start();
  ASSERT_TRUE(eventually([&] { return logger.stats().entries_saved >= 2; }));
  producer.kill_and_wait();
  ASSERT_TRUE(eventually([&] { return logger.stats().writers.empty(); }));
  const LoggerStats stats = logger.stop();
  const auto entries = read_record_files(logger.log_directory());
  const auto& saved = entries.at(1);
  ASSERT_EQ(saved.size(), stats.entries_saved);
  const auto big = make_payload(8 << 20, 3);
  for (std::size_t i = 1; i < saved.size(); ++i) {
    EXPECT_EQ(saved[i].acquisition_time, i + 1);
    EXPECT_TRUE(saved[i].payload == big) << "entry " << i << " is not the complete payload";
  }
}

TEST(LoggerProcessTest, KilledLoggerRestartedDrainsEveryAcknowledgedEntry) {
  InstanceName name("killlogger");
  TempDir dir;
  SharedCounters words;
  Signal logger_ready;
  constexpr std::uint64_t kEntries = 60'000;
  // The first logger runs in its own process so it can be SIGKILLed.
  Child first_logger([&] {
    DataLogger logger(dir.path(), name.str(), quiet_options(256 * 1024));
    logger.start();
    logger_ready.notify();
    for (;;) {
      std::this_thread::sleep_for(1s);  // idle until killed; not a synchronisation
    }
  });
  ASSERT_TRUE(logger_ready.wait());
  // Block policy with a long timeout: while no logger runs, the producer waits.
  Child producer = spawn_producer(name.str(), 0, kEntries, words, {.block_timeout = 60s});
  ASSERT_TRUE(eventually([&] { return words->acked[0].load() >= kEntries / 3; }));
  first_logger.kill_and_wait();
  const std::uint64_t acked_at_kill = words->acked[0].load(std::memory_order_acquire);
  EXPECT_LT(acked_at_kill, kEntries);

  DataLogger logger(dir.path(), name.str(), quiet_options());
  logger.start();
  EXPECT_TRUE(exited_ok(producer.wait()));
  logger.stop();
  EXPECT_EQ(words->dropped[0].load(), 0U);
  const AssembleReport report = assemble_log_archives(logger.log_directory());
  ASSERT_EQ(report.sources.size(), 1U);
  EXPECT_FALSE(report.sources[0].failed);
  // A crash between write(2) and releasing the ring space saves a batch
  // twice; the copies are kept and reported. Each acknowledged entry must be
  // there, complete and in time order.
  const auto entries = read_archives(logger.log_directory());
  const auto& saved = entries.at(1);
  const PayloadPool pool(0);
  std::uint64_t next = 0;
  std::uint64_t duplicates = 0;
  for (const LogEntry& e : saved) {
    if (e.acquisition_time + 1 == next) {
      ++duplicates;
    } else {
      ASSERT_EQ(e.acquisition_time, next) << "entry " << next << " is missing";
      ++next;
    }
    const auto expected = pool.payload(e.acquisition_time, random_size(0, e.acquisition_time));
    ASSERT_TRUE(std::equal(e.payload.begin(), e.payload.end(), expected.begin(), expected.end()));
  }
  EXPECT_EQ(next, kEntries);
  EXPECT_EQ(duplicates, report.duplicates);
}

TEST(LoggerProcessTest, KilledLoggerRestartedKeepsAcknowledgedChunkedEntries) {
  InstanceName name("killchunked");
  TempDir dir;
  SharedCounters words;
  Signal logger_ready;
  constexpr std::uint64_t kEntries = 40;
  constexpr std::size_t kSize = std::size_t{1} << 20;  // 64 chunks through a 64 KiB ring
  Child first_logger([&] {
    DataLogger logger(dir.path(), name.str(), quiet_options(64 * 1024));
    logger.start();
    logger_ready.notify();
    for (;;) {
      std::this_thread::sleep_for(1s);  // idle until killed; not a synchronisation
    }
  });
  ASSERT_TRUE(logger_ready.wait());
  Child producer([&] {
    LogWriterOptions options;
    options.block_timeout = 60s;
    auto writer = LogWriter::connect(name.str(), options);
    for (std::uint64_t i = 0; i < kEntries; ++i) {
      require(writer.log(1, i, make_payload(kSize, i)), "log of entry " + std::to_string(i));
      words->acked[0].store(i + 1, std::memory_order_release);
    }
  });
  // Killed while an entry is (almost certainly) half reassembled: its first
  // chunks have left the ring, the rest are still coming.
  ASSERT_TRUE(eventually([&] { return words->acked[0].load() >= 5; }));
  first_logger.kill_and_wait();
  DataLogger logger(dir.path(), name.str(), quiet_options());
  logger.start();
  EXPECT_TRUE(exited_ok(producer.wait()));
  ASSERT_TRUE(eventually([&] { return logger.stats().writers.empty(); }));
  logger.stop();
  const AssembleReport report = assemble_log_archives(logger.log_directory());
  ASSERT_EQ(report.sources.size(), 1U);
  const auto entries = read_archives(logger.log_directory());
  std::uint64_t next = 0;
  for (const LogEntry& e : entries.at(1)) {
    if (e.acquisition_time + 1 != next) {  // not a duplicate of the previous entry
      ASSERT_EQ(e.acquisition_time, next) << "entry " << next << " is missing";
      ++next;
    }
    ASSERT_TRUE(e.payload == make_payload(kSize, e.acquisition_time)) << "entry " << e.acquisition_time;
  }
  EXPECT_EQ(next, kEntries);
  for (const auto& item : std::filesystem::directory_iterator(logger.log_directory())) {
    EXPECT_NE(item.path().filename().string().rfind(".spill", 0), 0U) << "spill file left behind: " << item.path();
  }
}

TEST(LoggerProcessTest, StopAndStartDuringChunkedEntriesLoseNothing) {
  InstanceName name("stopchunked");
  TempDir dir;
  constexpr std::uint64_t kEntries = 20;
  constexpr std::size_t kSize = std::size_t{1} << 20;
  DataLogger logger(dir.path(), name.str(), quiet_options(64 * 1024));
  logger.start();
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> failed{0};
  std::thread producer([&] {
    LogWriterOptions options;
    options.block_timeout = 30s;
    auto writer = LogWriter::connect(name.str(), options);
    for (std::uint64_t i = 0; i < kEntries; ++i) {
      failed += writer.log(1, i, make_payload(kSize, i)) ? 0 : 1;
    }
    done = true;
  });
  // Each stop() ends a saver between two chunks of some entry; the next
  // start() must resume that entry from its spill file.
  std::uint64_t cycles = 0;
  while (!done.load()) {
    logger.stop();
    logger.start();
    ++cycles;
  }
  producer.join();
  const LoggerStats stats = logger.stop();
  EXPECT_EQ(failed.load(), 0U);
  EXPECT_GT(cycles, 0U);
  EXPECT_EQ(stats.discarded_partial, 0U);
  const auto entries = read_record_files(logger.log_directory());
  const auto& saved = entries.at(1);
  ASSERT_EQ(saved.size(), kEntries);
  for (std::uint64_t i = 0; i < kEntries; ++i) {
    EXPECT_EQ(saved[i].acquisition_time, i);
    EXPECT_TRUE(saved[i].payload == make_payload(kSize, i)) << "entry " << i;
  }
}

struct FloodResult {
  std::uint64_t saved = 0;
  std::uint64_t child_dropped = 0;
  std::uint64_t logger_dropped = 0;
};

// One producer floods a 64 KiB ring with 4 KiB entries while the logger runs.
FloodResult flood(FullPolicy policy, std::uint64_t count) {
  InstanceName name(policy == FullPolicy::drop ? "flooddrop" : "floodblock");
  TempDir dir;
  SharedCounters words;
  DataLogger logger(dir.path(), name.str(), quiet_options(64 * 1024));
  Child producer = spawn_producer(name.str(), 0, count, words, {.policy = policy, .block_timeout = 30s});
  logger.start();
  EXPECT_TRUE(exited_ok(producer.wait()));
  EXPECT_TRUE(eventually([&] { return logger.stats().writers.empty(); }));
  const LoggerStats stats = logger.stop();
  const auto entries = read_record_files(logger.log_directory());
  FloodResult result;
  result.saved = entries.empty() ? 0 : entries.at(1).size();
  result.child_dropped = words->dropped[0].load();
  result.logger_dropped = stats.dropped;
  // What was saved is in order and intact, whatever was dropped.
  std::uint64_t last = 0;
  const PayloadPool pool(0);
  for (const LogEntry& e : entries.empty() ? std::vector<LogEntry>{} : entries.at(1)) {
    EXPECT_TRUE(e.acquisition_time == 0 || e.acquisition_time > last);
    last = e.acquisition_time;
    const auto expected = pool.payload(e.acquisition_time, random_size(0, e.acquisition_time));
    EXPECT_TRUE(std::equal(e.payload.begin(), e.payload.end(), expected.begin(), expected.end()));
  }
  EXPECT_EQ(stats.entries_saved, result.saved);
  return result;
}

TEST(LoggerProcessTest, FullRingWithDropPolicyCountsEveryMissingEntry) {
  constexpr std::uint64_t kCount = 200'000;
  const FloodResult r = flood(FullPolicy::drop, kCount);
  EXPECT_GT(r.child_dropped, 0U) << "the flood never filled the ring; the test proves nothing";
  EXPECT_EQ(r.saved + r.child_dropped, kCount);
  EXPECT_EQ(r.logger_dropped, r.child_dropped);
}

TEST(LoggerProcessTest, FullRingWithBlockPolicyLosesNothing) {
  constexpr std::uint64_t kCount = 100'000;
  const FloodResult r = flood(FullPolicy::block, kCount);
  EXPECT_EQ(r.child_dropped, 0U);
  EXPECT_EQ(r.logger_dropped, 0U);
  EXPECT_EQ(r.saved, kCount);
}

// The saver sleeps up to idle_sleep (here an hour) when every ring is
// empty; a writer whose ring fills must wake it, or it would wait out its
// block timeout and drop. stop() must wake it too.
TEST(LoggerProcessTest, AWriterWakesAnIdleSaverAndStopDoesNotWaitOutIdleSleep) {
  constexpr std::uint64_t kCount = 5'000;  // about 10 MiB through a 64 KiB ring
  InstanceName name("wake");
  TempDir dir;
  SharedCounters words;
  DataLoggerOptions options = quiet_options(64 * 1024);
  options.idle_sleep = std::chrono::hours(1);
  DataLogger logger(dir.path(), name.str(), options);
  logger.start();
  Child producer([&] {
    auto writer = LogWriter::connect(name.str(), {.policy = FullPolicy::block, .block_timeout = 10s});
    const PayloadPool pool(0);
    for (std::uint64_t i = 0; i < kCount; ++i) {
      if (!writer.log(1, i, pool.payload(i, random_size(0, i)))) {
        words->dropped[0].fetch_add(1);
        return;  // one timeout proves the saver slept through the flood
      }
      words->acked[0].store(i + 1);
    }
  });
  ASSERT_TRUE(exited_ok(producer.wait()));
  EXPECT_EQ(words->dropped[0].load(), 0U) << "the saver was not woken while the writer waited for space";
  EXPECT_EQ(words->acked[0].load(), kCount);
  const LoggerStats stats = logger.stop();
  EXPECT_EQ(stats.dropped, 0U);
  const auto entries = read_record_files(logger.log_directory());
  ASSERT_EQ(entries.count(1), 1U);
  EXPECT_TRUE(entries_are_sequence(entries.at(1), 0, kCount));
}

TEST(LoggerProcessTest, PayloadsLargerThanTheRingArriveWhole) {
  InstanceName name("large");
  TempDir dir;
  DataLogger logger(dir.path(), name.str(), quiet_options(64 * 1024));
  const std::vector<std::size_t> sizes = {3 << 20, 0, 16384, 5 << 20, (1 << 20) + 7, 12, 7 << 20};
  Child producer([&] {
    auto writer = LogWriter::connect(name.str());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      require(writer.log(9, i + 1, make_payload(sizes[i], i)), "log of entry " + std::to_string(i));
    }
  });
  logger.start();
  EXPECT_TRUE(exited_ok(producer.wait()));
  ASSERT_TRUE(eventually([&] { return logger.stats().writers.empty(); }));
  const LoggerStats stats = logger.stop();
  EXPECT_EQ(stats.discarded_partial, 0U);
  const auto entries = read_record_files(logger.log_directory());
  const auto& saved = entries.at(9);
  ASSERT_EQ(saved.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(saved[i].acquisition_time, i + 1);
    EXPECT_TRUE(saved[i].payload == make_payload(sizes[i], i)) << "entry " << i;
  }
}

TEST(LoggerProcessTest, TwoLoggersSideBySideKeepTheirEntriesApart) {
  InstanceName a("side-a");
  InstanceName b("side-b");
  TempDir dir;
  SharedCounters words;
  DataLogger logger_a(dir.path(), a.str(), quiet_options());
  DataLogger logger_b(dir.path(), b.str(), quiet_options());
  Child pa = spawn_producer(a.str(), 0, 20'000, words);
  Child pb = spawn_producer(b.str(), 1, 30'000, words);
  logger_a.start();
  logger_b.start();
  EXPECT_TRUE(exited_ok(pa.wait()));
  EXPECT_TRUE(exited_ok(pb.wait()));
  logger_a.stop();
  logger_b.stop();
  EXPECT_NE(logger_a.log_directory(), logger_b.log_directory());
  const auto ea = read_record_files(logger_a.log_directory());
  const auto eb = read_record_files(logger_b.log_directory());
  ASSERT_EQ(ea.size(), 1U);
  ASSERT_EQ(eb.size(), 1U);
  EXPECT_TRUE(entries_are_sequence(ea.at(1), 0, 20'000));
  EXPECT_TRUE(entries_are_sequence(eb.at(2), 1, 30'000));
}

TEST(LoggerProcessTest, NegativeIntervalsAreRefusedByName) {
  InstanceName name("negative");
  TempDir dir;
  DataLoggerOptions options = quiet_options();
  options.idle_sleep = std::chrono::microseconds(-1);
  EXPECT_TRUE(testing::throws_with<Error>([&] { DataLogger logger(dir.path(), name.str(), options); },
                                          {name.str(), "idle_sleep is -1 us", "0 or more"}));
  options = quiet_options();
  options.reap_interval = std::chrono::milliseconds(-5);
  EXPECT_TRUE(testing::throws_with<Error>([&] { DataLogger logger(dir.path(), name.str(), options); },
                                          {"reap_interval is -5 ms"}));
  EXPECT_FALSE(std::filesystem::exists(dir / (name.str() + "_data_log")))
      << "a refused logger must not create its directory";
}

TEST(LoggerProcessTest, StartAndStopAreIdempotentAndRestartable) {
  InstanceName name("restart");
  TempDir dir;
  SharedCounters words;
  DataLogger logger(dir.path(), name.str(), quiet_options());
  EXPECT_FALSE(logger.running());
  (void)logger.stop();  // stop before any start is a no-op
  logger.start();
  logger.start();
  EXPECT_TRUE(logger.running());
  auto writer = LogWriter::connect(name.str());
  const PayloadPool pool(0);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(writer.log(1, i, pool.payload(i, random_size(0, i))));
  }
  const LoggerStats first = logger.stop();
  EXPECT_EQ(first.entries_saved, 1000U);
  EXPECT_FALSE(logger.running());
  EXPECT_EQ(logger.stop().entries_saved, 1000U);
  // Entries logged while stopped wait in the ring for the next start.
  // (200 entries of at most 4 KiB fit the 1 MiB ring.)
  for (std::uint64_t i = 1000; i < 1200; ++i) {
    ASSERT_TRUE(writer.log(1, i, pool.payload(i, random_size(0, i))));
  }
  logger.start();
  EXPECT_TRUE(logger.running());
  const LoggerStats second = logger.stop();
  EXPECT_EQ(second.entries_saved, 1200U);
  const auto entries = read_record_files(logger.log_directory());
  EXPECT_TRUE(entries_are_sequence(entries.at(1), 0, 1200));
  // Each start is a new session of record files.
  std::size_t files = 0;
  for (const auto& item : std::filesystem::directory_iterator(logger.log_directory())) {
    files += item.path().extension() == kRecordFileExtension ? 1 : 0;
  }
  EXPECT_EQ(files, 2U);
}

}  // namespace
}  // namespace shmkit
