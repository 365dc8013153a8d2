#pragma once
// Text formatting shared by the subcommands: sizes, times, modes, shapes and
// JSON strings, each written the way a user of numpy and ls(1) expects.

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace shmkit::cli {

/// "512 B", "4.0 KiB", "1.5 MiB", ... (binary units, one decimal).
std::string human_size(std::uint64_t bytes);

/// `value` with `decimals` digits after the point: "8.0", "3.27".
std::string fixed(double value, int decimals);

/// "850 ns", "12.5 µs", "3.20 ms", "1.50 s" (three significant digits).
std::string human_duration(double nanoseconds);

/// Local time with its UTC offset, ISO-8601: "2024-05-01T14:03:07.123+02:00".
std::string iso8601(std::int64_t unix_ns);

/// Octal permission bits: "0600".
std::string mode_string(mode_t mode);

/// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

}  // namespace shmkit::cli
