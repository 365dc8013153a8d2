#include "demo/archives.hpp"

#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/log_package.hpp>

#include <array>
#include <cstring>
#include <exception>
#include <system_error>

#include "demo/frames.hpp"

namespace shmkit::cli::demo {

AssembleReport assemble_archives(const std::filesystem::path& log_dir, int compression_level) {
  AssembleOptions options;
  options.compression_level = compression_level;
  options.verify = true;
  options.remove_sources = true;
  return assemble_log_archives(log_dir, options);
}

namespace {

// The stamp of a logged frame: its first and last kStampPixels pixels,
// copied out because a payload's bytes need not be aligned for uint16.
std::optional<std::uint64_t> stamp_of(std::span<const std::byte> payload) {
  constexpr std::size_t kStampBytes = kStampPixels * sizeof(std::uint16_t);
  std::array<std::uint16_t, 2 * kStampPixels> ends{};
  std::memcpy(ends.data(), payload.data(), kStampBytes);
  std::memcpy(ends.data() + kStampPixels, payload.data() + payload.size() - kStampBytes, kStampBytes);
  return read_stamp(ends);
}

}  // namespace

ArchiveCheck check_archive(const std::filesystem::path& log_dir, std::uint8_t source_id,
                           std::optional<std::size_t> frame_pixels) {
  ArchiveCheck check;
  check.source_id = source_id;
  check.path = log_dir / archive_name(source_id);
  std::error_code ec;
  check.present = std::filesystem::exists(check.path, ec);
  if (!check.present) {
    return check;
  }
  check.file_bytes = std::filesystem::file_size(check.path, ec);
  try {
    const LogArchiveReader reader(check.path);
    check.has_onset = reader.onset_us().has_value();
    LogArchiveReader::Cursor cursor = reader.entries();
    LogEntry entry;
    while (cursor.next(entry)) {
      ++check.entries;
      check.payload_bytes += entry.payload.size();
      if (!frame_pixels || entry.acquisition_time == kOnsetTime) {
        continue;
      }
      if (entry.payload.size() == *frame_pixels * sizeof(std::uint16_t) && stamp_of(entry.payload) == check.frames) {
        ++check.frames_in_order;
      }
      ++check.frames;
    }
  } catch (const std::exception& e) {
    check.error = e.what();
  }
  return check;
}

}  // namespace shmkit::cli::demo
