#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>
#include <shmkit/core/segment_scan.hpp>

#include "core/detail/unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <memory>
#include <utility>

namespace shmkit {

namespace {

using detail::UniqueFd;

// ---- small RAII helpers -----------------------------------------------------

struct DirCloser {
  void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};
using Dir = std::unique_ptr<DIR, DirCloser>;

template <class T>
T read_at(const std::vector<std::byte>& bytes, std::size_t offset) noexcept {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

std::string user_name(uid_t uid) {
  std::vector<char> buffer(1024);
  passwd entry{};
  passwd* found = nullptr;
  while (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == ERANGE && buffer.size() < 65536) {
    buffer.resize(buffer.size() * 2);
  }
  return found != nullptr ? std::string(found->pw_name) : std::to_string(uid);
}

// ---- reading one file -------------------------------------------------------

// Decodes the SegmentTag at the start of `trailer` field by field: the tag
// holds a std::atomic, so it is never memcpy'd as a whole.
void decode_tag(SegmentInfo& info) {
  const auto& bytes = info.trailer;
  if (read_at<std::uint64_t>(bytes, offsetof(SegmentTag, magic)) != kSegmentMagic) {
    info.trailer.clear();
    return;
  }
  info.is_shmkit = true;
  info.kind = read_at<std::uint32_t>(bytes, offsetof(SegmentTag, kind));
  info.layout_version = read_at<std::uint32_t>(bytes, offsetof(SegmentTag, layout_version));
  info.creator.pid = read_at<std::int32_t>(bytes, offsetof(SegmentTag, creator_pid));
  info.creator.start_ticks = read_at<std::uint64_t>(bytes, offsetof(SegmentTag, creator_start_ticks));
  info.creator_uid = read_at<std::uint32_t>(bytes, offsetof(SegmentTag, creator_uid));
  info.created_unix_ns = read_at<std::int64_t>(bytes, offsetof(SegmentTag, created_unix_ns));
  info.creator_alive = is_alive(info.creator);
}

void mark_unreadable(SegmentInfo& info, int err) {
  info.readable = false;
  info.unreadable_reason = std::strerror(err);
}

// Describes `name` inside the open directory `dir_fd`; nullopt when it is not
// (or no longer) a regular file.
std::optional<SegmentInfo> describe(int dir_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  SegmentInfo info;
  info.name = name;
  info.size_bytes = static_cast<std::uint64_t>(st.st_size);
  info.owner_uid = st.st_uid;
  info.owner_name = user_name(st.st_uid);
  info.mode = st.st_mode & 07777;
  if (info.size_bytes < kTrailerBytes) {
    return info;  // too small to carry a trailer, so not ours; no need to open it
  }

  // O_NOATIME keeps `ls` from touching the files it lists, but only the owner
  // (or root) may ask for it; others fall back to a plain read-only open.
  // O_NONBLOCK guards against a FIFO swapped in after the fstatat above.
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  int raw = ::openat(dir_fd, name.c_str(), kFlags | O_NOATIME);
  if (raw < 0 && errno == EPERM) {
    raw = ::openat(dir_fd, name.c_str(), kFlags);
  }
  if (raw < 0) {
    if (errno == ENOENT || errno == ELOOP) {
      return std::nullopt;
    }
    mark_unreadable(info, errno);
    return info;
  }
  const UniqueFd fd(raw);
  // Re-check through the descriptor: the name may have been replaced since.
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  info.size_bytes = static_cast<std::uint64_t>(st.st_size);
  if (info.size_bytes < kTrailerBytes) {
    return info;
  }
  info.trailer.resize(kTrailerBytes);
  const auto offset = static_cast<off_t>(info.size_bytes - kTrailerBytes);
  std::size_t done = 0;
  while (done < kTrailerBytes) {
    const ssize_t n =
        ::pread(fd.get(), info.trailer.data() + done, kTrailerBytes - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {  // error, or truncated by its owner while we read
      info.trailer.clear();
      mark_unreadable(info, n < 0 ? errno : EIO);
      return info;
    }
    done += static_cast<std::size_t>(n);
  }
  decode_tag(info);
  return info;
}

bool wanted(const SegmentInfo& info, const ScanOptions& options) {
  if (options.include_foreign || info.is_shmkit) {
    return true;
  }
  // An unreadable file large enough to hold a trailer may be another user's
  // segment, so it is shown rather than silently dropped.
  return !info.readable && info.size_bytes >= kTrailerBytes;
}

UniqueFd open_directory(const std::filesystem::path& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    detail::throw_errno("cannot read the shared-memory directory '" + directory.string() + "'", errno);
  }
  return fd;
}

// ---- who has a file open or mapped ------------------------------------------

struct FileId {
  dev_t dev;
  ino_t ino;
  friend bool operator==(const FileId&, const FileId&) = default;
};

bool is_number(const char* text) {
  if (*text == '\0') {
    return false;
  }
  for (; *text != '\0'; ++text) {
    if (*text < '0' || *text > '9') {
      return false;
    }
  }
  return true;
}

// Kernel threads and zombies have an empty command line and no address space
// or descriptors, so they can neither use a segment nor count as unknown.
bool has_user_space(const std::string& proc_dir) {
  std::ifstream in(proc_dir + "/cmdline", std::ios::binary);
  return in && in.peek() != std::ifstream::traits_type::eof();
}

// Sets hit[i] for each target the process has open. False if the descriptor
// table could not be read (another user's process).
bool scan_fds(const std::string& proc_dir, const std::vector<std::string>& names, const std::vector<FileId>& ids,
              std::vector<bool>& hit) {
  Dir dir(::opendir((proc_dir + "/fd").c_str()));
  if (!dir) {
    return errno == ENOENT;  // exited meanwhile: nothing open, nothing unknown
  }
  const int dir_fd = ::dirfd(dir.get());
  char target[4096];
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    const ssize_t n = ::readlinkat(dir_fd, entry->d_name, target, sizeof target - 1);
    if (n <= 0) {
      continue;
    }
    const std::string_view link(target, static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < names.size(); ++i) {
      // The link text filters cheaply; the inode decides, so a process in
      // another mount namespace (other path, same file) still counts and an
      // unlinked file of the same name does not.
      if (!hit[i] && link.ends_with("/" + names[i])) {
        struct stat st {};
        if (::fstatat(dir_fd, entry->d_name, &st, 0) == 0 && FileId{st.st_dev, st.st_ino} == ids[i]) {
          hit[i] = true;
        }
      }
    }
  }
  return true;
}

// Parses "addr perms offset MAJ:MIN inode [path]" from a /proc/<pid>/maps line.
std::optional<FileId> mapped_file(std::string_view line) {
  std::size_t pos = 0;
  auto next_field = [&]() -> std::string_view {
    while (pos < line.size() && line[pos] == ' ') {
      ++pos;
    }
    const std::size_t start = pos;
    while (pos < line.size() && line[pos] != ' ') {
      ++pos;
    }
    return line.substr(start, pos - start);
  };
  next_field();  // address range
  next_field();  // permissions
  next_field();  // offset
  const std::string_view device = next_field();
  const std::string_view inode = next_field();
  const auto colon = device.find(':');
  unsigned major_number = 0;
  unsigned minor_number = 0;
  std::uint64_t inode_number = 0;
  if (colon == std::string_view::npos ||
      std::from_chars(device.data(), device.data() + colon, major_number, 16).ec != std::errc{} ||
      std::from_chars(device.data() + colon + 1, device.data() + device.size(), minor_number, 16).ec != std::errc{} ||
      std::from_chars(inode.data(), inode.data() + inode.size(), inode_number).ec != std::errc{} || inode_number == 0) {
    return std::nullopt;
  }
  return FileId{makedev(major_number, minor_number), static_cast<ino_t>(inode_number)};
}

bool scan_maps(const std::string& proc_dir, const std::vector<FileId>& ids, std::vector<bool>& hit) {
  std::ifstream in(proc_dir + "/maps");
  if (!in) {
    return errno == ENOENT;
  }
  std::string line;
  while (std::getline(in, line)) {
    const auto file = mapped_file(line);
    if (!file) {
      continue;
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == *file) {
        hit[i] = true;
      }
    }
  }
  return true;
}

}  // namespace

