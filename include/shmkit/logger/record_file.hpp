#pragma once
/// @file
/// The logger's append-only record files (`*.shmlog`), one per source and
/// logger session (and a new "run" whenever a source's time goes backwards,
/// so every file is sorted by acquisition time).
///
/// ```
/// file header (16 bytes): "SHMKLOG1" | version u32 = 1 | source_id u8 | 3 zero bytes
/// frame: length u32 | source_id u8 | flags u8 = 0 | 0x4B53 u16 | acquisition_time u64
///        | payload (length bytes) | crc32 u32 over the 16 header bytes and the payload
/// ```
/// All integers are little-endian; CRC-32 is zlib's (libdeflate_crc32). A
/// frame cut short by a crash (a torn tail) or failing its CRC is reported
/// as CorruptDataError naming the file and offset, never returned as data.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include <shmkit/logger/log_package.hpp>

namespace shmkit {

inline constexpr std::size_t kRecordFileHeaderBytes = 16;
inline constexpr std::size_t kRecordFrameHeaderBytes = 16;
inline constexpr std::size_t kRecordFrameTrailerBytes = 4;
/// Extension of record files.
inline constexpr const char kRecordFileExtension[] = ".shmlog";

/// Encodes the 16-byte file header for `source_id`.
void encode_record_file_header(std::uint8_t source_id, std::span<std::byte, kRecordFileHeaderBytes> out) noexcept;
/// Encodes a frame header for an entry.
void encode_record_frame_header(const LogPackage& entry, std::span<std::byte, kRecordFrameHeaderBytes> out) noexcept;

/// Sequential reader of one record file.
class RecordFileReader {
 public:
  /// @throws NotFoundError; CorruptDataError when the file header is missing
  ///         or wrong (naming the file).
  explicit RecordFileReader(const std::filesystem::path& path);
  RecordFileReader(RecordFileReader&&) noexcept;
  RecordFileReader& operator=(RecordFileReader&&) noexcept;
  ~RecordFileReader();

  /// Reads the next record into `entry` (payload buffer reused). Returns
  /// false at a clean end of file.
  /// @throws CorruptDataError naming the file and the frame's offset when the
  ///         frame is truncated (torn tail), malformed, or fails its CRC.
  bool next(LogEntry& entry);

  /// The source every record in the file belongs to.
  [[nodiscard]] std::uint8_t source_id() const noexcept;
  /// Offset of the next frame.
  [[nodiscard]] std::uint64_t offset() const noexcept;
  [[nodiscard]] const std::filesystem::path& path() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shmkit
