#include "cli/common/format.hpp"

#include <array>
#include <cstdio>
#include <ctime>

namespace shmkit::cli {

std::string human_size(std::uint64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.1f %s", value, kUnits[unit]);
  return text.data();
}

std::string fixed(double value, int decimals) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.*f", decimals, value);
  return text.data();
}

std::string human_duration(double nanoseconds) {
  static constexpr std::array<const char*, 4> kUnits{"ns", "µs", "ms", "s"};
  double value = nanoseconds;
  std::size_t unit = 0;
  while (value >= 999.5 && unit + 1 < kUnits.size()) {  // 999.7 ns reads "1.00 µs", not "1000 ns"
    value /= 1000.0;
    ++unit;
  }
  const int decimals = unit == 0 || value >= 100 ? 0 : (value >= 10 ? 1 : 2);
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.*f %s", decimals, value, kUnits[unit]);
  return text.data();
}

std::string iso8601(std::int64_t unix_ns) {
  const std::int64_t seconds = unix_ns >= 0 ? unix_ns / 1'000'000'000 : (unix_ns - 999'999'999) / 1'000'000'000;
  const auto millis = static_cast<int>((unix_ns - seconds * 1'000'000'000) / 1'000'000);
  const auto time = static_cast<std::time_t>(seconds);
  std::tm local{};
  if (::localtime_r(&time, &local) == nullptr) {
    return "?";
  }
  std::array<char, 32> date{};
  std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%S", &local);
  // strftime's %z gives "+0200"; ISO-8601 extended format wants "+02:00".
  const long offset_minutes = local.tm_gmtoff / 60;
  const char sign = offset_minutes < 0 ? '-' : '+';
  const long magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%s.%03d%c%02ld:%02ld", date.data(), millis, sign, magnitude / 60,
                magnitude % 60);
  return text.data();
}

std::string mode_string(mode_t mode) {
  std::array<char, 16> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return text.data();
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> escaped{};
          std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
          out += escaped.data();
        } else {
          out += c;  // file names are bytes; valid UTF-8 passes through unchanged
        }
    }
  }
  return out + "\"";
}

}  // namespace shmkit::cli
