#pragma once
/// @file
/// Read-only inspection of /dev/shm: which files are shmkit segments, who
/// created them, whether the creator still runs, and which processes have a
/// segment open or mapped. `shmkit ls` and `shmkit gc` are built on this.
///
/// Nothing here modifies a segment: files are opened O_RDONLY, read with
/// pread, never mapped. Kind-specific trailer contents (an array's dtype and
/// shape) are left as raw bytes for the module that owns the layout, because
/// core must not depend on the modules built on it.
///
/// Caveats:
/// - The scan is a snapshot. A segment may be created, removed or opened by
///   another process right after it is reported.
/// - Process inspection reads /proc/<pid>/fd and /proc/<pid>/maps. A
///   non-root caller cannot read those of other users' processes; such
///   processes are counted in `SegmentUsers::uninspectable` and otherwise
///   invisible. A 0600 segment can only be opened by its owner (or root), so
///   for those the answer is complete when run as the owner.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <shmkit/core/process.hpp>
#include <shmkit/core/segment.hpp>

namespace shmkit {

/// Where POSIX shared-memory names live on Linux.
inline constexpr std::string_view kShmDirectory = "/dev/shm";

/// What a scan learned about one regular file in the shared-memory directory.
///
/// `name`, `size_bytes`, `owner_uid`, `owner_name` and `mode` come from
/// stat() and are always set. The rest is only meaningful when `is_shmkit`.
struct SegmentInfo {
  std::string name;              ///< file name, i.e. the shm name without '/'
  std::uint64_t size_bytes = 0;  ///< file size
  uid_t owner_uid = 0;           ///< file owner
  std::string owner_name;        ///< user name of owner_uid, or the number if unknown
  mode_t mode = 0;               ///< permission bits (07777 mask)

  /// False when the file could not be opened or read (`unreadable_reason`
  /// says why, e.g. "Permission denied"); whether it is a shmkit segment is
  /// then unknown.
  bool readable = true;
  std::string unreadable_reason;

  /// True when the trailer carries kSegmentMagic. A segment whose creator is
  /// still initialising it (or died doing so) has no magic yet and is not
  /// reported as shmkit.
  bool is_shmkit = false;
  std::uint32_t kind = 0;            ///< raw SegmentTag::kind (see SegmentKind)
  std::uint32_t layout_version = 0;  ///< SegmentTag::layout_version
  ProcessIdentity creator;           ///< SegmentTag creator pid + start ticks
  std::uint32_t creator_uid = 0;     ///< SegmentTag::creator_uid
  bool creator_alive = false;        ///< is_alive(creator) at scan time
  std::int64_t created_unix_ns = 0;  ///< SegmentTag::created_unix_ns

  /// The last kTrailerBytes of the file (empty unless `is_shmkit`), for
  /// kind-specific decoding (an array's ArrayTrailer starts at byte 0).
  std::vector<std::byte> trailer;

  /// The kind as an enum value; meaningful only when `is_shmkit`.
  [[nodiscard]] SegmentKind segment_kind() const noexcept { return static_cast<SegmentKind>(kind); }
};

/// What `list_segments` reports.
struct ScanOptions {
  /// Also report regular files that are not shmkit segments (`is_shmkit`
  /// false) and unreadable files. By default only shmkit segments and
  /// unreadable files large enough to be one are reported.
  bool include_foreign = false;
  /// The directory to scan; tests may point it elsewhere.
  std::filesystem::path directory = std::string(kShmDirectory);
};

/// Scans the shared-memory directory and describes every regular file in it
/// (subject to `options`), sorted by name. Symlinks, directories and other
/// special files are skipped.
///
/// Read-only: each file is opened O_RDONLY|O_NOFOLLOW and its last
/// kTrailerBytes are read with pread. A file that vanishes during the scan is
/// left out; one that cannot be read is reported with `readable == false`.
///
/// @throws Error if the directory itself cannot be read
[[nodiscard]] std::vector<SegmentInfo> list_segments(const ScanOptions& options = {});

/// Describes one file of the shared-memory directory, as `list_segments`
/// would (with include_foreign). Returns nullopt if there is no such regular
/// file.
/// @throws NameError if `name` is not a valid shmkit name
[[nodiscard]] std::optional<SegmentInfo> inspect_segment(std::string_view name,
                                                         const std::filesystem::path& directory = kShmDirectory);

/// Processes that have one /dev/shm file open or mapped.
struct SegmentUsers {
  /// Processes (other than the caller) holding a descriptor to the file or
  /// mapping it, ascending, each listed once.
  std::vector<pid_t> pids;
  /// Processes whose /proc entries the caller could not read (other users'
  /// processes, unless the caller is root). They may be users too.
  std::size_t uninspectable = 0;
};

/// Scans /proc/<pid>/fd and /proc/<pid>/maps of every process except the
/// caller for `/dev/shm/<name>`. Cost: one pass over every process's
/// descriptors and mappings.
/// @throws NameError if `name` is not a valid shmkit name
[[nodiscard]] SegmentUsers segment_users(std::string_view name);

/// As `segment_users`, for many names in one pass over /proc. The result
/// has one entry per name, in the same order.
/// @throws NameError if a name is not a valid shmkit name
[[nodiscard]] std::vector<SegmentUsers> segment_users(const std::vector<std::string>& names);

/// True if any process other than the caller has `/dev/shm/<name>` open or
/// mapped (among the processes the caller can inspect; see SegmentUsers).
/// @throws NameError if `name` is not a valid shmkit name
[[nodiscard]] bool segment_in_use(std::string_view name);

}  // namespace shmkit
