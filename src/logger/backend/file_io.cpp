#include "logger/backend/file_io.hpp"

#include "core/detail/file_io.hpp"

#include <shmkit/core/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace shmkit::detail {

namespace {

std::string quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

}  // namespace

OutputFile::OutputFile(const std::filesystem::path& path, Mode mode, std::size_t buffer_bytes)
    : path_(path), buffer_(buffer_bytes) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  switch (mode) {
    case Mode::truncate:
      flags |= O_TRUNC;
      break;
    case Mode::exclusive:
      flags |= O_EXCL;
      break;
    case Mode::append:
      flags |= O_APPEND;
      break;
  }
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) {
    throw_errno("cannot open " + quoted(path) + " for writing", errno);
  }
  if (mode == Mode::append) {
    struct stat st {};
    if (::fstat(fd_, &st) == 0) {
      offset_ = static_cast<std::uint64_t>(st.st_size);
    }
  }
}

OutputFile OutputFile::temporary(const std::filesystem::path& dir, std::size_t buffer_bytes) {
  OutputFile file;
  file.path_ = dir / "(temporary)";
  file.buffer_.resize(buffer_bytes);
  file.fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (file.fd_ < 0) {
    throw_errno("cannot create a temporary file in " + quoted(dir), errno);
  }
  return file;
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      used_(std::exchange(other.used_, 0)),
      offset_(std::exchange(other.offset_, 0)) {}

OutputFile& OutputFile::operator=(OutputFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    used_ = std::exchange(other.used_, 0);
    offset_ = std::exchange(other.offset_, 0);
  }
  return *this;
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void OutputFile::write_all(const std::byte* data, std::size_t size) {
  if (const int err = detail::write_all(fd_, data, size); err != 0) {
    throw_system_error("cannot write to " + quoted(path_), err);
  }
}

void OutputFile::write(const void* data, std::size_t size) {
  if (size == 0) {  // data may be null for an empty payload; memcpy wants a pointer
    return;
  }
  const auto* bytes = static_cast<const std::byte*>(data);
  offset_ += size;
  if (used_ + size <= buffer_.size()) {
    std::memcpy(buffer_.data() + used_, bytes, size);
    used_ += size;
    return;
  }
  flush();
  if (size >= buffer_.size() / 2) {
    write_all(bytes, size);
  } else {
    std::memcpy(buffer_.data(), bytes, size);
    used_ = size;
  }
}

void OutputFile::flush() {
  if (used_ > 0) {
    const std::size_t n = used_;
    used_ = 0;
    write_all(buffer_.data(), n);
  }
}

void OutputFile::sync() {
  flush();
  if (::fdatasync(fd_) != 0) {
    throw_system_error("cannot sync " + quoted(path_) + " to disk", errno);
  }
}

void OutputFile::close() {
  if (fd_ < 0) {
    return;
  }
  flush();
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) {
    throw_system_error("cannot close " + quoted(path_), errno);
  }
}

InputFile::InputFile(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    throw_errno("cannot open " + quoted(path), errno);
  }
}

InputFile::InputFile(InputFile&& other) noexcept : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

InputFile::~InputFile() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::size_t InputFile::read_at(void* out, std::size_t size, std::uint64_t offset) const {
  auto* bytes = static_cast<std::byte*>(out);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd_, bytes + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_system_error("cannot read " + quoted(path_), errno);
    }
    if (n == 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::uint64_t InputFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    throw_system_error("cannot inspect " + quoted(path_), errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

SequentialReader::SequentialReader(const InputFile& file, std::uint64_t offset, std::size_t buffer_bytes)
    : file_(&file), buffer_(buffer_bytes), file_pos_(offset), offset_(offset) {}

std::size_t SequentialReader::read(void* out, std::size_t size) {
  auto* bytes = static_cast<std::byte*>(out);
  std::size_t done = 0;
  while (done < size) {
    if (begin_ == end_) {
      const std::size_t want = size - done;
      if (want >= buffer_.size()) {  // large reads bypass the buffer
        const std::size_t n = file_->read_at(bytes + done, want, file_pos_);
        file_pos_ += n;
        done += n;
        break;
      }
      begin_ = 0;
      end_ = file_->read_at(buffer_.data(), buffer_.size(), file_pos_);
      file_pos_ += end_;
      if (end_ == 0) {
        break;
      }
    }
    const std::size_t n = std::min(size - done, end_ - begin_);
    std::memcpy(bytes + done, buffer_.data() + begin_, n);
    begin_ += n;
    done += n;
  }
  offset_ += done;
  return done;
}

void SequentialReader::seek(std::uint64_t offset) noexcept {
  const std::uint64_t buffer_start = file_pos_ - end_;
  if (offset >= buffer_start && offset <= file_pos_) {
    begin_ = static_cast<std::size_t>(offset - buffer_start);
  } else {
    begin_ = end_ = 0;
    file_pos_ = offset;
  }
  offset_ = offset;
}

void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw_errno("cannot open directory '" + dir.string() + "'", errno);
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) {
    throw_system_error("cannot sync directory '" + dir.string() + "'", err);
  }
}

}  // namespace shmkit::detail
