#pragma once
// PyYAML's implicit resolver (resolver.py, YAML 1.1 types): whether a
// string written plain would read back as something else, so the emitter
// must quote it.

#include <string_view>

namespace shmkit::detail {

/// True when PyYAML reads `value`, written plain, as a null, bool, int,
/// float, timestamp, merge key or value key rather than a string.
[[nodiscard]] bool resolves_to_non_string(std::string_view value) noexcept;

}  // namespace shmkit::detail
