#pragma once
// Element types and sample values shared by the array and dtype tests.

#include <algorithm>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>

#include <gtest/gtest.h>

namespace shmkit::testing {

/// Every element type a SharedArray can hold.
using AllElementTypes =
    ::testing::Types<bool, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t, std::uint32_t,
                     std::int64_t, std::uint64_t, float, double, std::complex<float>, std::complex<double>>;

template <class T>
inline constexpr bool kIsComplex = false;
template <class T>
inline constexpr bool kIsComplex<std::complex<T>> = true;

/// A value of T that depends on `k`; sample<T>(k) != sample<T>(k + 1), and
/// only sample<bool>(even k) is zero.
template <class T>
T sample(std::size_t k) {
  if constexpr (std::is_same_v<T, bool>) {
    return k % 2 == 1;
  } else if constexpr (kIsComplex<T>) {
    using R = typename T::value_type;
    return T(static_cast<R>(k) + R(0.5), -static_cast<R>(k) - R(1));
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(k) * T(0.5) + T(0.25);
  } else if constexpr (std::is_signed_v<T>) {
    return static_cast<T>(-static_cast<long long>(k % 100) - 1);
  } else {
    return static_cast<T>(k % 200 + 1);
  }
}

/// An element type other than T (for dtype-mismatch tests).
template <class T>
using OtherType = std::conditional_t<std::is_same_v<T, std::int32_t>, float, std::int32_t>;

/// A contiguous buffer of n elements (std::vector<bool> is not contiguous).
template <class T>
class Buffer {
 public:
  explicit Buffer(std::size_t n) : data_(std::make_unique<T[]>(n)), size_(n) {}
  [[nodiscard]] std::span<T> span() noexcept { return {data_.get(), size_}; }
  [[nodiscard]] std::span<const T> cspan() const noexcept { return {data_.get(), size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_.get(); }
  T* end() noexcept { return data_.get() + size_; }
  const T* begin() const noexcept { return data_.get(); }
  const T* end() const noexcept { return data_.get() + size_; }
  friend bool operator==(const Buffer& a, const Buffer& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t size_;
};

}  // namespace shmkit::testing
