#include "logger/backend/log_directory.hpp"

#include <shmkit/core/error.hpp>
#include <shmkit/logger/record_file.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <utility>

namespace shmkit::detail {

namespace {

template <typename T>
bool parse_digits(std::string_view text, T& value) {
  if (text.empty()) {
    return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

std::string record_file_name(std::uint8_t source, std::uint32_t session, std::uint32_t run) {
  char text[64];
  std::snprintf(text, sizeof text, "%03u_%06u_%06u%s", static_cast<unsigned>(source), session, run,
                kRecordFileExtension);
  return text;
}

std::optional<RecordFileName> parse_record_file_name(std::string_view name) {
  RecordFileName parsed;
  if (ends_with(name, kAssembledSuffix)) {
    name.remove_suffix(std::string_view(kAssembledSuffix).size());
    parsed.pending = false;
  } else if (ends_with(name, kDamagedSuffix)) {
    name.remove_suffix(std::string_view(kDamagedSuffix).size());
    parsed.pending = false;
  }
  if (!ends_with(name, kRecordFileExtension)) {
    return std::nullopt;
  }
  name.remove_suffix(std::string_view(kRecordFileExtension).size());
  // {source:03d}_{session}_{run}
  const auto first = name.find('_');
  const auto second = name.find('_', first == std::string_view::npos ? 0 : first + 1);
  if (first != 3 || second == std::string_view::npos) {
    return std::nullopt;
  }
  unsigned source = 0;
  if (!parse_digits(name.substr(0, 3), source) || source > 255 ||
      !parse_digits(name.substr(first + 1, second - first - 1), parsed.session) ||
      !parse_digits(name.substr(second + 1), parsed.run)) {
    return std::nullopt;
  }
  parsed.source = static_cast<std::uint8_t>(source);
  return parsed;
}

bool parse_entry_file_name(std::string_view name, std::uint8_t& source, std::uint64_t& time) {
  if (name.size() != 28 || name[3] != '_' || name.substr(24) != ".npy") {
    return false;
  }
  unsigned value = 0;
  if (!parse_digits(name.substr(0, 3), value) || value > 255 || !parse_digits(name.substr(4, 20), time)) {
    return false;
  }
  source = static_cast<std::uint8_t>(value);
  return true;
}

std::uint32_t next_session(const std::filesystem::path& dir) {
  std::uint32_t highest = 0;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
    if (const auto parsed = parse_record_file_name(item.path().filename().string())) {
      highest = std::max(highest, parsed->session);
    }
  }
  return highest + 1;
}

std::optional<DirectoryLock> DirectoryLock::try_acquire(const std::filesystem::path& dir) {
  const auto path = dir / kLockFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw_errno("cannot open the lock file '" + path.string() + "'", errno);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return std::nullopt;
    }
    throw_system_error("cannot lock '" + path.string() + "'", err);
  }
  return DirectoryLock(fd);
}

DirectoryLock::DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

}  // namespace shmkit::detail
