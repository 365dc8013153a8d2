#pragma once
// Sorted streams of log entries that assembly merges: an existing archive,
// a record file, and a list of per-entry .npy files.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/record_file.hpp>

namespace shmkit::detail {

class EntrySource {
 public:
  virtual ~EntrySource() = default;
  /// Next entry in ascending time; false at the end. May throw CorruptDataError.
  virtual bool next(LogEntry& entry) = 0;
  [[nodiscard]] virtual std::string describe() const = 0;
};

class ArchiveSource final : public EntrySource {
 public:
  explicit ArchiveSource(const std::filesystem::path& path) : reader_(path), cursor_(reader_.entries()) {}
  bool next(LogEntry& entry) override { return cursor_.next(entry); }
  [[nodiscard]] std::string describe() const override { return "archive '" + reader_.path().string() + "'"; }

 private:
  LogArchiveReader reader_;
  LogArchiveReader::Cursor cursor_;
};

class RecordFileSource final : public EntrySource {
 public:
  explicit RecordFileSource(const std::filesystem::path& path) : reader_(path) {}
  bool next(LogEntry& entry) override { return reader_.next(entry); }
  [[nodiscard]] std::string describe() const override { return "record file '" + reader_.path().string() + "'"; }

 private:
  RecordFileReader reader_;
};

/// Per-entry files `{source:03d}_{time:020d}.npy`, given sorted by name
/// (which is time order, the time being zero-padded).
class NpyFilesSource final : public EntrySource {
 public:
  explicit NpyFilesSource(std::vector<std::filesystem::path> files) : files_(std::move(files)) {}
  bool next(LogEntry& entry) override;
  [[nodiscard]] std::string describe() const override { return "per-entry .npy files"; }

 private:
  std::vector<std::filesystem::path> files_;
  std::size_t index_ = 0;
  std::vector<std::byte> buffer_;
};

}  // namespace shmkit::detail
