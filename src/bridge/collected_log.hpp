#pragma once
// One origin's log directory on the collecting host: record files as a
// local logger writes them, and `.collect-state`, which vouches for them.
// append() writes an entry unless its sequence number shows a duplicate;
// commit() makes everything appended durable and then records, atomically,
// each source's highest sequence number and each file's length. Opening
// the directory again cuts the files back to what the state vouches for,
// so entries written after the last commit (not yet acknowledged, hence
// delivered again) are not kept twice.

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "logger/backend/file_io.hpp"
#include "logger/backend/log_directory.hpp"

namespace shmkit::detail {

inline constexpr const char kCollectStateName[] = ".collect-state";

class CollectedLog {
 public:
  /// Creates or recovers `dir` and locks it. @throws Error (I/O, locked)
  explicit CollectedLog(std::filesystem::path dir);
  CollectedLog(const CollectedLog&) = delete;
  CollectedLog& operator=(const CollectedLog&) = delete;

  enum class Outcome { written, duplicate, gap };
  /// Writes the entry unless `sequence` is not above its source's mark.
  /// `gap`: written, but sequence numbers were skipped. @throws Error
  Outcome append(std::uint8_t source, std::uint64_t sequence, std::uint64_t time, std::span<const std::byte> payload);
  /// fdatasync the files, then replace the state file. @throws Error
  void commit();
  /// Entries numbered under another epoch of the forwarder's state than
  /// the last ones (Redis lost that state) restart the marks: returns true
  /// then. The first epoch seen is adopted.
  bool adopt_epoch(std::string_view epoch);
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  struct Source {
    OutputFile out;
    std::string name;
    std::uint64_t last_time = 0;
    bool dirty = false;
  };
  void recover();

  std::filesystem::path dir_;
  std::optional<DirectoryLock> lock_;
  std::uint32_t session_ = 0;
  std::array<std::unique_ptr<Source>, 256> files_{};
  std::array<std::uint32_t, 256> runs_{};
  std::array<std::uint64_t, 256> marks_{};        // highest sequence written, per source
  std::map<std::string, std::uint64_t> lengths_;  // committed length of every file written by a collector
  std::string epoch_;
  bool new_file_ = false;
  bool changed_ = false;
};

}  // namespace shmkit::detail
