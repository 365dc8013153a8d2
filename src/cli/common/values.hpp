#pragma once
// Text <-> value conversions for the command line: element values of every
// dtype (range-checked, numpy spelling), shapes, modes and indices. Bad
// input throws shmkit::Error with a message that names the value, what it
// was for, and what is accepted.

#include <sys/types.h>

#include <charconv>
#include <cmath>
#include <complex>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>

namespace shmkit::cli {

template <class T>
inline constexpr bool kIsComplex = false;
template <class T>
inline constexpr bool kIsComplex<std::complex<T>> = true;

namespace values_detail {

[[noreturn]] void throw_bad_value(std::string_view text, Dtype dtype, std::string_view why);

bool parse_bool(std::string_view text, bool& out) noexcept;

/// Parses a real number the way Python's float() does for finite values,
/// inf and nan; false if `text` is not one.
template <std::floating_point F>
bool parse_real(std::string_view text, F& out, bool& out_of_range) noexcept {
  out_of_range = false;
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);  // from_chars refuses a leading '+', Python accepts it
  }
  if (text.empty() || text.front() == '+') {
    return false;
  }
  const auto result = std::from_chars(text.data(), text.data() + text.size(), out);
  if (result.ptr != text.data() + text.size()) {
    return false;
  }
  if (result.ec == std::errc::result_out_of_range) {
    out_of_range = true;
    return true;
  }
  return result.ec == std::errc{};
}

/// Splits "1+2j", "-2.5j", "3", "(1,2)", "(1+2j)" into real and imaginary text.
bool split_complex(std::string_view text, std::string& real, std::string& imag);

}  // namespace values_detail

/// Parses one element value of type T.
///
/// bool: true/false/1/0 (any case). Integers: decimal, range-checked for T
/// ("300" is an error for uint8). Floats: decimal or scientific, inf, nan;
/// a finite value too large for T is an error. Complex: "1+2j", "2j", "3",
/// "(1,2)" or "(1+2j)".
/// @throws Error naming the value, the dtype and what is accepted
template <ArrayElement T>
T parse_value(std::string_view text) {
  constexpr Dtype kDtype = dtype_of<T>;
  if constexpr (std::is_same_v<T, bool>) {
    bool value = false;
    if (!values_detail::parse_bool(text, value)) {
      values_detail::throw_bad_value(text, kDtype, "use true, false, 1 or 0");
    }
    return value;
  } else if constexpr (std::is_integral_v<T>) {
    std::string_view body = text;
    if (body.starts_with('+')) {
      body.remove_prefix(1);
    }
    const bool negative = body.starts_with('-');
    const std::string_view magnitude = negative ? body.substr(1) : body;
    if (magnitude.empty() || magnitude.find_first_not_of("0123456789") != std::string_view::npos) {
      values_detail::throw_bad_value(text, kDtype, "not an integer");
    }
    // Parse into the widest type of the right signedness, then range-check,
    // so "300" for uint8 reads as "out of range" rather than "not a number".
    auto parse = [&](auto wide) -> std::optional<T> {
      const auto result = std::from_chars(body.data(), body.data() + body.size(), wide);
      if (result.ec != std::errc{} || !std::in_range<T>(wide)) {
        return std::nullopt;
      }
      return static_cast<T>(wide);
    };
    const auto value = negative ? parse(0LL) : parse(0ULL);
    if (!value) {
      values_detail::throw_bad_value(text, kDtype,
                                     "out of range (valid: " + std::to_string(+std::numeric_limits<T>::min()) + ".." +
                                         std::to_string(+std::numeric_limits<T>::max()) + ")");
    }
    return *value;
  } else if constexpr (std::is_floating_point_v<T>) {
    T value{};
    bool out_of_range = false;
    if (!values_detail::parse_real(text, value, out_of_range)) {
      values_detail::throw_bad_value(text, kDtype, "not a number (use e.g. 1.5, -2e-3, inf or nan)");
    }
    if (out_of_range) {
      values_detail::throw_bad_value(
          text, kDtype, "out of range (largest magnitude " + std::to_string(std::numeric_limits<T>::max()) + ")");
    }
    return value;
  } else {
    static_assert(kIsComplex<T>);
    using Part = typename T::value_type;
    std::string real_text;
    std::string imag_text;
    Part real{};
    Part imag{};
    bool real_range = false;
    bool imag_range = false;
    if (!values_detail::split_complex(text, real_text, imag_text) ||
        !values_detail::parse_real(std::string_view(real_text), real, real_range) ||
        !values_detail::parse_real(std::string_view(imag_text), imag, imag_range)) {
      values_detail::throw_bad_value(text, kDtype, "not a complex number (use e.g. 1+2j, -0.5j, 3 or (1,2))");
    }
    if (real_range || imag_range) {
      values_detail::throw_bad_value(text, kDtype, "a part is out of range for " + std::string(dtype_name(kDtype)));
    }
    return {real, imag};
  }
}

/// Formats a real the way numpy prints array elements: the shortest text
/// that reads back exactly, with a '.' for whole numbers ("1.", "1.e+20").
template <std::floating_point F>
std::string format_real(F value) {
  if (std::isnan(value)) {
    return "nan";
  }
  if (std::isinf(value)) {
    return value < 0 ? "-inf" : "inf";
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find('.') == std::string::npos) {
    const auto exponent = text.find('e');
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".");
  }
  return text;
}

/// Formats one element as numpy prints it inside an array: True/False,
/// integers in decimal (int8/uint8 too), "1.5", "1.+2.j".
template <ArrayElement T>
std::string format_value(T value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "True" : "False";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(+value);  // '+' promotes int8/uint8 so they print as numbers, not characters
  } else if constexpr (std::is_floating_point_v<T>) {
    return format_real(value);
  } else {
    const auto imag = value.imag();
    const bool negative = std::signbit(imag) && !std::isnan(imag);
    return format_real(value.real()) + (negative ? "-" : "+") + format_real(negative ? -imag : imag) + "j";
  }
}

/// Parses a shape: "3,4", "(3, 4)", "3x4", "5", or "" / "()" for a 0-d array.
/// @throws Error
std::vector<std::size_t> parse_shape(std::string_view text);

/// Parses permission bits in octal ("0660", "660", "0o660"). The owner must
/// keep read and write, because shmkit opens arrays read-write.
/// @throws Error
mode_t parse_mode(std::string_view text);

/// The rules of parse_mode for bits that `key` of the config file `file`
/// set. The message begins "store.yaml:3:14: socket_mode:", as the config
/// module's errors do.
/// @throws ConfigError
void check_config_mode(mode_t mode, const std::string& file, std::string_view key);

/// Resolves index text against a shape: one coordinate per given axis,
/// negative values counting from the end as in numpy. Fewer coordinates
/// than axes are allowed (a sub-array).
/// @param object  e.g. "shared array 'frames'", for messages
/// @throws IndexError (out of range, too many coordinates), Error (not a number)
std::vector<std::size_t> resolve_index(std::span<const std::string> coordinates, std::span<const std::size_t> shape,
                                       std::string_view object);

/// Parses a size: plain bytes or a K/M/G/T suffix (binary: 1K = 1024),
/// optionally followed by "iB" or "B" ("500M", "2GiB", "4096").
/// @throws Error naming the text and what is accepted
std::uint64_t parse_size(std::string_view text);

}  // namespace shmkit::cli
