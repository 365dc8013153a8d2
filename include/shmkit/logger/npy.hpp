#pragma once
/// @file
/// The NumPy `.npy` framing of one log entry: a 1-D `|u1` array.
///
/// shmkit writes exactly the header numpy 1.24 writes for such an array
/// (format 1.0, the dict padded with spaces so the data starts on a 64-byte
/// boundary, ending in '\n'), so a member is byte-for-byte what
/// `np.save(f, np.frombuffer(entry, np.uint8))` produces.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace shmkit {

/// Size of the header shmkit writes for any 1-D `|u1` array (numpy pads it
/// to 128 bytes for every length below 10^21).
inline constexpr std::size_t kNpyU1HeaderBytes = 128;

/// The .npy header of a 1-D `|u1` array of `length` elements.
[[nodiscard]] std::string npy_u1_header(std::uint64_t length);

/// What a parsed .npy header says about its data.
struct NpyU1Layout {
  std::size_t header_bytes = 0;  ///< bytes before the data
  std::uint64_t length = 0;      ///< number of uint8 elements that follow
};

/// Parses the header at the start of `bytes` (versions 1.0, 2.0, 3.0), which
/// must describe a 1-D uint8 array (`|u1` or `<u1`, C order).
/// @param what  the object for messages, e.g. "member '007_...npy' of 'x.npz'"
/// @throws CorruptDataError when the magic or header is malformed, truncated,
///         or describes another dtype or shape.
[[nodiscard]] NpyU1Layout parse_npy_u1_header(std::span<const std::byte> bytes, const std::string& what);

}  // namespace shmkit
