// `shmkit log forward` and `shmkit log collect` as real processes over a
// real redis-server (AOF on): the forwarder, the collector and Redis are
// each SIGKILLed while entries flow and started again, and the assembled
// archives hold every entry exactly once, as a local logger's would
// (LogArchiveReader and numpy). With Redis gone, a drop-policy writer
// drops, and the forwarder resumes when Redis is back.

#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>

#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../logger/logger_test_util.hpp"
#include "bridge/log_keys.hpp"
#include "bridge_test_util.hpp"

namespace shmkit::testing {
namespace {

constexpr std::uint64_t kPerSource = 12000;
constexpr int kPhases = 4;

// Entry i (from 1) of a source: mostly 40..240 bytes, every 1500th a
// 100 KiB entry (chunked in a 64 KiB ring).
std::size_t payload_size(std::uint64_t i) {
  return i % 1500 == 0 ? std::size_t{100} << 10 : 40 + (i * 37) % 200;
}
std::vector<std::byte> payload_of(std::uint8_t source, std::uint64_t i) {
  return make_payload(payload_size(i), source * 1000003ULL + i);
}

// Logs entries (from, to] of sources 1 and 2, time = index.
void log_range(LogWriter& writer, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t i = from + 1; i <= to; ++i) {
    for (std::uint8_t source = 1; source <= 2; ++source) {
      require(writer.log(source, i, payload_of(source, i)), "entry " + std::to_string(i) + " was not logged");
    }
  }
}

// The collector's mark for `source` in its state file (0 if none yet).
std::uint64_t collected_mark(const std::filesystem::path& dir, int source) {
  std::ifstream in(dir / ".collect-state");
  std::string kind;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int s = 0;
    std::uint64_t mark = 0;
    if (fields >> kind >> s >> mark && kind == "mark" && s == source) {
      return mark;
    }
  }
  return 0;
}

// Every entry of an archive, in order.
std::vector<LogEntry> read_archive(const std::filesystem::path& path) {
  std::vector<LogEntry> entries;
  LogArchiveReader reader(path);
  auto cursor = reader.entries();
  LogEntry entry;
  while (cursor.next(entry)) {
    entries.push_back(entry);
  }
  return entries;
}

std::vector<std::string> forward_args(const std::string& instance, const TestRedis& redis, const std::string& prefix,
                                      const TempDir& dir) {
  return {"log",          "forward", "--instance", instance, "--redis",     redis.url(),
          "--host-id",    "host-a",  "--prefix",   prefix,   "--state-dir", (dir / "state").string(),
          "--ring-bytes", "65536"};
}
std::vector<std::string> collect_args(const TestRedis& redis, const std::string& prefix, const TempDir& dir) {
  return {"log", "collect", "--redis", redis.url(), "--prefix", prefix, "--out", (dir / "out").string()};
}

