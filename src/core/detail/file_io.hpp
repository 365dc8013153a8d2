#pragma once
// Whole-buffer reads and writes on a descriptor, and the atomic replacement
// of a file. The descriptor helpers return 0 or an errno so that each caller
// words its own error (a pipe to a child, a record file, a config file);
// they retry EINTR and short transfers.

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace shmkit::detail {

/// Writes all `size` bytes; 0 or the errno of the failed write().
[[nodiscard]] int write_all(int fd, const void* data, std::size_t size) noexcept;

/// Writes all `size` bytes at `offset`; 0 or the errno of the failed pwrite().
[[nodiscard]] int pwrite_all(int fd, const void* data, std::size_t size, off_t offset) noexcept;

/// Reads exactly `size` bytes; 0, the errno of the failed read(), or
/// ENODATA when the end of the file (or pipe) comes first.
[[nodiscard]] int read_all(int fd, void* data, std::size_t size) noexcept;

/// Reads exactly `size` bytes at `offset`; as read_all().
[[nodiscard]] int pread_all(int fd, void* data, std::size_t size, off_t offset) noexcept;

/// Replaces `path` (the file a symbolic link points to, when it is one) by
/// `contents` so that a reader sees the old file or the new one, never a
/// mix, even across a crash: a hidden temporary in the same directory,
/// fsync, rename, fsync of the directory. The new file keeps the old one's
/// permission bits. `what` names the file in errors ("configuration file").
/// @throws Error naming `what` and the path; the old file is then unchanged.
void atomic_write_file(const std::filesystem::path& path, std::string_view contents, std::string_view what);

}  // namespace shmkit::detail
