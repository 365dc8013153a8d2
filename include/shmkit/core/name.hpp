#pragma once
/// @file
/// Validation of the names that identify shared objects.

#include <cstddef>
#include <string_view>

namespace shmkit {

/// Longest accepted name. POSIX shm names become files in /dev/shm, whose
/// names may be 255 bytes; the margin leaves room for suffixes a module adds.
inline constexpr std::size_t kMaxNameLength = 200;

/// Checks a shared-object name: 1..200 characters from `[A-Za-z0-9._-]`, not
/// starting with a dot (dot-files are hidden and ".." would escape /dev/shm).
///
/// @param name  the name to check
/// @param what  the kind of object, used in the message ("shared array")
/// @throws NameError naming the first offending character and its position
void validate_name(std::string_view name, std::string_view what);

/// True when `validate_name` would accept `name`. Never throws.
[[nodiscard]] bool is_valid_name(std::string_view name) noexcept;

}  // namespace shmkit
