#pragma once
/// @file
/// A streaming writer of log archives: a zip file (`.npz`) whose members are
/// the `.npy` entries of one source, as numpy's `np.savez` /
/// `np.savez_compressed` would write them.
///
/// Streaming: each entry is written (and, when compressing, deflated) as it
/// is added, and the central directory is spilled to an anonymous temporary
/// file beyond 4 MiB, so memory use is bounded by the largest entry, not by
/// the archive. ZIP64 extra fields and end records are written whenever a
/// size, an offset or the member count needs them (or always, on request).
///
/// The caller adds entries in the order they should appear (ascending
/// acquisition time for a log archive); the writer does not sort.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

namespace shmkit {

/// How an archive is written.
struct NpzWriterOptions {
  /// 0 stores members uncompressed (np.savez); 1..12 deflates them with
  /// libdeflate at that level (np.savez_compressed uses zlib's 6). A member
  /// that does not shrink is stored.
  int compression_level = 0;
  /// Write ZIP64 extra fields on every member and ZIP64 end records even when
  /// the sizes would not need them (numpy's own writer does this).
  bool force_zip64 = false;
};

/// Writes one `.npz` log archive. Not thread-safe; one writer per file.
class NpzWriter {
 public:
  /// Creates (truncates) `path`.
  /// @throws Error when the file cannot be created; std::invalid_argument
  ///         for a compression level outside 0..12.
  NpzWriter(const std::filesystem::path& path, const NpzWriterOptions& options = {});
  NpzWriter(NpzWriter&&) noexcept;
  NpzWriter& operator=(NpzWriter&&) noexcept;
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;
  /// An unfinished archive is left incomplete (and unreadable); call finish().
  ~NpzWriter();

  /// Appends the member `{source_id:03d}_{acquisition_time:020d}.npy` holding
  /// `[source_id][acquisition_time LE][payload]` as a 1-D `|u1` array.
  /// @throws Error on a write failure (disk full, ...).
  void add_entry(std::uint8_t source_id, std::uint64_t acquisition_time, std::span<const std::byte> payload);

  /// Writes the central directory and end records, then closes the file.
  /// @param sync  fdatasync the file before closing
  /// @returns the archive's size in bytes
  /// @throws Error on a write failure.
  std::uint64_t finish(bool sync = false);

  /// Members added so far.
  [[nodiscard]] std::uint64_t member_count() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmkit
