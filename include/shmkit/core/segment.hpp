#pragma once
/// @file
/// Named POSIX shared-memory segments (/dev/shm/<name>) and the tag every
/// shmkit segment carries in its last 4 KiB.

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <shmkit/core/process.hpp>

namespace shmkit {

/// Default permission of every segment: owner read/write only.
inline constexpr mode_t kDefaultMode = 0600;

/// Every shmkit segment ends with a trailer of this many bytes whose first
/// bytes are a SegmentTag. Keeping the tag at a fixed distance from the end
/// lets `shmkit ls` (and Python) identify a segment without knowing its kind.
inline constexpr std::size_t kTrailerBytes = 4096;

/// "SHMKIT" followed by two zero bytes, read as a little-endian uint64.
inline constexpr std::uint64_t kSegmentMagic = 0x00005449'4b4d4853ULL;

/// What a segment holds.
enum class SegmentKind : std::uint32_t { array = 1, logger = 2, channel = 3 };

/// The identity block at the start of every segment's trailer.
///
/// `magic` is written last, with release ordering, once the creator has
/// initialised the whole segment; a reader that sees the magic (acquire)
/// sees a complete segment.
struct SegmentTag {
  std::atomic<std::uint64_t> magic;
  std::uint32_t kind;
  std::uint32_t layout_version;
  std::int32_t creator_pid;
  std::uint32_t creator_uid;
  std::uint64_t creator_start_ticks;
  std::int64_t created_unix_ns;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the segment magic must be lock-free");
static_assert(std::is_standard_layout_v<SegmentTag>, "SegmentTag lives in shared memory");
static_assert(sizeof(SegmentTag) == 40, "SegmentTag's layout is read by Python and shmkit ls");

/// Human-readable name of a kind ("array", "logger", "channel", "unknown").
[[nodiscard]] std::string_view to_string(SegmentKind kind) noexcept;

/// Fills a tag for a segment created by the calling process; the magic stays
/// zero until `publish` is called.
void stamp(SegmentTag& tag, SegmentKind kind, std::uint32_t layout_version) noexcept;

/// Marks the segment fully initialised (release store of the magic).
void publish(SegmentTag& tag) noexcept;

/// The creator recorded in a tag.
[[nodiscard]] ProcessIdentity creator_of(const SegmentTag& tag) noexcept;

namespace detail {

/// Owns one mapping of a named POSIX shared-memory object.
///
/// Move-only. The destructor unmaps and closes; it never unlinks the name
/// (segments outlive their handles, as files do).
class SharedSegment {
 public:
  /// Creates `/dev/shm/<name>` exclusively with `size` bytes reserved
  /// (posix_fallocate, so a lack of memory fails here instead of as a SIGBUS
  /// later) and exactly `mode` (the umask does not apply).
  /// @param what  object kind for messages, e.g. "shared array"
  /// @throws NameError, ExistsError, Error (no room, permission)
  static SharedSegment create(std::string_view name, std::size_t size, mode_t mode, std::string_view what);

  /// Opens an existing segment read-write and maps all of it.
  /// @throws NameError, NotFoundError, Error (permission)
  static SharedSegment open(std::string_view name, std::string_view what);

  /// A second, independent mapping of the same object (dup'd descriptor),
  /// valid even if the name has since been unlinked or reused.
  [[nodiscard]] SharedSegment duplicate() const;

  /// Unlinks `/dev/shm/<name>`. Returns false if it did not exist.
  /// @throws NameError, Error (permission)
  static bool unlink(std::string_view name, std::string_view what);

  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  ~SharedSegment();

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  SharedSegment(std::string name, int fd, std::byte* data, std::size_t size) noexcept
      : name_(std::move(name)), fd_(fd), data_(data), size_(size) {}
  void release() noexcept;

  std::string name_;
  int fd_ = -1;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// System page size, cached.
[[nodiscard]] std::size_t page_size() noexcept;

/// `value` rounded up to a multiple of `alignment` (a power of two).
[[nodiscard]] constexpr std::size_t round_up(std::size_t value, std::size_t alignment) noexcept {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace detail
}  // namespace shmkit
