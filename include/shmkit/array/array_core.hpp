#pragma once
/// @file
/// The dtype-independent part of a shared-array handle, shared by
/// SharedArray<T> and DynamicArray. Not for direct use.

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <shmkit/array/layout.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/core/robust_mutex.hpp>
#include <shmkit/core/segment.hpp>

namespace shmkit {

/// Whether an element or slice operation takes the array's lock.
enum class Locking : bool { unlocked, locked };

/// An N-d index, e.g. `{2, 3}`; built from a braced list, a span or a vector.
class Index {
 public:
  Index(std::initializer_list<std::size_t> dims) noexcept : Index(std::span(dims.begin(), dims.size())) {}
  // NOLINTNEXTLINE(google-explicit-constructor): reads as an index
  Index(std::span<const std::size_t> dims) noexcept : ndim_(dims.size()) {
    std::copy_n(dims.begin(), std::min(dims.size(), kMaxDims), values_.begin());
  }
  Index(const std::vector<std::size_t>& dims) noexcept : Index(std::span(dims)) {}  // NOLINT
  [[nodiscard]] std::size_t ndim() const noexcept { return ndim_; }
  [[nodiscard]] std::span<const std::size_t> dims() const noexcept {
    return {values_.data(), ndim_ < kMaxDims ? ndim_ : kMaxDims};
  }

 private:
  // Only the first ndim_ values are ever read; leaving the rest
  // uninitialised keeps a checked element access from zeroing 128 bytes.
  std::array<std::size_t, kMaxDims> values_;
  std::size_t ndim_ = 0;  // may exceed kMaxDims; the bounds check then rejects it
};

/// What `shmkit ls` and `DynamicArray::info()` report about an array.
struct ArrayInfo {
  std::string name;
  Dtype dtype;
  std::vector<std::size_t> shape;
  std::size_t data_bytes;
  std::size_t segment_bytes;
  ProcessIdentity creator;
  std::int64_t created_unix_ns;
  bool unlink_on_creator_close;
};

namespace detail {

class ArrayCore {
 public:
  /// Creates a new array segment, or with `exist_ok` opens a matching one.
  /// `fill_element` is one element's bytes, copied to every element.
  static ArrayCore create(std::string_view name, Dtype dtype, std::span<const std::size_t> shape, mode_t mode,
                          bool exist_ok, bool unlink_on_close, std::span<const std::byte> fill_element);

  /// Opens and validates an existing array segment (magic, version, sizes).
  static ArrayCore open(std::string_view name);

  /// @throws LayoutError unless the array has `dtype` and (if given) `shape`.
  void expect(Dtype dtype, std::optional<std::span<const std::size_t>> shape) const;

  [[nodiscard]] ArrayCore duplicate() const;

  ArrayCore(ArrayCore&& other) noexcept;
  ArrayCore& operator=(ArrayCore&& other) noexcept;
  ArrayCore(const ArrayCore&) = delete;
  ArrayCore& operator=(const ArrayCore&) = delete;
  ~ArrayCore();

  [[nodiscard]] const std::string& name() const noexcept { return segment_.name(); }
  [[nodiscard]] Dtype dtype() const noexcept { return dtype_; }
  [[nodiscard]] std::span<const std::size_t> shape() const noexcept { return shape_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t nbytes() const noexcept { return size_ * dtype_size(dtype_); }
  [[nodiscard]] std::byte* data() const noexcept { return segment_.data(); }
  [[nodiscard]] ArrayTrailer& trailer() const noexcept { return *trailer_; }
  [[nodiscard]] ArrayInfo info() const;

  /// Unlinks the name (if it still names this array). Returns false if it
  /// was already gone. The mapping stays valid until the handle is destroyed.
  bool destroy();

  /// Row-major flat offset of `index`. @throws IndexError naming the axis
  [[nodiscard]] std::size_t flat_index(const Index& index) const {
    // Inline: this is on every checked element access; the message is built
    // out of line, only when the check fails.
    if (index.ndim() != shape_.size()) {
      throw_index_error(index);
    }
    std::size_t flat = 0;
    const auto dims = index.dims();
    for (std::size_t axis = 0; axis < dims.size(); ++axis) {
      if (dims[axis] >= shape_[axis]) {
        throw_index_error(index);
      }
      flat = flat * shape_[axis] + dims[axis];
    }
    return flat;
  }
  /// @throws IndexError unless [first, first + count) is inside the array
  void check_range(std::size_t first, std::size_t count) const;

  /// Takes the lock and opens a seqlock write section.
  LockState lock_for_write();
  std::optional<LockState> try_lock_for_write(std::chrono::nanoseconds timeout);
  /// Closes the write section and releases the lock.
  void unlock_after_write() noexcept;

  /// Copies all data bytes between two equal, even seqlock values; gives up
  /// after `attempts` tries. Never blocks a writer.
  bool try_snapshot(std::byte* out, int attempts) const noexcept { return try_snapshot(out, 0, nbytes(), attempts); }
  /// As try_snapshot, for the `bytes` data bytes starting at byte `offset`
  /// (the caller checked the range). The seqlock covers the whole array, so a
  /// write section anywhere in it makes an attempt retry.
  bool try_snapshot(std::byte* out, std::size_t offset, std::size_t bytes, int attempts) const noexcept;
  /// As try_snapshot, retrying until `timeout`. @throws TimeoutError
  void snapshot(std::byte* out, std::chrono::nanoseconds timeout) const;

 private:
  ArrayCore(SharedSegment segment, bool unlink_on_close);
  static ArrayCore create_new(std::string_view name, Dtype dtype, std::span<const std::size_t> shape, mode_t mode,
                              bool unlink_on_close, std::span<const std::byte> fill_element);
  void release() noexcept;
  [[noreturn]] void throw_index_error(const Index& index) const;

  SharedSegment segment_;
  ArrayTrailer* trailer_ = nullptr;
  Dtype dtype_ = Dtype::u1;
  std::vector<std::size_t> shape_;
  std::size_t size_ = 0;
  bool unlink_on_close_ = false;
};

}  // namespace detail
}  // namespace shmkit
