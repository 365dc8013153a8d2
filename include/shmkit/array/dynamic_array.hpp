#pragma once
/// @file
/// DynamicArray: open a shared array by name without knowing its element type.

#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <shmkit/array/array_core.hpp>
#include <shmkit/array/shared_array.hpp>

namespace shmkit {

/// A runtime-typed handle: reports dtype and shape, gives the raw bytes, and
/// turns into a typed SharedArray<T> (`as<T>()`, `visit(fn)`).
class DynamicArray {
 public:
  /// @throws NameError, NotFoundError, LayoutError
  static DynamicArray open(std::string_view name) { return DynamicArray(detail::ArrayCore::open(name)); }

  [[nodiscard]] const std::string& name() const noexcept { return core_.name(); }
  [[nodiscard]] Dtype dtype() const noexcept { return core_.dtype(); }
  [[nodiscard]] std::span<const std::size_t> shape() const noexcept { return core_.shape(); }
  [[nodiscard]] std::size_t size() const noexcept { return core_.size(); }
  [[nodiscard]] std::size_t nbytes() const noexcept { return core_.nbytes(); }
  [[nodiscard]] ArrayInfo info() const { return core_.info(); }

  /// The array's bytes in C order (unlocked).
  [[nodiscard]] std::span<std::byte> bytes() noexcept { return {core_.data(), core_.nbytes()}; }

  /// A typed handle on the same segment (a second mapping, valid on its own).
  /// @throws LayoutError if the array's dtype is not T
  template <ArrayElement T>
  [[nodiscard]] SharedArray<T> as() const {
    core_.expect(dtype_of<T>, std::nullopt);
    return SharedArray<T>(core_.duplicate());
  }

  /// Calls `fn(SharedArray<T>&&)` with the array's element type.
  template <class F>
  decltype(auto) visit(F&& fn) const {
    return visit_dtype(dtype(), [&](auto type) -> decltype(auto) {
      using T = typename decltype(type)::type;
      return std::forward<F>(fn)(as<T>());
    });
  }

  /// Blocks until this process holds the array's lock.
  [[nodiscard]] ArrayLock lock() { return ArrayLock(&core_, core_.lock_for_write()); }

  /// A consistent copy of the bytes (see SharedArray::snapshot).
  /// @throws TimeoutError
  [[nodiscard]] std::vector<std::byte> snapshot(std::chrono::nanoseconds timeout = std::chrono::seconds(1)) const {
    std::vector<std::byte> copy(core_.nbytes());
    core_.snapshot(copy.data(), timeout);
    return copy;
  }

  /// Unlinks the name if it still names this array.
  bool destroy() { return core_.destroy(); }

 private:
  explicit DynamicArray(detail::ArrayCore core) : core_(std::move(core)) {}
  detail::ArrayCore core_;
};

}  // namespace shmkit
