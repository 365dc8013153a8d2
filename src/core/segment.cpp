#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>
#include <shmkit/core/segment.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

namespace shmkit {

std::string_view to_string(SegmentKind kind) noexcept {
  switch (kind) {
    case SegmentKind::array:
      return "array";
    case SegmentKind::logger:
      return "logger";
    case SegmentKind::channel:
      return "channel";
  }
  return "unknown";
}

void stamp(SegmentTag& tag, SegmentKind kind, std::uint32_t layout_version) noexcept {
  const ProcessIdentity self = current_process();
  tag.magic.store(0, std::memory_order_relaxed);
  tag.kind = static_cast<std::uint32_t>(kind);
  tag.layout_version = layout_version;
  tag.creator_pid = self.pid;
  tag.creator_uid = ::getuid();
  tag.creator_start_ticks = self.start_ticks;
  tag.created_unix_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void publish(SegmentTag& tag) noexcept {
  tag.magic.store(kSegmentMagic, std::memory_order_release);
}

ProcessIdentity creator_of(const SegmentTag& tag) noexcept {
  return {static_cast<pid_t>(tag.creator_pid), tag.creator_start_ticks};
}

namespace detail {

namespace {

std::string shm_path(std::string_view name) {
  return "/" + std::string(name);
}

std::string describe(std::string_view what, std::string_view name) {
  return std::string(what) + " '" + std::string(name) + "'";
}

std::byte* map_all(int fd, std::size_t size, const std::string& object) {
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    throw_system_error("cannot map " + object, err);
  }
  return static_cast<std::byte*>(addr);
}

}  // namespace

std::size_t page_size() noexcept {
  static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

SharedSegment SharedSegment::create(std::string_view name, std::size_t size, mode_t mode, std::string_view what) {
  validate_name(name, what);
  const std::string object = describe(what, name);
  const std::string path = shm_path(name);
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      throw ExistsError("cannot create " + object +
                            ": a segment with that name already exists (open it instead, remove it first, "
                            "or pick another name)",
                        std::error_code(err, std::generic_category()));
    }
    throw_errno("cannot create " + object, err);
  }
  // From here on a failure must not leave a half-made name behind.
  auto fail = [&](const std::string& message, int err) {
    ::close(fd);
    ::shm_unlink(path.c_str());
    throw_system_error(message, err);
  };
  if (::fchmod(fd, mode) != 0) {  // shm_open applies the umask; the caller asked for `mode` exactly
    fail("cannot set the permissions of " + object, errno);
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    fail("cannot size " + object + " to " + std::to_string(size) + " bytes", errno);
  }
  if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0) {
    fail("cannot reserve " + std::to_string(size) + " bytes for " + object +
             " (free memory in /dev/shm or ask for a smaller array)",
         err);
  }
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    fail("cannot map " + object, errno);
  }
  return {std::string(name), fd, static_cast<std::byte*>(addr), size};
}

SharedSegment SharedSegment::open(std::string_view name, std::string_view what) {
  validate_name(name, what);
  const std::string object = describe(what, name);
  const int fd = ::shm_open(shm_path(name).c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      throw NotFoundError("cannot open " + object + ": no such segment in /dev/shm (create it first)",
                          std::error_code(err, std::generic_category()));
    }
    throw_errno("cannot open " + object, err);
  }
  // A creator sizes its segment right after shm_open; an open that lands in
  // between sees 0 bytes. Give such a creator a bounded moment (the callers
  // then wait for the creator to publish its magic the same way).
  struct stat st {};
  for (int attempt = 0;; ++attempt) {
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw_system_error("cannot inspect " + object, err);
    }
    if (st.st_size != 0 || attempt == 1000) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    throw LayoutError("cannot open " + object + ": the segment is empty (0 bytes), so it is not a shmkit " +
                      std::string(what) + " or its creator has not finished creating it");
  }
  return {std::string(name), fd, map_all(fd, size, object), size};
}

SharedSegment SharedSegment::duplicate() const {
  const int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    throw_system_error("cannot duplicate the descriptor of segment '" + name_ + "'", errno);
  }
  return {name_, fd, map_all(fd, size_, "segment '" + name_ + "'"), size_};
}

bool SharedSegment::unlink(std::string_view name, std::string_view what) {
  validate_name(name, what);
  if (::shm_unlink(shm_path(name).c_str()) == 0) {
    return true;
  }
  const int err = errno;
  if (err == ENOENT) {
    return false;
  }
  throw_errno("cannot remove " + describe(what, name), err);
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : name_(std::move(other.name_)),
      fd_(std::exchange(other.fd_, -1)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    release();
    name_ = std::move(other.name_);
    fd_ = std::exchange(other.fd_, -1);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedSegment::~SharedSegment() {
  release();
}

void SharedSegment::release() noexcept {
  if (data_ != nullptr) {
    ::munmap(data_, size_);
    data_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace detail
}  // namespace shmkit
