#pragma once
// The last phase of `shmkit demo`: assembling the log directory into one
// compressed archive per source, and reading every archive back with the
// LogArchiveReader to count and check what it holds.

#include <shmkit/logger/assemble.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace shmkit::cli::demo {

/// What one source's archive holds, as read back.
struct ArchiveCheck {
  std::uint8_t source_id = 0;
  std::filesystem::path path;
  bool present = false;
  std::uint64_t file_bytes = 0;
  std::uint64_t entries = 0;        ///< onset included
  std::uint64_t payload_bytes = 0;  ///< of every entry, onset included
  bool has_onset = false;
  std::uint64_t frames = 0;           ///< camera: frame entries
  std::uint64_t frames_in_order = 0;  ///< of which carry the numbers 0, 1, 2, ... in turn
  std::string error;                  ///< why reading failed, if it did
};

/// Assembles `log_dir` (deflate at `compression_level`, verified by the
/// assembler before it removes the record files).
/// @throws as assemble_log_archives
[[nodiscard]] AssembleReport assemble_archives(const std::filesystem::path& log_dir, int compression_level);

/// Reads `log_dir`'s archive of `source_id` entry by entry. With
/// `frame_pixels`, every message must be a stamped frame of that many
/// uint16 pixels. Never throws for a damaged or missing archive: `error`
/// and `present` say what went wrong.
[[nodiscard]] ArchiveCheck check_archive(const std::filesystem::path& log_dir, std::uint8_t source_id,
                                         std::optional<std::size_t> frame_pixels);

}  // namespace shmkit::cli::demo
