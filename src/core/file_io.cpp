// Whole-buffer descriptor I/O and the atomic replacement of a file.

#include "core/detail/file_io.hpp"

#include "core/detail/unique_fd.hpp"

#include <shmkit/core/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace shmkit::detail {

namespace {

// One loop for the four transfers: `step` moves at most `left` bytes at
// `done` and returns what read()/write() would.
template <class Step>
int transfer_all(std::size_t size, bool is_read, Step step) noexcept {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = step(done, size - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      // write() of a non-zero count returning 0 is not an error POSIX
      // names; treat it like a full device rather than spin on it.
      return is_read ? ENODATA : ENOSPC;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

std::string quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

}  // namespace

int write_all(int fd, const void* data, std::size_t size) noexcept {
  const auto* bytes = static_cast<const char*>(data);
  return transfer_all(size, false, [&](std::size_t done, std::size_t left) { return ::write(fd, bytes + done, left); });
}

int pwrite_all(int fd, const void* data, std::size_t size, off_t offset) noexcept {
  const auto* bytes = static_cast<const char*>(data);
  return transfer_all(size, false, [&](std::size_t done, std::size_t left) {
    return ::pwrite(fd, bytes + done, left, offset + static_cast<off_t>(done));
  });
}

int read_all(int fd, void* data, std::size_t size) noexcept {
  auto* bytes = static_cast<char*>(data);
  return transfer_all(size, true, [&](std::size_t done, std::size_t left) { return ::read(fd, bytes + done, left); });
}

int pread_all(int fd, void* data, std::size_t size, off_t offset) noexcept {
  auto* bytes = static_cast<char*>(data);
  return transfer_all(size, true, [&](std::size_t done, std::size_t left) {
    return ::pread(fd, bytes + done, left, offset + static_cast<off_t>(done));
  });
}

namespace {

// Removes the temporary file unless the save got as far as the rename.
class TempFile {
 public:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!path_.empty()) {
      ::unlink(path_.c_str());
    }
  }
  void release() noexcept { path_.clear(); }

 private:
  std::filesystem::path path_;
};

}  // namespace

void atomic_write_file(const std::filesystem::path& requested, std::string_view contents, std::string_view what) {
  const std::string object = std::string(what) + " ";
  const auto fail = [&](const std::filesystem::path& path, const std::string& step, int err) {
    throw_errno("cannot save " + object + quoted(path) + ": " + step, err, "the previous file, if any, is unchanged");
  };

  std::error_code ec;
  // Replace the file a symbolic link points to, not the link. A path that
  // does not exist yet is simply a new file (libstdc++ reports not_found
  // with ENOENT in `ec`, which is no failure here).
  const bool is_link = std::filesystem::symlink_status(requested, ec).type() == std::filesystem::file_type::symlink;
  ec.clear();
  const std::filesystem::path path = is_link ? std::filesystem::weakly_canonical(requested, ec) : requested;
  if (ec) {
    fail(requested, "cannot follow the symbolic link", ec.value());
  }
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    fail(path, "cannot create directory " + quoted(directory), ec.value());
  }

  // The temporary name is hidden, unique to this process and call, and in
  // the same directory so that rename() is atomic (same file system).
  static std::atomic<std::uint64_t> counter{0};
  UniqueFd file;
  std::filesystem::path temp_path;
  for (int attempt = 0; !file; ++attempt) {
    temp_path = directory / ("." + path.filename().string() + "." + std::to_string(::getpid()) + "-" +
                             std::to_string(counter.fetch_add(1)) + ".tmp");
    // 0666 minus the umask, as any new file; O_EXCL never reuses a name.
    file.reset(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (!file && (errno != EEXIST || attempt > 100)) {
      fail(path, "cannot create a temporary file in " + quoted(directory), errno);
    }
  }
  TempFile temp(temp_path);

  struct stat old {};
  if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode)) {
    if (::fchmod(file.get(), old.st_mode & 07777) != 0) {
      fail(path, "cannot copy the old file's permissions", errno);
    }
  }
  if (const int err = write_all(file.get(), contents.data(), contents.size()); err != 0) {
    fail(path, "writing " + quoted(temp_path) + " failed", err);
  }
  if (::fsync(file.get()) != 0) {
    fail(path, "fsync of " + quoted(temp_path) + " failed", errno);
  }
  if (const int err = file.close(); err != 0) {
    fail(path, "closing " + quoted(temp_path) + " failed", err);
  }
  if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    fail(path, "renaming " + quoted(temp_path) + " over it failed", errno);
  }
  temp.release();

  // Make the rename itself durable. Some file systems cannot fsync a
  // directory (EINVAL); the file is in place regardless.
  const UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    throw_errno("saved " + object + quoted(path) + " but cannot open its directory to flush it", errno);
  }
  if (::fsync(dir.get()) != 0 && errno != EINVAL) {
    throw_errno("saved " + object + quoted(path) + " but flushing its directory failed", errno);
  }
}

}  // namespace shmkit::detail
