#pragma once
/// @file
/// Element types of shared arrays, store values and channel samples, with
/// their numpy dtype strings and shape text.

#include <bit>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace shmkit {

static_assert(std::endian::native == std::endian::little,
              "shmkit writes numpy dtype strings for little-endian hosts only");

/// The element types a shared array can hold, named as numpy names them.
enum class Dtype : std::uint8_t { b1, i1, u1, i2, u2, i4, u4, i8, u8, f4, f8, c8, c16 };

namespace detail {
template <class T>
struct DtypeOf;
template <>
struct DtypeOf<bool> {
  static constexpr Dtype value = Dtype::b1;
};
template <>
struct DtypeOf<std::int8_t> {
  static constexpr Dtype value = Dtype::i1;
};
template <>
struct DtypeOf<std::uint8_t> {
  static constexpr Dtype value = Dtype::u1;
};
template <>
struct DtypeOf<std::int16_t> {
  static constexpr Dtype value = Dtype::i2;
};
template <>
struct DtypeOf<std::uint16_t> {
  static constexpr Dtype value = Dtype::u2;
};
template <>
struct DtypeOf<std::int32_t> {
  static constexpr Dtype value = Dtype::i4;
};
template <>
struct DtypeOf<std::uint32_t> {
  static constexpr Dtype value = Dtype::u4;
};
template <>
struct DtypeOf<std::int64_t> {
  static constexpr Dtype value = Dtype::i8;
};
template <>
struct DtypeOf<std::uint64_t> {
  static constexpr Dtype value = Dtype::u8;
};
template <>
struct DtypeOf<float> {
  static constexpr Dtype value = Dtype::f4;
};
template <>
struct DtypeOf<double> {
  static constexpr Dtype value = Dtype::f8;
};
template <>
struct DtypeOf<std::complex<float>> {
  static constexpr Dtype value = Dtype::c8;
};
template <>
struct DtypeOf<std::complex<double>> {
  static constexpr Dtype value = Dtype::c16;
};
}  // namespace detail

/// Types a SharedArray can hold: bool, fixed-width integers, float, double,
/// std::complex<float>, std::complex<double>.
template <class T>
concept ArrayElement = requires {
  detail::DtypeOf<T>::value;
};

/// The Dtype of an element type.
template <ArrayElement T>
inline constexpr Dtype dtype_of = detail::DtypeOf<T>::value;

/// numpy's `dtype.str` for a Dtype: "|b1", "|u1", "<f4", "<c16", ...
[[nodiscard]] std::string_view dtype_string(Dtype dtype) noexcept;

/// numpy's `dtype.name` for a Dtype: "bool", "uint8", "float32", "complex128", ...
[[nodiscard]] std::string_view dtype_name(Dtype dtype) noexcept;

/// Bytes per element.
[[nodiscard]] std::size_t dtype_size(Dtype dtype) noexcept;

/// Parses what a user would type for numpy: "f4", "<f4", "float32", "u1",
/// "uint8", "bool", "?", "c8", "complex64", ... Big-endian ('>') is refused.
/// @throws Error listing the accepted spellings
[[nodiscard]] Dtype parse_dtype(std::string_view text);

/// numpy's repr of a shape: "()", "(5,)", "(3, 4)".
[[nodiscard]] std::string shape_string(std::span<const std::size_t> shape);

/// Calls `f(std::type_identity<T>{})` with the element type of `dtype`, so
/// runtime-typed code (the CLI, DynamicArray) can reach typed code.
template <class F>
decltype(auto) visit_dtype(Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::b1:
      return f(std::type_identity<bool>{});
    case Dtype::i1:
      return f(std::type_identity<std::int8_t>{});
    case Dtype::u1:
      return f(std::type_identity<std::uint8_t>{});
    case Dtype::i2:
      return f(std::type_identity<std::int16_t>{});
    case Dtype::u2:
      return f(std::type_identity<std::uint16_t>{});
    case Dtype::i4:
      return f(std::type_identity<std::int32_t>{});
    case Dtype::u4:
      return f(std::type_identity<std::uint32_t>{});
    case Dtype::i8:
      return f(std::type_identity<std::int64_t>{});
    case Dtype::u8:
      return f(std::type_identity<std::uint64_t>{});
    case Dtype::f4:
      return f(std::type_identity<float>{});
    case Dtype::f8:
      return f(std::type_identity<double>{});
    case Dtype::c8:
      return f(std::type_identity<std::complex<float>>{});
    case Dtype::c16:
      break;
  }
  return f(std::type_identity<std::complex<double>>{});
}

}  // namespace shmkit
