#include "logger/archive/entry_sources.hpp"

#include <shmkit/core/error.hpp>
#include <shmkit/logger/npy.hpp>

#include "core/detail/little_endian.hpp"
#include "logger/backend/file_io.hpp"
#include "logger/backend/log_directory.hpp"

namespace shmkit::detail {

bool NpyFilesSource::next(LogEntry& entry) {
  if (index_ == files_.size()) {
    return false;
  }
  const auto& path = files_[index_++];
  const InputFile file(path);
  buffer_.resize(file.size());
  if (file.read_at(buffer_.data(), buffer_.size(), 0) != buffer_.size()) {
    throw CorruptDataError("per-entry file '" + path.string() + "' changed size while being read (offset 0)");
  }
  const std::string what = "per-entry file '" + path.string() + "' (offset 0)";
  const NpyU1Layout layout = parse_npy_u1_header(buffer_, what);
  if (layout.header_bytes + layout.length != buffer_.size() || layout.length < kEntryPrefixBytes) {
    throw CorruptDataError(what + " is truncated or holds fewer than the 9 entry-prefix bytes");
  }
  const std::byte* body = buffer_.data() + layout.header_bytes;
  std::uint8_t source = 0;
  std::uint64_t time = 0;
  (void)parse_entry_file_name(path.filename().string(), source, time);
  entry.source_id = std::to_integer<std::uint8_t>(body[0]);
  entry.acquisition_time = load_le<std::uint64_t>(body + 1);
  if (entry.source_id != source || entry.acquisition_time != time) {
    throw CorruptDataError(what + " holds source " + std::to_string(entry.source_id) + " time " +
                           std::to_string(entry.acquisition_time) + ", which disagrees with its name");
  }
  entry.payload.assign(body + kEntryPrefixBytes, body + layout.length);
  return true;
}

}  // namespace shmkit::detail
