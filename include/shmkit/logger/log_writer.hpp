#pragma once
/// @file
/// The producing side of the logger: a LogWriter owns one ring in a
/// DataLogger's shared segment and copies entries into it.
///
/// Caveats
/// - Fork: a LogWriter must not be used by a forked child (the slot belongs
///   to the process that connected, and the saver reclaims it when that
///   process dies). Connect a new writer in the child.
/// - Crash: a producer killed inside log() loses at most the entry being
///   written: entries are published by one release store after their bytes
///   are complete. A dead writer's slot is drained and freed by the saver.
/// - Logger death: the rings live in /dev/shm, so entries written while no
///   logger runs wait there (until the ring fills) and a restarted logger
///   with the same instance name drains them. If the segment is removed
///   while a writer is connected, that writer's later entries are lost; with
///   the block policy each such log() returns false after block_timeout.
/// - Threads: one LogWriter per producing thread; a writer is not
///   thread-safe (it is the single producer of its ring).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/options.hpp>

namespace shmkit {

/// Per-writer counters (also visible to the logger through DataLogger::stats()).
struct LogWriterStats {
  std::uint64_t logged = 0;   ///< entries placed in the ring
  std::uint64_t dropped = 0;  ///< entries refused: drop policy, block timeout, or too large
};

class LogWriter {
 public:
  /// Claims a free writer slot of logger `instance_name`.
  /// @throws NameError (bad instance name), NotFoundError (no logger segment
  ///         with that instance name), LayoutError (the segment is not a
  ///         logger segment of this version), Error (all max_writers slots
  ///         are held by live writers).
  static LogWriter connect(std::string_view instance_name, const LogWriterOptions& options = {});

  LogWriter(LogWriter&&) noexcept;
  LogWriter& operator=(LogWriter&&) noexcept;
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  /// Releases the slot; the logger saves what is still in the ring first.
  ~LogWriter();

  /// Copies one entry into the ring. Never throws, never allocates; makes no
  /// system call unless the ring is full under the block policy (then it
  /// sleeps on a futex until the saver frees room or block_timeout passes).
  /// Payloads larger than a quarter of the ring are written in chunks.
  /// @returns true when the entry is in the ring; false when it was dropped
  ///          (counted in stats().dropped): ring full under the drop policy,
  ///          block timeout, payload >= 4 GiB, or a moved-from writer.
  bool log(std::uint8_t source_id, std::uint64_t acquisition_time, std::span<const std::byte> payload) noexcept;
  bool log(const LogPackage& entry) noexcept { return log(entry.source_id, entry.acquisition_time, entry.payload); }

  /// Logs `source_id`'s onset entry (acquisition_time 0, payload = current
  /// UTC epoch in µs, little-endian uint64) and restarts elapsed_us() at 0.
  /// @returns as log().
  bool write_onset(std::uint8_t source_id) noexcept;

  /// Monotonic µs since the last write_onset() (since connect() before any).
  [[nodiscard]] std::uint64_t elapsed_us() const noexcept;

  /// Logs `payload` at elapsed_us(). @returns as log().
  bool log_now(std::uint8_t source_id, std::span<const std::byte> payload) noexcept {
    return log(source_id, elapsed_us(), payload);
  }

  [[nodiscard]] LogWriterStats stats() const noexcept;
  /// The slot this writer holds (0..max_writers-1).
  [[nodiscard]] std::uint32_t slot() const noexcept;
  /// Largest payload written as one ring record; larger ones are chunked.
  [[nodiscard]] std::size_t max_chunk_bytes() const noexcept;

 private:
  struct Impl;
  explicit LogWriter(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmkit
