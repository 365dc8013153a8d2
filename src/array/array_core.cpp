#include <shmkit/array/array_core.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <thread>
#include <utility>

namespace shmkit {

namespace detail {

namespace {

constexpr std::string_view kWhat = "shared array";

std::string quoted(std::string_view name) {
  return "shared array '" + std::string(name) + "'";
}

// Element count, or nullopt when product(shape) * item_size overflows.
std::optional<std::size_t> element_count(std::span<const std::size_t> shape, std::size_t item_size) {
  std::size_t count = 1;
  for (const std::size_t extent : shape) {
    if (__builtin_mul_overflow(count, extent, &count)) {
      return std::nullopt;
    }
  }
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, item_size, &bytes)) {
    return std::nullopt;
  }
  return count;
}

ArrayTrailer* trailer_of(const SharedSegment& segment) {
  // Placement-new is not used on open: the creator constructed the trailer;
  // other processes view the same bytes.
  return std::launder(reinterpret_cast<ArrayTrailer*>(segment.data() + segment.size() - kTrailerBytes));
}

bool same_object(int fd, std::string_view name) {
  struct stat ours {};
  struct stat named {};
  const std::string path = "/dev/shm/" + std::string(name);
  return ::fstat(fd, &ours) == 0 && ::stat(path.c_str(), &named) == 0 && ours.st_ino == named.st_ino &&
         ours.st_dev == named.st_dev;
}

}  // namespace

ArrayCore::ArrayCore(SharedSegment segment, bool unlink_on_close)
    : segment_(std::move(segment)), unlink_on_close_(unlink_on_close) {
  const std::string object = quoted(segment_.name());
  if (segment_.size() < kTrailerBytes) {
    throw LayoutError("cannot open " + object + ": the segment is " + std::to_string(segment_.size()) +
                      " bytes, too short to hold the " + std::to_string(kTrailerBytes) +
                      "-byte shmkit trailer; it was not created by shmkit");
  }
  // shmkit sizes every array segment in whole pages; any other size is
  // foreign, and its would-be trailer would be misaligned.
  if (segment_.size() % page_size() != 0) {
    throw LayoutError("cannot open " + object + ": the segment is " + std::to_string(segment_.size()) +
                      " bytes, not a whole number of pages, so it was not created by shmkit");
  }
  trailer_ = trailer_of(segment_);
  const ArrayTrailer& t = *trailer_;
  if (t.tag.magic.load(std::memory_order_acquire) != kSegmentMagic) {
    throw LayoutError("cannot open " + object +
                      ": bad magic, so it is not a shmkit segment (or its creator died while creating it; "
                      "remove it with 'shmkit array rm " +
                      segment_.name() + "')");
  }
  if (t.tag.kind != static_cast<std::uint32_t>(SegmentKind::array)) {
    throw LayoutError("cannot open " + object + ": it is a shmkit " +
                      std::string(to_string(static_cast<SegmentKind>(t.tag.kind))) + " segment, not an array");
  }
  if (t.tag.layout_version != kArrayLayoutVersion) {
    throw LayoutError("cannot open " + object + ": layout version " + std::to_string(t.tag.layout_version) +
                      ", but this shmkit reads version " + std::to_string(kArrayLayoutVersion) +
                      "; use the shmkit release that created it");
  }
  const std::string dtype_text(t.dtype, strnlen(t.dtype, sizeof t.dtype));
  try {
    dtype_ = parse_dtype(dtype_text);
  } catch (const Error&) {
    throw LayoutError("cannot open " + object + ": its trailer names an unknown dtype '" + dtype_text + "'");
  }
  if (t.item_size != dtype_size(dtype_) || t.ndim > kMaxDims) {
    throw LayoutError("cannot open " + object + ": its trailer is inconsistent (item size " +
                      std::to_string(t.item_size) + ", ndim " + std::to_string(t.ndim) + ")");
  }
  shape_.assign(t.shape, t.shape + t.ndim);
  const auto count = element_count(shape_, t.item_size);
  if (!count || *count * t.item_size != t.data_bytes || t.data_bytes > segment_.size() - kTrailerBytes) {
    throw LayoutError("cannot open " + object + ": shape " + shape_string(shape_) + " of " + dtype_text +
                      " does not fit the " + std::to_string(segment_.size()) + "-byte segment");
  }
  size_ = *count;
}

