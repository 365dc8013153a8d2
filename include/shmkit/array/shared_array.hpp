#pragma once
/// @file
/// SharedArray<T>: a typed N-d array in named POSIX shared memory.
///
/// The array's C-order bytes start at offset 0 of `/dev/shm/<name>`, so any
/// process can map them, including Python with
/// `np.ndarray(shape, dtype, buffer=SharedMemory(name).buf)`. A trailer at the
/// end of the segment (see layout.hpp) records dtype, shape, creator and holds
/// the array's robust lock and seqlock counter.
///
/// Concurrency contract:
/// - Unlocked operations are plain loads and stores: fastest, no ordering.
/// - Locked operations and everything done while holding an ArrayLock are
///   mutually exclusive across processes. Every lock holder is a seqlock
///   writer, so `snapshot()` returns a copy that no locked writer tore.
/// - `atomic(i)` gives lock-free per-element atomics (std::atomic_ref).
/// - A process that dies holding the lock does not block anyone: the next
///   locker is told `LockState::recovered`.
///
/// Caveats: a handle is not shareable across fork() without re-opening (the
/// mapping is inherited, which is fine, but unlink_on_close would fire in both
/// processes). Names persist until removed; `shmkit gc` removes names whose
/// creator is dead and that no process has open.

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include <shmkit/array/array_core.hpp>
#include <shmkit/array/options.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/process.hpp>

namespace shmkit {

/// Holds an array's lock for a scope (a seqlock write section).
///
/// Obtained from `SharedArray<T>::lock()` or `DynamicArray::lock()`.
/// Belongs to the process that took it: a copy a fork()ed child inherits
/// does nothing when the child destroys it, so the lock and the write
/// section stay the parent's.
class ArrayLock {
 public:
  ArrayLock(ArrayLock&& other) noexcept
      : core_(std::exchange(other.core_, nullptr)), state_(other.state_), holder_(other.holder_) {}
  ArrayLock& operator=(ArrayLock&&) = delete;
  ArrayLock(const ArrayLock&) = delete;
  ArrayLock& operator=(const ArrayLock&) = delete;
  ~ArrayLock() {
    // In a forked child the lock is still held by the parent, which is
    // still writing: closing the write section here would let readers
    // take a torn snapshot as consistent, and the unlock would fail (the
    // mutex is the parent thread's).
    if (core_ != nullptr && holder_ == current_pid()) {
      core_->unlock_after_write();
    }
  }

  /// True when the previous holder died holding the lock; the data it was
  /// changing may be half updated.
  [[nodiscard]] bool recovered() const noexcept { return state_ == LockState::recovered; }
  [[nodiscard]] LockState state() const noexcept { return state_; }

 private:
  template <ArrayElement>
  friend class SharedArray;
  friend class DynamicArray;
  ArrayLock(detail::ArrayCore* core, LockState state) noexcept : core_(core), state_(state), holder_(current_pid()) {}

  detail::ArrayCore* core_;
  LockState state_;
  pid_t holder_;
};

template <ArrayElement T>
class SharedArray {
 public:
  using value_type = T;
  /// A zero-copy xtensor view over the shared bytes.
  using View = decltype(xt::adapt(std::declval<T*>(), std::size_t{}, xt::no_ownership(),
                                  std::declval<std::vector<std::size_t>>()));
  using ConstView = decltype(xt::adapt(std::declval<const T*>(), std::size_t{}, xt::no_ownership(),
                                       std::declval<std::vector<std::size_t>>()));

  /// Creates `/dev/shm/<name>` holding an array of `shape`, every element
  /// `options.fill`.
  /// @throws NameError (bad name), ExistsError (name taken and not
  ///   exist_ok), LayoutError (exist_ok and the existing array's dtype or
  ///   shape differ; too many dimensions), Error (no memory, permission)
  static SharedArray create(std::string_view name, std::span<const std::size_t> shape,
                            const ArrayOptions<T>& options = {}) {
    return SharedArray(detail::ArrayCore::create(name, dtype_of<T>, shape, options.mode, options.exist_ok,
                                                 options.unlink_on_close, as_bytes_of(options.fill)));
  }
  static SharedArray create(std::string_view name, std::initializer_list<std::size_t> shape,
                            const ArrayOptions<T>& options = {}) {
    return create(name, std::span(shape.begin(), shape.size()), options);
  }

