#pragma once
// Naming inside a log directory (`<output>/<instance>_data_log/`):
//   {source:03d}_{session:06d}_{run:06d}.shmlog   record files (+ ".assembled" / ".damaged" once assembled)
//   {source:03d}_{time:020d}.npy                  ataraxis-style per-entry files (input only)
//   {source}_log.npz                              archives
//   .shmkit-logger.lock                           held (flock) while a logger runs

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace shmkit::detail {

inline constexpr const char kLockFileName[] = ".shmkit-logger.lock";
inline constexpr const char kAssembledSuffix[] = ".assembled";
inline constexpr const char kDamagedSuffix[] = ".damaged";

struct RecordFileName {
  std::uint8_t source = 0;
  std::uint32_t session = 0;
  std::uint32_t run = 0;
  bool pending = true;  // plain ".shmlog" (not yet assembled)
};

[[nodiscard]] std::string record_file_name(std::uint8_t source, std::uint32_t session, std::uint32_t run);
/// Parses a record file name (pending, assembled or damaged); nullopt for other files.
[[nodiscard]] std::optional<RecordFileName> parse_record_file_name(std::string_view name);
/// Parses "{source:03d}_{time:020d}.npy".
[[nodiscard]] bool parse_entry_file_name(std::string_view name, std::uint8_t& source, std::uint64_t& time);
/// One more than the highest session number of any record file in `dir`.
[[nodiscard]] std::uint32_t next_session(const std::filesystem::path& dir);

/// An exclusive flock on `<dir>/.shmkit-logger.lock`, released on destruction
/// (and by the kernel if the process dies).
class DirectoryLock {
 public:
  /// Returns nullopt when another process (or handle) holds the lock.
  /// @throws Error when the lock file cannot be opened.
  static std::optional<DirectoryLock> try_acquire(const std::filesystem::path& dir);
  DirectoryLock(DirectoryLock&& other) noexcept;
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace shmkit::detail
