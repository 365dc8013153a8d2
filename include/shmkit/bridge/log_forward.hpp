#pragma once
/// @file
/// Forwards a local logger instance to Redis, so that a collector on
/// another host (log_collect.hpp) records it:
///
/// ```cpp
/// shmkit::LogForwarderOptions options;
/// options.instance = "rig";
/// options.redis_url = "redis://analysis-host:6379/0";
/// options.host_id = "rig-a";
/// shmkit::LogForwarder forwarder(options);   // owns /dev/shm/shmkit-log.rig, as `log serve` would
/// forwarder.start();
/// // ... writers log as usual (LogWriter::connect("rig")) ...
/// forwarder.stop();
/// ```
///
/// The forwarder is a DataLogger whose entries go to the Redis Stream
/// `P:log:<host>:<instance>` (P the prefix) instead of record files. Each
/// entry is encoded as its payload length (u32), source id (u8), sequence
/// number among its source's entries from this origin (u64, from 1) and
/// acquisition time (u64), little-endian, then its payload; entries that
/// follow each other share one stream message (field `e`) up to 64 KiB,
/// a larger entry has one of its own. The XADDs of a drain pass form one
/// MULTI/EXEC transaction, which also records in the hash
/// `P:logfwd:<host>:<instance>` the ring position of the last entry
/// forwarded per writer slot and the last sequence number per source. Ring space is released only after EXEC
/// succeeded. A forwarder that is SIGKILLed after EXEC but before the
/// release is succeeded by one that reads that hash and skips what Redis
/// already holds: every entry is in the stream once, with dense sequence
/// numbers per (origin, source). The origin `<host>:<instance>` is added to
/// the set `P:log:origins`, where collectors find it.
///
/// While Redis is unreachable the forwarder drains nothing: the rings fill
/// and the writers' full policy applies (block with timeout, or drop and
/// count; LoggerStats::dropped). It reconnects with exponential backoff and
/// says when it pauses and when it resumes.
///
/// Caveats: run one forwarder per (host id, instance); two hosts given the
/// same host id and instance name would interleave one stream (refused
/// locally only: the instance is owned by one process per host). The state
/// directory holds the spill files of chunked entries and must persist
/// across restarts of the forwarder. Redis must keep its data across its
/// own restarts (AOF, `appendfsync always` for no loss at all) for the
/// no-loss guarantee to reach through a Redis crash.
///
/// Thread safety: start, stop and stats from any one thread at a time.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/options.hpp>

namespace shmkit {

/// What a LogForwarder needs.
struct LogForwarderOptions {
  std::string instance;           ///< the logger instance to drain (writers connect with it)
  std::string redis_url;          ///< `redis://host:port/db` or `unix:///path/to/redis.sock`
  std::string password;           ///< Redis AUTH password; empty: none
  std::string prefix = "shmkit";  ///< prefix of every Redis key
  /// This host's id (a shmkit name: `[A-Za-z0-9._-]`); empty: the host name
  /// with other characters replaced by '-'.
  std::string host_id;
  /// Spill files and the lock; empty: `/tmp/shmkit-log-forward-<uid>-<instance>`.
  std::filesystem::path state_dir;
  std::chrono::milliseconds min_backoff{50};      ///< first retry delay after a Redis failure
  std::chrono::milliseconds max_backoff{2000};    ///< the delay doubles up to this
  std::chrono::milliseconds redis_timeout{5000};  ///< connect and command timeout
  /// Receives every line the forwarder logs; empty: standard error. Called
  /// on the logger's thread.
  std::function<void(const std::string&)> log;
};

/// Counters of a forwarder (monotonic).
struct LogForwarderStats {
  LoggerStats logger;                 ///< the rings: writers, drops (entries_saved: handed to the sink)
  std::uint64_t forwarded = 0;        ///< entries Redis accepted
  std::uint64_t forwarded_bytes = 0;  ///< their payload bytes
  std::uint64_t resent_skipped = 0;   ///< entries handed over again that Redis already held
  std::uint64_t transactions = 0;     ///< MULTI/EXEC batches committed
  std::uint64_t connects = 0;         ///< successful (re)connections
  std::uint64_t redis_errors = 0;     ///< failed connects or commands
  bool connected = false;
};

class LogForwarder {
 public:
  /// Creates or takes over the logger segment of `options.instance` (as
  /// DataLogger does). Redis need not be reachable yet.
  /// @throws Error naming the option (malformed URL, bad host id or prefix),
  ///         and as DataLogger's constructor
  explicit LogForwarder(LogForwarderOptions options, DataLoggerOptions logger_options = {});
  LogForwarder(const LogForwarder&) = delete;
  LogForwarder& operator=(const LogForwarder&) = delete;
  ~LogForwarder();

  /// Starts draining (a no-op while running). @throws as DataLogger::start
  void start();
  /// Forwards what the rings hold if Redis is reachable, then stops.
  LogForwarderStats stop();
  [[nodiscard]] LogForwarderStats stats() const;
  /// The host id in use (option or default).
  [[nodiscard]] const std::string& host_id() const noexcept;
  /// The Redis Stream this forwarder appends to.
  [[nodiscard]] const std::string& stream_key() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace shmkit