  /// Creates an array with the shape and contents of an xtensor expression.
  template <class E>
  static SharedArray create(std::string_view name, const xt::xexpression<E>& prototype,
                            const ArrayOptions<T>& options = {}) {
    const auto& expression = prototype.derived_cast();
    const std::vector<std::size_t> shape(expression.shape().begin(), expression.shape().end());
    SharedArray array = create(name, std::span(shape), options);
    array.view() = expression;
    return array;
  }

  /// Opens an existing array of element type T; with `expected_shape`, the
  /// shape must match too.
  /// @throws NameError, NotFoundError, LayoutError (not a shmkit array,
  ///   other dtype, other shape, other layout version, truncated)
  static SharedArray open(std::string_view name,
                          std::optional<std::span<const std::size_t>> expected_shape = std::nullopt) {
    detail::ArrayCore core = detail::ArrayCore::open(name);
    core.expect(dtype_of<T>, expected_shape);
    return SharedArray(std::move(core));
  }

  /// Opens the array if it exists (dtype and shape must match), else creates it.
  static SharedArray open_or_create(std::string_view name, std::span<const std::size_t> shape,
                                    ArrayOptions<T> options = {}) {
    options.exist_ok = true;
    return create(name, shape, options);
  }
  static SharedArray open_or_create(std::string_view name, std::initializer_list<std::size_t> shape,
                                    const ArrayOptions<T>& options = {}) {
    return open_or_create(name, std::span(shape.begin(), shape.size()), options);
  }

  /// Unlinks `/dev/shm/<name>`; open handles stay valid. Returns false if
  /// there was no such name. @throws NameError, Error (permission)
  static bool remove(std::string_view name) { return detail::SharedSegment::unlink(name, "shared array"); }

  /// Unlinks this array's name (only if it still names this array); the
  /// mapping stays usable until the handle is destroyed.
  bool destroy() { return core_.destroy(); }

  [[nodiscard]] const std::string& name() const noexcept { return core_.name(); }
  [[nodiscard]] std::span<const std::size_t> shape() const noexcept { return core_.shape(); }
  [[nodiscard]] std::size_t ndim() const noexcept { return core_.shape().size(); }
  /// Number of elements.
  [[nodiscard]] std::size_t size() const noexcept { return core_.size(); }
  [[nodiscard]] std::size_t nbytes() const noexcept { return core_.nbytes(); }
  [[nodiscard]] static constexpr Dtype dtype() noexcept { return dtype_of<T>; }
  [[nodiscard]] ArrayInfo info() const { return core_.info(); }

  /// The first element; the rest follow in C order.
  [[nodiscard]] T* data() noexcept { return reinterpret_cast<T*>(core_.data()); }
  [[nodiscard]] const T* data() const noexcept { return reinterpret_cast<const T*>(core_.data()); }

  /// xtensor view over the shared memory (no copy, no locking).
  [[nodiscard]] View view() { return xt::adapt(data(), size(), xt::no_ownership(), shape_vector()); }
  [[nodiscard]] ConstView view() const { return xt::adapt(data(), size(), xt::no_ownership(), shape_vector()); }

  /// Unchecked, unlocked access by flat C-order offset.
  [[nodiscard]] T& operator[](std::size_t flat) noexcept { return data()[flat]; }
  [[nodiscard]] const T& operator[](std::size_t flat) const noexcept { return data()[flat]; }

  /// Flat C-order offset of an N-d index. @throws IndexError
  [[nodiscard]] std::size_t flat_index(const Index& index) const { return core_.flat_index(index); }

  /// Reads one element (bounds-checked). @throws IndexError
  [[nodiscard]] T read(const Index& index, Locking locking = Locking::unlocked) {
    const std::size_t flat = core_.flat_index(index);
    if (locking == Locking::locked) {
      const ArrayLock guard = lock();
      return data()[flat];
    }
    return data()[flat];
  }

  /// Writes one element (bounds-checked). @throws IndexError
  void write(const Index& index, T value, Locking locking = Locking::unlocked) {
    const std::size_t flat = core_.flat_index(index);
    if (locking == Locking::locked) {
      const ArrayLock guard = lock();
      data()[flat] = value;
      return;
    }
    data()[flat] = value;
  }

  /// Copies `out.size()` elements starting at flat offset `first` into `out`.
  /// @throws IndexError
  void read_slice(std::size_t first, std::span<T> out, Locking locking = Locking::unlocked) {
    core_.check_range(first, out.size());
    if (out.empty()) {  // an empty span may have a null data(), which memcpy must not get
      return;
    }
    if (locking == Locking::locked) {
      const ArrayLock guard = lock();
      std::memcpy(out.data(), data() + first, out.size_bytes());
      return;
    }
    std::memcpy(out.data(), data() + first, out.size_bytes());
  }

  /// Copies `in` to the elements starting at flat offset `first`.
  /// @throws IndexError
  void write_slice(std::size_t first, std::span<const T> in, Locking locking = Locking::unlocked) {
    core_.check_range(first, in.size());
    if (in.empty()) {  // an empty span may have a null data(), which memcpy must not get
      return;
    }
    if (locking == Locking::locked) {
      const ArrayLock guard = lock();
      std::memcpy(data() + first, in.data(), in.size_bytes());
      return;
    }
    std::memcpy(data() + first, in.data(), in.size_bytes());
  }

  /// Blocks until this process holds the array's lock.
  /// @throws Error if the lock is unusable (never left so by shmkit)
  [[nodiscard]] ArrayLock lock() { return ArrayLock(&core_, core_.lock_for_write()); }

  /// As lock(), giving up after `timeout`.
  [[nodiscard]] std::optional<ArrayLock> try_lock_for(std::chrono::nanoseconds timeout) {
    const auto state = core_.try_lock_for_write(timeout);
    if (!state) {
      return std::nullopt;
    }
    return ArrayLock(&core_, *state);
  }

  /// Runs `fn` under the lock and returns its result. `fn` takes the view,
  /// or the view and the LockState (to learn of a recovered lock).
  template <class F>
  decltype(auto) with_lock(F&& fn) {
    const ArrayLock guard = lock();
    View v = view();
    if constexpr (std::invocable<F, View&, LockState>) {
      return std::forward<F>(fn)(v, guard.state());
    } else {
      return std::forward<F>(fn)(v);
    }
  }

  /// Lock-free atomic access to one element (flat offset, unchecked).
  [[nodiscard]] std::atomic_ref<T> atomic(std::size_t flat) noexcept requires std::atomic_ref<T>::is_always_lock_free {
    return std::atomic_ref<T>(data()[flat]);
  }
  /// Lock-free atomic access to one element (N-d index). @throws IndexError
  [[nodiscard]] std::atomic_ref<T> atomic(const Index& index) requires std::atomic_ref<T>::is_always_lock_free {
    return std::atomic_ref<T>(data()[core_.flat_index(index)]);
  }

  /// A copy of the whole array that no locked writer tore, taken without
  /// ever blocking the writer (seqlock). @throws TimeoutError if no
  /// consistent copy could be taken within `timeout`
  [[nodiscard]] xt::xarray<T> snapshot(std::chrono::nanoseconds timeout = std::chrono::seconds(1)) const {
    xt::xarray<T> copy = xt::xarray<T>::from_shape(shape_vector());
    core_.snapshot(reinterpret_cast<std::byte*>(copy.data()), timeout);
    return copy;
  }

  /// Allocation-free snapshot into `out` (size() elements); false if a
  /// consistent copy was not possible within `attempts` tries.
  [[nodiscard]] bool try_snapshot(std::span<T> out, int attempts = 64) const noexcept {
    return out.size() == size() && core_.try_snapshot(reinterpret_cast<std::byte*>(out.data()), attempts);
  }

  /// Allocation-free consistent copy of `out.size()` elements starting at
  /// flat offset `first`, e.g. one frame of a ring of frames, taken without
  /// blocking the writer. The seqlock covers the whole array: a locked write
  /// anywhere in it, not only in this range, makes an attempt retry.
  /// @returns false if no consistent copy was possible within `attempts` tries
  /// @throws IndexError unless [first, first + out.size()) is inside the array
  [[nodiscard]] bool try_snapshot_slice(std::size_t first, std::span<T> out, int attempts = 64) const {
    core_.check_range(first, out.size());
    return core_.try_snapshot(reinterpret_cast<std::byte*>(out.data()), first * sizeof(T), out.size_bytes(), attempts);
  }

 private:
  friend class DynamicArray;
  explicit SharedArray(detail::ArrayCore core) : core_(std::move(core)) {}

  static std::span<const std::byte> as_bytes_of(const T& value) noexcept {
    return {reinterpret_cast<const std::byte*>(&value), sizeof(T)};
  }
  [[nodiscard]] std::vector<std::size_t> shape_vector() const { return {core_.shape().begin(), core_.shape().end()}; }

  detail::ArrayCore core_;
};

}  // namespace shmkit