TEST(LogForwardTest, KillForwarderCollectorAndRedisEveryEntryOnce) {
  TestRedis redis;
  TempDir dir;
  InstanceName instance("fwd");
  const std::string prefix = "lf" + std::to_string(::getpid());
  // An origin that cannot be collected (its stream key holds a string)
  // is reported and passed over; the others are collected all the same.
  ASSERT_EQ(redis.command({"SADD", detail::log_origins_key(prefix), "host-z:broken"}), "1");
  ASSERT_EQ(redis.command({"SET", detail::log_stream_key(prefix, "host-z:broken"), "not a stream"}), "OK");
  ShmkitProcess forwarder(forward_args(instance.str(), redis, prefix, dir), dir / "forward.log", "stop with Ctrl-C");
  ShmkitProcess collector(collect_args(redis, prefix, dir), dir / "collect.log", "stop with Ctrl-C");
  const std::filesystem::path collected = dir / "out" / ("host-a-" + instance.str() + "_data_log");

  Signal phase_done;
  Signal go_on;
  Child producer([&] {
    std::optional<LogWriter> writer;
    require(eventually([&] {
              try {
                writer.emplace(LogWriter::connect(instance.str(), {.block_timeout = std::chrono::seconds(60)}));
                return true;
              } catch (const shmkit::Error&) {  // not created (or not published) yet
                return false;
              }
            }),
            "the forwarder's segment appears");
    for (int phase = 0; phase < kPhases; ++phase) {
      log_range(*writer, kPerSource * phase / kPhases, kPerSource * (phase + 1) / kPhases);
      phase_done.notify();
      require(go_on.wait(std::chrono::seconds(60)), "go on");
    }
  });

  // The forwarder, the collector, then Redis die and come back: at phase
  // boundaries, and while a phase's entries flow (the 64 KiB ring holds a
  // few hundred, so the producer is still writing once the forwarder has
  // sent some of the phase).
  const std::string state_key = detail::log_forward_state_key(prefix, detail::log_origin("host-a", instance.str()));
  const auto forwarded = [&] {
    std::uint64_t n = 0;
    const std::string text = redis.command({"HGET", state_key, "n1"});
    std::from_chars(text.data(), text.data() + text.size(), n);
    return n;
  };
  ASSERT_TRUE(phase_done.wait()) << forwarder.log();
  forwarder.kill9();
  forwarder.start();
  go_on.notify();
  ASSERT_TRUE(eventually([&] { return forwarded() > kPerSource / kPhases + 100; })) << forwarder.log();
  forwarder.kill9();  // mid-phase
  forwarder.start();
  ASSERT_TRUE(phase_done.wait()) << forwarder.log();
  go_on.notify();
  ASSERT_TRUE(eventually([&] { return collected_mark(collected, 1) > kPerSource * 2 / kPhases; })) << collector.log();
  collector.kill9();  // mid-phase
  collector.start();
  ASSERT_TRUE(phase_done.wait()) << forwarder.log();
  go_on.notify();
  ASSERT_TRUE(eventually([&] { return forwarded() > kPerSource * 3 / kPhases + 100; })) << forwarder.log();
  redis.kill9();  // mid-phase
  redis.start();
  ASSERT_TRUE(phase_done.wait()) << forwarder.log();
  forwarder.kill9();  // and once more with the last entries in the ring
  forwarder.start();
  go_on.notify();
  ASSERT_TRUE(exited_ok(producer.wait()));

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while ((collected_mark(collected, 1) < kPerSource || collected_mark(collected, 2) < kPerSource) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a file, bounded
  }
  ASSERT_EQ(collected_mark(collected, 1), kPerSource) << forwarder.log() << collector.log();
  ASSERT_EQ(collected_mark(collected, 2), kPerSource);
  EXPECT_EQ(forwarder.terminate(), 0) << forwarder.log();
  EXPECT_EQ(collector.terminate(), 0) << collector.log();
  EXPECT_TRUE(contains(forwarder.log(), "forwarding paused")) << forwarder.log();
  EXPECT_TRUE(contains(collector.log(), "sequence gaps: 0")) << collector.log();
  EXPECT_TRUE(contains(collector.log(), "cannot collect")) << collector.log();

  const auto assembled = shmkit_command("log assemble " + collected.string());
  ASSERT_EQ(assembled.exit_code, 0) << assembled.output;

  // A local logger given the same entries: the archives must agree entry for entry.
  InstanceName local_instance("local");
  {
    DataLogger local(dir / "local", local_instance.str());
    local.start();
    LogWriter writer = LogWriter::connect(local_instance.str(), {.block_timeout = std::chrono::seconds(60)});
    log_range(writer, 0, kPerSource);
    local.stop();
    assemble_log_archives(local.log_directory());
  }
  for (int source = 1; source <= 2; ++source) {
    const std::string name = std::to_string(source) + "_log.npz";
    const std::vector<LogEntry> got = read_archive(collected / name);
    const std::vector<LogEntry> want = read_archive(dir / "local" / (local_instance.str() + "_data_log") / name);
    ASSERT_EQ(got.size(), kPerSource);
    ASSERT_EQ(want.size(), kPerSource);
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].acquisition_time, i + 1);
      ASSERT_EQ(got[i].source_id, want[i].source_id);
      ASSERT_EQ(got[i].acquisition_time, want[i].acquisition_time);
      ASSERT_TRUE(got[i].payload == want[i].payload) << "entry " << i + 1 << " of source " << source;
    }
  }

  // numpy: every member once, named by its time, its bytes the entry's.
  const auto python = run_python(dir, R"(
import sys
import numpy as np
for source in (1, 2):
    with np.load(f"{sys.argv[1]}/{source}_log.npz") as f:
        names = f.files
        times = [int(n.split('_')[1].split('.')[0]) for n in names]
        assert times == list(range(1, len(names) + 1)), "times"
        last = f[names[-1]]
        assert last[0] == source and int.from_bytes(last[1:9].tobytes(), 'little') == len(names)
        print(source, len(names), len(set(names)))
)",
                                 collected.string());
  ASSERT_EQ(python.exit_code, 0) << python.output;
  EXPECT_EQ(python.output, "1 12000 12000\n2 12000 12000\n");
}

TEST(LogForwardTest, RedisAwayWritersDropAndForwardingResumes) {
  TestRedis redis;
  TempDir dir;
  InstanceName instance("drop");
  const std::string prefix = "ld" + std::to_string(::getpid());
  ShmkitProcess forwarder(forward_args(instance.str(), redis, prefix, dir), dir / "forward.log", "stop with Ctrl-C");
  ASSERT_TRUE(eventually([&] { return contains(forwarder.log(), "connected to Redis"); })) << forwarder.log();
  redis.kill9();

  std::uint64_t logged = 0;
  std::uint64_t dropped = 0;
  {
    LogWriter writer = LogWriter::connect(instance.str(), {.policy = FullPolicy::drop});
    for (std::uint64_t i = 1; i <= 5000; ++i) {
      (writer.log(1, i, payload_of(1, i % 1500 == 0 ? 1 : i)) ? logged : dropped) += 1;
    }
  }
  EXPECT_GT(dropped, 0U);
  EXPECT_GT(logged, 0U);
  ASSERT_TRUE(eventually([&] { return contains(forwarder.log(), "forwarding paused"); })) << forwarder.log();

  redis.start();
  ShmkitProcess collector(collect_args(redis, prefix, dir), dir / "collect.log", "stop with Ctrl-C");
  const std::filesystem::path collected = dir / "out" / ("host-a-" + instance.str() + "_data_log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (collected_mark(collected, 1) < logged && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a file, bounded
  }
  EXPECT_EQ(collected_mark(collected, 1), logged) << forwarder.log() << collector.log();
  EXPECT_TRUE(contains(forwarder.log(), "forwarding resumed")) << forwarder.log();
  EXPECT_EQ(forwarder.terminate(), 0);
  EXPECT_EQ(collector.terminate(), 0);
  EXPECT_TRUE(contains(forwarder.log(), "dropped by writers: " + std::to_string(dropped))) << forwarder.log();
}

}  // namespace
}  // namespace shmkit::testing
