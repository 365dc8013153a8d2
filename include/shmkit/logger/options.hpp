#pragma once
/// @file
/// Option structs of the logger: the logger process's and each writer's.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <shmkit/core/segment.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>

#include <array>
#include <string_view>

namespace shmkit {

/// What LogWriter::log does when its ring has no room.
enum class FullPolicy {
  block,  ///< wait (futex, no spinning) up to `block_timeout`, then drop and count
  drop,   ///< drop the entry at once and count it
};
BOOST_DESCRIBE_ENUM(FullPolicy, block, drop)

/// When the saver calls fdatasync on the files it appends to.
enum class FsyncPolicy {
  none,      ///< never while running (stop() still syncs)
  interval,  ///< at most once per `fsync_interval`
  always,    ///< after every batch, before the ring space is released
};
BOOST_DESCRIBE_ENUM(FsyncPolicy, none, interval, always)

/// Options of a DataLogger (the consuming side).
///
/// Described with Boost.Describe (all but `on_error`), so they load from YAML
/// with `shmkit::from_yaml<DataLoggerOptions>(path)`, as `shmkit log serve
/// --config FILE` does. Durations are plain numbers in the field's own unit,
/// the mode is octal, the fsync policy a name:
///
///     max_writers: 16
///     ring_bytes: 1048576
///     mode: 0600
///     fsync: interval
///     fsync_interval: 1000         # milliseconds
///     idle_sleep: 500              # microseconds
///     reap_interval: 100           # milliseconds
///     file_buffer_bytes: 1048576
///     remove_segment_on_destroy: true
struct DataLoggerOptions {
  /// Writer slots in the segment; a LogWriter::connect beyond this many live
  /// writers fails. Ignored when reopening an existing segment.
  std::uint32_t max_writers = 16;
  /// Ring data bytes per writer, rounded up to a power of two (>= 64 KiB).
  /// Payloads above ring_bytes / 4 are chunked. Ignored when reopening.
  std::size_t ring_bytes = std::size_t{1} << 20;
  /// Permission of the segment (0660 shares it with a group).
  mode_t mode = kDefaultMode;
  FsyncPolicy fsync = FsyncPolicy::interval;
  std::chrono::milliseconds fsync_interval{1000};
  /// Longest the saver sleeps when every ring is empty. A writer whose ring
  /// passes half full, or that waits for space, wakes it sooner, so a long
  /// idle_sleep saves CPU without making bursts wait.
  std::chrono::microseconds idle_sleep{500};
  /// How often the saver looks for writers that died without disconnecting.
  std::chrono::milliseconds reap_interval{100};
  /// Bytes buffered per source file before a write(2).
  std::size_t file_buffer_bytes = std::size_t{1} << 20;
  /// Remove the segment when the DataLogger is destroyed, unless a live
  /// writer is still connected (then it stays, so a restarted logger drains it).
  bool remove_segment_on_destroy = true;
  /// Called on the saver thread for errors it cannot throw (disk full, a
  /// damaged ring) and for drop reports at stop(). Default: print to stderr.
  std::function<void(const std::string& message)> on_error;

  /// Written and read in octal in a config file.
  static constexpr std::array kYamlOctal{std::string_view{"mode"}};
};
BOOST_DESCRIBE_STRUCT(DataLoggerOptions, (),
                      (max_writers, ring_bytes, mode, fsync, fsync_interval, idle_sleep, reap_interval,
                       file_buffer_bytes, remove_segment_on_destroy))

/// Options of one LogWriter (the producing side). Described, like
/// DataLoggerOptions: `policy: block` and `block_timeout: 2000` (milliseconds).
struct LogWriterOptions {
  FullPolicy policy = FullPolicy::block;
  /// Longest a block-policy log() waits for room before dropping the entry.
  std::chrono::milliseconds block_timeout{2000};
};
BOOST_DESCRIBE_STRUCT(LogWriterOptions, (), (policy, block_timeout))

}  // namespace shmkit
