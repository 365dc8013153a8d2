// Reading a config file whole, and replacing one atomically.

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace shmkit::detail {

namespace {

// Closes on scope exit; close errors on this path are not actionable.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  // Closes now and reports close()'s errno (0 on success): on some file
  // systems (NFS) a failed write only shows up here.
  int close() noexcept {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

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
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  void release() noexcept { path_.clear(); }

 private:
  std::filesystem::path path_;
};

std::string quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

[[noreturn]] void fail_save(const std::filesystem::path& path, const std::string& step, int err) {
  throw_errno("cannot save configuration file " + quoted(path) + ": " + step, err,
              "the previous file, if any, is unchanged");
}

}  // namespace

void check_yaml_extension(const std::filesystem::path& path, std::string_view action) {
  const std::filesystem::path extension = path.extension();
  if (extension != ".yaml" && extension != ".yml") {
    const std::string file = path.string();
    throw ConfigError("cannot " + std::string(action) + " configuration file " + quoted(path) +
                          ": the file name must end in .yaml or .yml",
                      "", file, 0, 0);
  }
}

std::string read_config_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw_errno("cannot read configuration file " + quoted(path), errno);
  }
  Fd file(fd);
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(file.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("cannot read configuration file " + quoted(path), errno);
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

void write_file_atomically(const std::filesystem::path& requested, std::string_view contents) {
  std::error_code ec;
  // Replace the file a symbolic link points to, not the link. A path that
  // does not exist yet is simply a new file (libstdc++ reports not_found
  // with ENOENT in `ec`, which is no failure here).
  const bool is_link = std::filesystem::symlink_status(requested, ec).type() == std::filesystem::file_type::symlink;
  ec.clear();
  const std::filesystem::path path = is_link ? std::filesystem::weakly_canonical(requested, ec) : requested;
  if (ec) {
    fail_save(requested, "cannot follow the symbolic link", ec.value());
  }
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    fail_save(path, "cannot create directory " + quoted(directory), ec.value());
  }

  // The temporary name is hidden, unique to this process and call, and in
  // the same directory so that rename() is atomic (same file system).
  static std::atomic<std::uint64_t> counter{0};
  int fd = -1;
  std::filesystem::path temp_path;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp_path = directory / ("." + path.filename().string() + "." + std::to_string(::getpid()) + "-" +
                             std::to_string(counter.fetch_add(1)) + ".tmp");
    // 0666 minus the umask, as any new file; O_EXCL never reuses a name.
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt > 100)) {
      fail_save(path, "cannot create a temporary file in " + quoted(directory), errno);
    }
  }
  Fd file(fd);
  TempFile temp(temp_path);

  struct stat old {};
  if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode)) {
    if (::fchmod(file.get(), old.st_mode & 07777) != 0) {
      fail_save(path, "cannot copy the old file's permissions", errno);
    }
  }

  const char* data = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(file.get(), data, left);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail_save(path, "writing " + quoted(temp_path) + " failed", errno);
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(file.get()) != 0) {
    fail_save(path, "fsync of " + quoted(temp_path) + " failed", errno);
  }
  if (const int err = file.close(); err != 0) {
    fail_save(path, "closing " + quoted(temp_path) + " failed", err);
  }
  if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    fail_save(path, "renaming " + quoted(temp_path) + " over it failed", errno);
  }
  temp.release();

  // Make the rename itself durable. Some file systems cannot fsync a
  // directory (EINVAL); the file is in place regardless.
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    throw_errno("saved configuration file " + quoted(path) + " but cannot open its directory to flush it", errno);
  }
  Fd dir(dir_fd);
  if (::fsync(dir.get()) != 0 && errno != EINVAL) {
    throw_errno("saved configuration file " + quoted(path) + " but flushing its directory failed", errno);
  }
}

}  // namespace shmkit::detail
