// The two halves of "every entry once", each alone and deterministic: the
// forwarder's sink skips entries Redis already holds when a successor hands
// them over again (also entries handed over before it first connected, as
// a saver resuming a spill file does), and keeps the sequence numbers
// dense; the collector's directory cuts back what it wrote after its last
// commit and drops sequence numbers it already has.

#include <gtest/gtest.h>
#include <shmkit/logger/record_file.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bridge/collected_log.hpp"
#include "bridge/log_forward_sink.hpp"
#include "bridge/log_keys.hpp"
#include "bridge_test_util.hpp"

namespace shmkit::testing {
namespace {

std::vector<std::byte> bytes(std::string_view text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return {p, p + text.size()};
}

void hand_over(detail::RedisLogSink& sink, std::uint64_t position, std::uint8_t source, std::string_view payload) {
  const std::vector<std::byte> b = bytes(payload);
  LogSinkEntry entry;
  entry.ring = RingPosition{42, 0, 7, position};
  entry.source_id = source;
  entry.acquisition_time = position;
  entry.first = b;
  sink.write(entry);
}

TEST(LogExactlyOnceTest, ASuccessorSkipsWhatRedisHoldsAndNumbersOnDensely) {
  TestRedis redis;
  LogForwarderOptions options;
  options.redis_url = redis.url();
  options.prefix = "eo" + std::to_string(::getpid());
  options.log = [](const std::string&) {};
  const std::string origin = detail::log_origin("h", "i");
  const std::string stream = detail::log_stream_key(options.prefix, origin);
  {
    detail::LogForwardCounters counters;
    detail::RedisLogSink first(options, detail::parse_redis_url(options.redis_url), origin, counters);
    ASSERT_TRUE(first.ready());
    hand_over(first, 100, 1, "a");
    hand_over(first, 200, 2, "b");
    hand_over(first, 300, 1, "c");
    first.commit();
    EXPECT_EQ(counters.forwarded.load(), 3U);
  }
  // The successor is handed the same entries again (their ring space was
  // never released), the first of them before it has connected.
  detail::LogForwardCounters counters;
  detail::RedisLogSink second(options, detail::parse_redis_url(options.redis_url), origin, counters);
  hand_over(second, 100, 1, "a");
  ASSERT_TRUE(second.ready());
  hand_over(second, 200, 2, "b");
  hand_over(second, 300, 1, "c");
  hand_over(second, 400, 1, "d");
  second.commit();
  EXPECT_EQ(counters.forwarded.load(), 1U);
  EXPECT_EQ(counters.resent_skipped.load(), 3U);
  EXPECT_EQ(redis.command({"XLEN", stream}), "2");  // the first three entries share a message
  const std::string last = redis.command({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
  std::string want(detail::kLogEntryHeaderBytes, '\0');
  detail::encode_log_entry_header(want.data(), 1, 1, 3, 400);  // source 1's third entry
  EXPECT_TRUE(contains(last, "e\n" + want + "d")) << last;
  EXPECT_EQ(redis.command({"HGET", detail::log_forward_state_key(options.prefix, origin), "n1"}), "3");
}

// Redis reports a stream key of the wrong type only when EXEC runs, and
// then runs the rest of the transaction: the state hash must not claim the
// entries, so once the key is fixed they are sent, numbered from where the
// stream really is.
TEST(LogExactlyOnceTest, ACommandRefusedInsideExecCountsNothingAsForwarded) {
  TestRedis redis;
  LogForwarderOptions options;
  options.redis_url = redis.url();
  options.prefix = "wt" + std::to_string(::getpid());
  options.log = [](const std::string&) {};
  const std::string origin = detail::log_origin("h", "i");
  const std::string stream = detail::log_stream_key(options.prefix, origin);
  const std::string state = detail::log_forward_state_key(options.prefix, origin);
  detail::LogForwardCounters counters;
  detail::RedisLogSink sink(options, detail::parse_redis_url(options.redis_url), origin, counters);
  ASSERT_TRUE(sink.ready());
  hand_over(sink, 100, 1, "a");
  sink.commit();
  ASSERT_EQ(redis.command({"HGET", state, "n1"}), "1");
  ASSERT_EQ(redis.command({"DEL", stream}), "1");
  ASSERT_EQ(redis.command({"SET", stream, "not a stream"}), "OK");

  hand_over(sink, 200, 1, "b");
  EXPECT_THROW(sink.commit(), LogSinkUnavailable);
  EXPECT_EQ(counters.forwarded.load(), 1U);
  EXPECT_EQ(redis.command({"HGET", state, "n1"}), "1");
  EXPECT_EQ(redis.command({"HGET", state, "r0"}), "42:7:100");

  ASSERT_EQ(redis.command({"DEL", stream}), "1");
  ASSERT_TRUE(eventually([&] { return sink.ready(); }));
  hand_over(sink, 200, 1, "b");  // the saver hands the entry over again: its ring space was kept
  sink.commit();
  EXPECT_EQ(counters.forwarded.load(), 2U);
  EXPECT_EQ(redis.command({"HGET", state, "n1"}), "2");
  EXPECT_EQ(redis.command({"XLEN", stream}), "1");
}

// Acquisition times in the record files of `dir`, per source, sorted (the
// files of several sessions are listed in any order).
std::map<int, std::vector<std::uint64_t>> times_in(const std::filesystem::path& dir) {
  std::map<int, std::vector<std::uint64_t>> times;
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    if (item.path().extension() != ".shmlog") {
      continue;
    }
    RecordFileReader reader(item.path());
    LogEntry entry;
    while (reader.next(entry)) {
      times[entry.source_id].push_back(entry.acquisition_time);
    }
  }
  for (auto& [source, list] : times) {
    std::sort(list.begin(), list.end());
  }
  return times;
}

TEST(LogExactlyOnceTest, CollectedLogCutsBackToItsLastCommitDropsDuplicatesAndFollowsANewEpoch) {
  TempDir dir;
  const auto log_dir = dir / "h-i_data_log";
  {
    detail::CollectedLog log(log_dir);
    for (std::uint64_t q = 1; q <= 3; ++q) {
      EXPECT_EQ(log.append(1, q, q, bytes("xyz")), detail::CollectedLog::Outcome::written);
    }
    log.commit();
    // Larger than the file buffer: written through to the file at once.
    const std::vector<std::byte> large(std::size_t{2} << 20, std::byte{1});
    EXPECT_EQ(log.append(1, 4, 4, large), detail::CollectedLog::Outcome::written);
    EXPECT_EQ(log.append(2, 1, 1, bytes("new file")), detail::CollectedLog::Outcome::written);
    // No commit: as if killed here. Buffered bytes are lost, the large entry is in the file.
  }
  detail::CollectedLog log(log_dir);
  EXPECT_EQ(log.append(1, 3, 3, bytes("xyz")), detail::CollectedLog::Outcome::duplicate);
  EXPECT_EQ(log.append(1, 4, 4, bytes("late")), detail::CollectedLog::Outcome::written);
  EXPECT_EQ(log.append(2, 2, 2, bytes("skipped 1")), detail::CollectedLog::Outcome::gap);
  log.commit();
  EXPECT_FALSE(log.adopt_epoch("first"));
  EXPECT_TRUE(log.adopt_epoch("second"));  // the forwarder's state was lost: its numbers restart
  EXPECT_EQ(log.append(1, 1, 5, bytes("after")), detail::CollectedLog::Outcome::written);
  log.commit();
  std::map<int, std::vector<std::uint64_t>> times = times_in(log_dir);
  EXPECT_EQ(times[1], (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(times[2], (std::vector<std::uint64_t>{2}));
}

}  // namespace
}  // namespace shmkit::testing
