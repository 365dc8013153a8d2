#pragma once
// Plain-file helpers for the logger: a buffered appender and a positioned
// reader. Both throw shmkit::Error naming the file on any system failure.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace shmkit::detail {

/// Buffered writer on a file descriptor. Writes larger than the buffer go
/// straight to the file. `offset()` counts every byte handed to it.
class OutputFile {
 public:
  enum class Mode { truncate, exclusive, append };

  OutputFile() = default;
  /// @throws Error (ENOENT -> NotFoundError, EEXIST -> ExistsError)
  OutputFile(const std::filesystem::path& path, Mode mode, std::size_t buffer_bytes = std::size_t{1} << 20);
  /// Writes to an anonymous temporary file in `dir` (O_TMPFILE).
  static OutputFile temporary(const std::filesystem::path& dir, std::size_t buffer_bytes = std::size_t{1} << 20);
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&& other) noexcept;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();  // closes without flushing: call flush()/close() to keep buffered bytes

  void write(const void* data, std::size_t size);
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }
  void flush();
  void sync();   // flush + fdatasync
  void close();  // flush + close
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  [[nodiscard]] std::size_t buffered() const noexcept { return used_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void write_all(const std::byte* data, std::size_t size);

  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<std::byte> buffer_;
  std::size_t used_ = 0;
  std::uint64_t offset_ = 0;
};

/// Read-only file with positioned reads.
class InputFile {
 public:
  InputFile() = default;
  /// @throws NotFoundError, Error
  explicit InputFile(const std::filesystem::path& path);
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  /// Reads up to `size` bytes at `offset`; fewer only at end of file.
  std::size_t read_at(void* out, std::size_t size, std::uint64_t offset) const;
  [[nodiscard]] std::uint64_t size() const;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

/// Sequential buffered reads over an InputFile, starting at an offset.
class SequentialReader {
 public:
  explicit SequentialReader(const InputFile& file, std::uint64_t offset = 0,
                            std::size_t buffer_bytes = std::size_t{256} << 10);
  /// Reads up to `size` bytes; returns fewer only at end of file.
  std::size_t read(void* out, std::size_t size);
  /// Moves to `offset` (keeps buffered bytes when they cover it).
  void seek(std::uint64_t offset) noexcept;
  /// Offset of the next byte read() returns.
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }

 private:
  const InputFile* file_;
  std::vector<std::byte> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t file_pos_;  // file offset of buffer_[end_]
  std::uint64_t offset_;
};

/// fsync of a directory, so a rename or a new file in it survives a crash.
void sync_directory(const std::filesystem::path& dir);

}  // namespace shmkit::detail