ArrayCore ArrayCore::create_new(std::string_view name, Dtype dtype, std::span<const std::size_t> shape, mode_t mode,
                                bool unlink_on_close, std::span<const std::byte> fill_element) {
  validate_name(name, kWhat);
  const std::size_t item_size = dtype_size(dtype);
  if (shape.size() > kMaxDims) {
    throw LayoutError("cannot create " + quoted(name) + ": " + std::to_string(shape.size()) +
                      " dimensions requested, at most " + std::to_string(kMaxDims) + " are supported");
  }
  const auto count = element_count(shape, item_size);
  if (!count || *count * item_size > (std::size_t{1} << 46)) {
    throw LayoutError("cannot create " + quoted(name) + ": shape " + shape_string(shape) + " is too large to address");
  }
  const std::size_t data_bytes = *count * item_size;
  const std::size_t trailer_region = round_up(kTrailerBytes, page_size());
  SharedSegment segment = SharedSegment::create(name, round_up(data_bytes, page_size()) + trailer_region, mode, kWhat);

  // posix_fallocate hands back zeroed pages, so a zero fill costs nothing.
  const bool zero_fill =
      std::all_of(fill_element.begin(), fill_element.end(), [](std::byte b) { return b == std::byte{0}; });
  if (!zero_fill) {
    for (std::size_t i = 0; i < *count; ++i) {
      std::memcpy(segment.data() + i * item_size, fill_element.data(), item_size);
    }
  }
  auto* t = new (segment.data() + segment.size() - kTrailerBytes) ArrayTrailer{};
  stamp(t->tag, SegmentKind::array, kArrayLayoutVersion);
  const std::string_view dtype_text = dtype_string(dtype);
  std::memcpy(t->dtype, dtype_text.data(), dtype_text.size());
  t->item_size = static_cast<std::uint32_t>(item_size);
  t->ndim = static_cast<std::uint32_t>(shape.size());
  t->data_bytes = data_bytes;
  std::copy(shape.begin(), shape.end(), t->shape);
  t->flags = unlink_on_close ? kUnlinkOnCreatorClose : 0;
  try {
    t->lock.init();
  } catch (...) {
    SharedSegment::unlink(name, kWhat);
    throw;
  }
  t->sequence.store(0, std::memory_order_relaxed);
  publish(t->tag);
  return ArrayCore(std::move(segment), unlink_on_close);
}

ArrayCore ArrayCore::create(std::string_view name, Dtype dtype, std::span<const std::size_t> shape, mode_t mode,
                            bool exist_ok, bool unlink_on_close, std::span<const std::byte> fill_element) {
  if (!exist_ok) {
    return create_new(name, dtype, shape, mode, unlink_on_close, fill_element);
  }
  // Another process may create or remove the same name between our attempts;
  // a few rounds settle any such race.
  for (int attempt = 0;; ++attempt) {
    try {
      return create_new(name, dtype, shape, mode, unlink_on_close, fill_element);
    } catch (const ExistsError&) {
    }
    try {
      ArrayCore existing = open(name);
      existing.expect(dtype, shape);
      return existing;
    } catch (const NotFoundError&) {
      if (attempt == 3) {
        throw;
      }
    }
  }
}