std::vector<SegmentInfo> list_segments(const ScanOptions& options) {
  const UniqueFd dir_fd = open_directory(options.directory);
  // opendir on a dup lets fdopendir own its descriptor while ours stays for *at().
  Dir dir(::fdopendir(::fcntl(dir_fd.get(), F_DUPFD_CLOEXEC, 0)));
  if (!dir) {
    detail::throw_errno("cannot list the shared-memory directory '" + options.directory.string() + "'", errno);
  }
  std::vector<SegmentInfo> segments;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    if (auto info = describe(dir_fd.get(), name); info && wanted(*info, options)) {
      segments.push_back(std::move(*info));
    }
  }
  std::sort(segments.begin(), segments.end(),
            [](const SegmentInfo& a, const SegmentInfo& b) { return a.name < b.name; });
  return segments;
}

std::optional<SegmentInfo> inspect_segment(std::string_view name, const std::filesystem::path& directory) {
  validate_name(name, "segment");
  const UniqueFd dir_fd = open_directory(directory);
  return describe(dir_fd.get(), std::string(name));
}

std::vector<SegmentUsers> segment_users(const std::vector<std::string>& names) {
  std::vector<SegmentUsers> users(names.size());
  std::vector<FileId> ids(names.size());
  std::vector<bool> exists(names.size(), false);
  for (std::size_t i = 0; i < names.size(); ++i) {
    validate_name(names[i], "segment");
    struct stat st {};
    const std::string path = std::string(kShmDirectory) + "/" + names[i];
    if (::stat(path.c_str(), &st) == 0) {
      ids[i] = {st.st_dev, st.st_ino};
      exists[i] = true;
    }
  }
  if (std::none_of(exists.begin(), exists.end(), [](bool e) { return e; })) {
    return users;
  }
  Dir proc(::opendir("/proc"));
  if (!proc) {
    detail::throw_errno("cannot read /proc to find the users of shared segments", errno);
  }
  const pid_t self = ::getpid();
  while (const dirent* entry = ::readdir(proc.get())) {
    if (!is_number(entry->d_name)) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10));
    if (pid == self) {
      continue;
    }
    const std::string proc_dir = std::string("/proc/") + entry->d_name;
    if (!has_user_space(proc_dir)) {
      continue;
    }
    std::vector<bool> hit(names.size(), false);
    const bool inspected = scan_fds(proc_dir, names, ids, hit) && scan_maps(proc_dir, ids, hit);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!exists[i]) {
        continue;
      }
      if (hit[i]) {
        users[i].pids.push_back(pid);
      } else if (!inspected) {
        ++users[i].uninspectable;
      }
    }
  }
  for (auto& entry : users) {
    std::sort(entry.pids.begin(), entry.pids.end());
  }
  return users;
}

SegmentUsers segment_users(std::string_view name) {
  return segment_users(std::vector<std::string>{std::string(name)}).front();
}

bool segment_in_use(std::string_view name) {
  return !segment_users(name).pids.empty();
}

}  // namespace shmkit
