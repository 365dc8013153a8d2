#pragma once
/// @file
/// Reading a source's log archive (`{source_id}_log.npz`) without loading it.
///
/// The reader understands stored and deflated members and ZIP64, walks the
/// central directory sequentially and reads one member at a time, so memory
/// use is bounded by the largest entry. It skips an `allow_pickle.npy`
/// member that some numpy versions add to archives.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <shmkit/logger/log_package.hpp>

namespace shmkit {

/// One message of an archive, as ataraxis' `LogArchiveReader` yields it.
struct LogMessage {
  std::uint64_t timestamp_us = 0;      ///< onset UTC epoch µs + acquisition_time
  std::span<const std::byte> payload;  ///< valid until the cursor moves
};

/// Reads one `.npz` log archive.
///
/// Thread safety: one reader per thread; cursors of one reader may be used
/// by one thread at a time each.
class LogArchiveReader {
 public:
  /// Opens `path` and scans its central directory once (count, onset).
  /// @throws NotFoundError when the file does not exist;
  ///         CorruptDataError (naming the file and the offset) when it is not
  ///         a zip archive, is truncated, or a member name is not
  ///         `{source:03d}_{time:020d}.npy`.
  explicit LogArchiveReader(const std::filesystem::path& path);
  LogArchiveReader(LogArchiveReader&&) noexcept;
  LogArchiveReader& operator=(LogArchiveReader&&) noexcept;
  LogArchiveReader(const LogArchiveReader&) = delete;
  LogArchiveReader& operator=(const LogArchiveReader&) = delete;
  ~LogArchiveReader();

  /// Entries in the archive, onset entries included (`allow_pickle.npy` excluded).
  [[nodiscard]] std::uint64_t entry_count() const noexcept;
  /// Entries that are not onset entries (acquisition_time != 0).
  [[nodiscard]] std::uint64_t message_count() const noexcept;
  /// The onset (UTC epoch µs) from the first onset entry, or nullopt when
  /// the archive has none. @throws CorruptDataError if that entry is damaged.
  [[nodiscard]] std::optional<std::uint64_t> onset_us() const;
  /// Path given to the constructor.
  [[nodiscard]] const std::filesystem::path& path() const noexcept;

  /// Sequential access to the entries in archive order.
  class Cursor {
   public:
    Cursor(Cursor&&) noexcept;
    Cursor& operator=(Cursor&&) noexcept;
    ~Cursor();
    /// Reads the next entry into `entry` (its payload buffer is reused).
    /// Returns false after the last entry.
    /// @throws CorruptDataError naming the archive, member and offset when a
    ///         member is truncated, fails its CRC, is not a 1-D uint8 array,
    ///         or its bytes disagree with its name.
    bool next(LogEntry& entry);

   private:
    friend class LogArchiveReader;
    struct Impl;
    explicit Cursor(std::unique_ptr<Impl> impl) noexcept;
    std::unique_ptr<Impl> impl_;
  };

  /// A cursor at the first entry.
  [[nodiscard]] Cursor entries() const;

  /// Calls `fn(LogMessage)` for every non-onset entry in order, with
  /// timestamp_us = onset + acquisition_time (onset 0 if there is none).
  /// @throws as Cursor::next, and whatever `fn` throws.
  template <typename Fn>
  void for_each_message(Fn&& fn) const {
    const std::uint64_t onset = onset_us().value_or(0);
    Cursor cursor = entries();
    LogEntry entry;
    while (cursor.next(entry)) {
      if (entry.acquisition_time != kOnsetTime) {
        fn(LogMessage{onset + entry.acquisition_time, entry.payload});
      }
    }
  }

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace shmkit
