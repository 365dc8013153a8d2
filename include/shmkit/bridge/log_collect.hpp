#pragma once
/// @file
/// Records, on the recording host, the logger streams forwarded by
/// LogForwarder (log_forward.hpp) on any number of hosts:
///
/// ```cpp
/// shmkit::LogCollectorOptions options;
/// options.redis_url = "redis://localhost:6379/0";
/// options.out_dir = "/data/s1";
/// shmkit::LogCollector collector(options);
/// collector.run();   // until stop(); then: shmkit log assemble /data/s1/rig-a-rig_data_log
/// ```
///
/// For every origin `<host>:<instance>` in `P:log:origins` it reads the
/// stream `P:log:<host>:<instance>` through the consumer group `group`
/// (XREADGROUP; created at the start of the stream when missing) and writes
/// the record files a local logger writes, in `<out_dir>/<host>-<instance>_data_log/`,
/// so `shmkit log assemble` turns them into the same archives.
///
/// Exactly once in the files: after each batch the collector fdatasyncs
/// the files, then atomically replaces `.collect-state` in the origin's
/// directory (per source the highest sequence number written, per file its
/// length), and only then XACKs the batch (and trims the stream up to it).
/// Entries whose sequence number is not above their source's mark are
/// duplicates (a redelivery) and are dropped. A collector that starts
/// again first cuts every record file back to the length the state file
/// vouches for (and removes files it does not know), then reads its own
/// pending entries again before new ones.
///
/// Entries carry the epoch of the forwarder's state in Redis; a new epoch
/// (Redis lost that state, and with it the stream) restarts the marks of
/// that origin, so the renumbered entries are not taken for duplicates.
///
/// Caveats: one collector per stream (it trims what it acknowledged, so a
/// second consumer group would miss entries); the consumer name must stay
/// the same across restarts (its pending entries are delivered to it
/// only). The origin directories are locked while the collector runs, as
/// a logger locks its own.
///
/// Thread safety: `run` on one thread; `stop` and `stats` from any thread
/// (`stop` also from a signal handler).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace shmkit {

/// What a LogCollector needs.
struct LogCollectorOptions {
  std::string redis_url;                          ///< `redis://host:port/db` or `unix:///path/to/redis.sock`
  std::string password;                           ///< Redis AUTH password; empty: none
  std::string prefix = "shmkit";                  ///< prefix of every Redis key (as the forwarders')
  std::filesystem::path out_dir;                  ///< origin directories are created here
  std::string group = "collector";                ///< consumer group
  std::string consumer = "collector";             ///< consumer name (keep it across restarts)
  std::uint32_t batch_entries = 4096;             ///< most entries read per stream and call
  std::chrono::milliseconds block{100};           ///< XREADGROUP BLOCK when idle
  std::chrono::milliseconds min_backoff{50};      ///< first retry delay after a Redis failure
  std::chrono::milliseconds max_backoff{2000};    ///< the delay doubles up to this
  std::chrono::milliseconds redis_timeout{5000};  ///< connect and command timeout
  /// Receives every line the collector logs; empty: standard error.
  std::function<void(const std::string&)> log;
};

/// Counters of a collector (monotonic).
struct LogCollectorStats {
  std::uint64_t collected = 0;     ///< entries written to record files
  std::uint64_t duplicates = 0;    ///< redelivered entries dropped
  std::uint64_t gaps = 0;          ///< sequence numbers skipped (should stay 0)
  std::uint64_t acknowledged = 0;  ///< entries XACKed
  std::uint64_t origins = 0;       ///< origins being collected
  std::uint64_t connects = 0;
  std::uint64_t redis_errors = 0;
  bool connected = false;
};

class LogCollector {
 public:
  /// @throws Error (malformed URL, bad prefix, cannot create out_dir)
  explicit LogCollector(LogCollectorOptions options);
  LogCollector(const LogCollector&) = delete;
  LogCollector& operator=(const LogCollector&) = delete;
  ~LogCollector();

  /// Collects until `stop`. Redis failures are logged and retried.
  /// @throws Error on a local failure (disk full, directory locked by
  ///         another process); what was acknowledged is in the files.
  void run();
  /// Makes `run` return soon. Async-signal-safe.
  void stop() noexcept;
  [[nodiscard]] LogCollectorStats stats() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace shmkit