ArrayCore ArrayCore::open(std::string_view name) {
  SharedSegment segment = SharedSegment::open(name, kWhat);
  // A creator publishes the magic last; give one that is mid-creation a
  // moment instead of failing an open_or_create race.
  if (segment.size() >= kTrailerBytes && segment.size() % page_size() == 0) {
    const auto& tag = trailer_of(segment)->tag;
    for (int i = 0; i < 1000 && tag.magic.load(std::memory_order_acquire) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return ArrayCore(std::move(segment), false);
}

void ArrayCore::expect(Dtype dtype, std::optional<std::span<const std::size_t>> shape) const {
  if (dtype != dtype_) {
    throw LayoutError("cannot open " + quoted(name()) + " as " + std::string(dtype_string(dtype)) + ": it holds " +
                      std::string(dtype_string(dtype_)) + " elements (open it with the matching " +
                      "element type, or use DynamicArray)");
  }
  if (shape && !std::equal(shape->begin(), shape->end(), shape_.begin(), shape_.end())) {
    throw LayoutError("cannot open " + quoted(name()) + " with shape " + shape_string(*shape) + ": its shape is " +
                      shape_string(shape_));
  }
}

ArrayCore ArrayCore::duplicate() const {
  return ArrayCore(segment_.duplicate(), false);
}

ArrayCore::ArrayCore(ArrayCore&& other) noexcept
    : segment_(std::move(other.segment_)),
      trailer_(std::exchange(other.trailer_, nullptr)),
      dtype_(other.dtype_),
      shape_(std::move(other.shape_)),
      size_(std::exchange(other.size_, 0)),
      unlink_on_close_(std::exchange(other.unlink_on_close_, false)) {}

ArrayCore& ArrayCore::operator=(ArrayCore&& other) noexcept {
  if (this != &other) {
    release();
    segment_ = std::move(other.segment_);
    trailer_ = std::exchange(other.trailer_, nullptr);
    dtype_ = other.dtype_;
    shape_ = std::move(other.shape_);
    size_ = std::exchange(other.size_, 0);
    unlink_on_close_ = std::exchange(other.unlink_on_close_, false);
  }
  return *this;
}

ArrayCore::~ArrayCore() {
  release();
}

void ArrayCore::release() noexcept {
  if (unlink_on_close_ && trailer_ != nullptr) {
    try {
      destroy();
    } catch (...) {  // a destructor never throws; a name we cannot unlink is left for `shmkit gc`
    }
  }
  unlink_on_close_ = false;
}

ArrayInfo ArrayCore::info() const {
  const ArrayTrailer& t = *trailer_;
  return ArrayInfo{name(),
                   dtype_,
                   shape_,
                   nbytes(),
                   segment_.size(),
                   creator_of(t.tag),
                   t.tag.created_unix_ns,
                   (t.flags & kUnlinkOnCreatorClose) != 0};
}

bool ArrayCore::destroy() {
  // Unlink only if the name still refers to our segment: after a remove and
  // re-create by someone else, the name belongs to a different array.
  if (!same_object(segment_.fd(), name())) {
    return false;
  }
  return SharedSegment::unlink(name(), kWhat);
}

void ArrayCore::throw_index_error(const Index& index) const {
  if (index.ndim() != shape_.size()) {
    throw IndexError("index into " + quoted(name()) + " has " + std::to_string(index.ndim()) +
                     " coordinates, but the array has " + std::to_string(shape_.size()) + " dimensions " +
                     shape_string(shape_));
  }
  const auto dims = index.dims();
  for (std::size_t axis = 0; axis < shape_.size(); ++axis) {
    if (dims[axis] >= shape_[axis]) {
      throw IndexError("index " + std::to_string(dims[axis]) + " is out of range for axis " + std::to_string(axis) +
                       " of " + quoted(name()) + " with shape " + shape_string(shape_) +
                       (shape_[axis] == 0 ? " (the axis is empty: no index is valid)"
                                          : " (valid: 0.." + std::to_string(shape_[axis] - 1) + ")"));
    }
  }
  throw IndexError("index into " + quoted(name()) + " is out of range");
}

void ArrayCore::check_range(std::size_t first, std::size_t count) const {
  if (first > size_ || count > size_ - first) {
    throw IndexError("elements [" + std::to_string(first) + ", " + std::to_string(first + count) +
                     ") are out of range for " + quoted(name()) + ", which has " + std::to_string(size_) + " elements");
  }
}

namespace {

// A lock holder is a seqlock writer. If the previous holder died mid-write
// the counter is still odd: we inherit its write section instead of opening
// another, so the parity stays right.
void open_write_section(std::atomic<std::uint64_t>& sequence) noexcept {
  const std::uint64_t current = sequence.load(std::memory_order_relaxed);
  if (current % 2 == 0) {
    sequence.store(current + 1, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_release);
}

// The lock is not recursive (robust_mutex.hpp): the thread that holds it
// gets EDEADLK if it locks again, which the mutex reports without naming
// the array. Say which array it is and what to do.
template <class Take>
auto naming_a_relock(const std::string& name, Take take) {
  try {
    return take();
  } catch (const Error& e) {
    if (e.code() != std::errc::resource_deadlock_would_occur) {
      throw;
    }
    throw Error("cannot lock " + quoted(name) +
                    ": this thread already holds its lock, and locking it again would deadlock (the lock is not "
                    "recursive; release it before locking it again)",
                e.code());
  }
}

}  // namespace

LockState ArrayCore::lock_for_write() {
  const LockState state = naming_a_relock(name(), [&] { return trailer_->lock.lock(); });
  open_write_section(trailer_->sequence);
  return state;
}

std::optional<LockState> ArrayCore::try_lock_for_write(std::chrono::nanoseconds timeout) {
  const auto state = naming_a_relock(name(), [&] { return trailer_->lock.try_lock_for(timeout); });
  if (state) {
    open_write_section(trailer_->sequence);
  }
  return state;
}

void ArrayCore::unlock_after_write() noexcept {
  auto& sequence = trailer_->sequence;
  sequence.store(sequence.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  trailer_->lock.unlock();
}

bool ArrayCore::try_snapshot(std::byte* out, std::size_t offset, std::size_t bytes, int attempts) const noexcept {
  const auto& sequence = trailer_->sequence;
  for (int i = 0; i < attempts; ++i) {
    const std::uint64_t before = sequence.load(std::memory_order_acquire);
    if (before % 2 != 0) {
      continue;
    }
    // A writer may change the bytes while we copy; the sequence check below
    // throws such a copy away. This is the standard seqlock read.
    if (bytes != 0) {  // an empty array may have no data pointer, and memcpy wants one
      std::memcpy(out, data() + offset, bytes);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (sequence.load(std::memory_order_relaxed) == before) {
      return true;
    }
  }
  return false;
}

void ArrayCore::snapshot(std::byte* out, std::chrono::nanoseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!try_snapshot(out, 64)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw TimeoutError("cannot take a consistent snapshot of " + quoted(name()) + " within " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                         " ms: a lock holder kept writing (or died while writing; the next lock() recovers it)");
    }
    std::this_thread::yield();
  }
}

}  // namespace detail
}  // namespace shmkit
