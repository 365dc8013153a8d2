#pragma once
/// @file
/// The consuming side of the logger: a DataLogger owns the instance's shared
/// segment and runs a saver thread that drains every writer's ring into
/// per-source record files in `<output_dir>/<instance_name>_data_log/`.
/// `assemble_log_archives` (assemble.hpp) turns those files into `.npz`
/// archives.
///
/// ```cpp
/// shmkit::DataLogger logger("/data/session1", "rig");   // creates /dev/shm/shmkit-log.rig
/// logger.start();
/// // any process:
/// auto writer = shmkit::LogWriter::connect("rig");
/// writer.write_onset(1);
/// writer.log_now(1, bytes);
/// // logger process:
/// auto stats = logger.stop();                          // drains, fsyncs
/// shmkit::assemble_log_archives(logger.log_directory());
/// ```
///
/// Caveats
/// - Crash of the logger process: the rings live on in /dev/shm; creating a
///   DataLogger with the same instance name takes the segment over (its
///   previous owner must be dead) and drains what was left. Entries are
///   released from a ring only after write(2) put them in the page cache, so
///   a SIGKILL loses nothing a writer logged. Payloads above a quarter of
///   the ring travel in chunks whose ring space is released before the
///   entry is complete; those chunks are first written to a spill file per
///   writer slot (`<log dir>/.spill-<slot>`), from which the next logger
///   resumes the entry. (Size the ring above 4x the largest payload to
///   avoid the extra copy.) A crash between write(2) and releasing the ring
///   space saves a batch twice; assembly keeps and reports the duplicates.
/// - A torn record at the end of a record file (power loss without fsync,
///   disk full) is detected by assembly via the frame CRC and reported.
/// - Fork: do not fork a process while its DataLogger is running and use the
///   logger in the child; the saver thread does not exist there.
/// - Cleanup: the destructor removes the segment unless a live writer still
///   holds a slot (`remove_segment_on_destroy`). After a crash, a segment
///   nobody will restart can be removed with DataLogger::remove_segment.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <shmkit/logger/layout.hpp>
#include <shmkit/logger/options.hpp>

namespace shmkit {

/// One writer slot as the logger sees it.
struct WriterSlotStats {
  std::uint32_t slot = 0;
  pid_t pid = 0;
  bool alive = false;
  WriterSlotState state = WriterSlotState::free;
  std::uint64_t logged = 0;   ///< entries the writer placed in its ring
  std::uint64_t dropped = 0;  ///< entries the writer had to drop
  std::uint64_t saved = 0;    ///< entries the saver wrote to files
};

/// Counters of a logger since it was constructed.
struct LoggerStats {
  std::vector<WriterSlotStats> writers;  ///< slots currently in use
  std::uint64_t entries_saved = 0;
  std::uint64_t bytes_saved = 0;        ///< payload bytes
  std::uint64_t dropped = 0;            ///< all drops: current writers + writers that left
  std::uint64_t discarded_partial = 0;  ///< chunked entries abandoned half-written
  std::uint64_t files_created = 0;
  std::uint64_t errors = 0;  ///< errors reported through on_error
};

class LogSink;

class DataLogger {
 public:
  /// Creates `<output_dir>/<instance_name>_data_log/` and the segment
  /// `/dev/shm/shmkit-log.<instance_name>`, or takes over the segment left by
  /// a dead logger of the same instance (its rings are drained on start()).
  /// Writers may connect as soon as this returns; entries wait in the rings
  /// until start().
  /// @throws NameError (instance name), ExistsError (a live process already
  ///         runs a logger with this instance name), LayoutError (the
  ///         segment with that name is not a logger segment), Error (cannot
  ///         create the directory or the segment: no room in /dev/shm).
  DataLogger(std::filesystem::path output_dir, std::string instance_name, DataLoggerOptions options = {});
  /// A logger whose entries go to `sink` (log_sink.hpp) instead of record
  /// files, e.g. the bridge's Redis forwarder. `state_dir` holds the lock
  /// and the spill files of chunked entries (keep it across restarts of the
  /// same instance); `fsync` options do not apply. Ring space is released
  /// only after the sink's commit; while the sink is not ready nothing is
  /// drained. @throws as the constructor above; Error when `sink` is null
  DataLogger(std::string instance_name, std::shared_ptr<LogSink> sink, std::filesystem::path state_dir,
             DataLoggerOptions options = {});
  DataLogger(const DataLogger&) = delete;
  DataLogger& operator=(const DataLogger&) = delete;
  /// stop(), release the segment (see caveats). Never throws.
  ~DataLogger();

  /// Starts the saver thread (a no-op while running). Each start opens a new
  /// session of record files.
  /// @throws Error when the log directory is locked by another process that
  ///         is writing or assembling it, or the thread cannot start.
  void start();

  /// Drains every ring as it stands (writers may keep writing; their later
  /// entries wait in the rings for the next start), writes and fdatasyncs
  /// every record file, and joins the saver. Drops seen so far are reported through
  /// on_error. Idempotent; start() may be called again afterwards.
  /// @returns the counters at the time of stopping.
  LoggerStats stop();

  [[nodiscard]] bool running() const noexcept;
  /// Current counters (safe to call from any thread while running).
  [[nodiscard]] LoggerStats stats() const;
  /// `<output_dir>/<instance_name>_data_log`
  [[nodiscard]] const std::filesystem::path& log_directory() const noexcept;
  [[nodiscard]] const std::string& instance_name() const noexcept;

  /// Removes the segment of `instance_name` (after a crash). Returns false if
  /// there was none. @throws NameError, Error (permission)
  static bool remove_segment(std::string_view instance_name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmkit
