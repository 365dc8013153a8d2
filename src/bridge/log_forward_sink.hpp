#pragma once
// The LogSink of the forwarder: entries of one drain pass become one
// MULTI/EXEC transaction of XADDs plus the hash that says what was
// forwarded; entries Redis already holds (handed over again after a crash)
// are recognised by their ring position and skipped.

#include <shmkit/bridge/log_forward.hpp>
#include <shmkit/logger/log_sink.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bridge/backoff.hpp"
#include "bridge/redis_client.hpp"
#include "bridge/redis_url.hpp"

namespace shmkit::detail {

struct LogForwardCounters {
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> forwarded_bytes{0};
  std::atomic<std::uint64_t> resent_skipped{0};
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> redis_errors{0};
  std::atomic<bool> connected{false};
};

class RedisLogSink final : public LogSink {
 public:
  RedisLogSink(const LogForwarderOptions& options, RedisEndpoint endpoint, std::string origin,
               LogForwardCounters& counters);
  bool ready() override;
  void write(const LogSinkEntry& entry) override;
  void commit() override;
  void abandon() noexcept override;

 private:
  struct Last {  // the last entry forwarded from one writer slot
    std::int64_t segment_ns = 0;
    std::uint64_t generation = 0;
    std::uint64_t position = 0;
  };
  // How the state hash holds a Last ("segment:generation:position"; load_state reads it back).
  static std::string state_value(const Last& l) {
    return std::to_string(l.segment_ns) + ":" + std::to_string(l.generation) + ":" + std::to_string(l.position);
  }
  struct Field {
    std::size_t offset;
    std::size_t size;
  };
  struct Pending {  // an entry as handed over: what Redis holds is checked at commit
    RingPosition ring;
    std::uint8_t source;
    std::uint64_t time;
    Field record;  // in arena_: the entry's header (filled in at commit), then its payload
  };

  void connect();
  void load_state();
  void put_back_state();
  void disconnect(const std::string& why);
  void log(const std::string& line) const;

  const LogForwarderOptions& options_;
  RedisEndpoint endpoint_;
  std::string origin_;
  std::string stream_;
  std::string state_key_;
  LogForwardCounters& counters_;
  std::optional<RedisClient> redis_;
  Backoff backoff_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::steady_clock::time_point paused_since_{};
  bool paused_ = false;

  // What Redis holds, as read at (re)connection and kept up to date by
  // every commit: the last entry per writer slot, the last sequence number
  // per source. Entries are checked against it (and numbered) only at
  // commit, when it is known: a saver hands over entries resumed from a
  // spill file before the first connection.
  std::string epoch_;
  std::map<std::uint32_t, Last> committed_;
  std::array<std::uint64_t, 256> sequences_{};
  std::string arena_;  // the batch's stream values
  std::vector<Pending> batch_;
  // After an EXEC whose XADDs failed while its HSET ran (Redis reports
  // WRONGTYPE only when EXEC runs, and a transaction is not rolled back):
  // the state fields to set back (an empty value deletes the field), so
  // the hash never claims entries the stream lacks. Applied at once, or
  // at the next connection before the state is read.
  std::vector<std::pair<std::string, std::string>> put_back_;
};

}  // namespace shmkit::detail
