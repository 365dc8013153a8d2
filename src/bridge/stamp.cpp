#include "bridge/stamp.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <tuple>

namespace shmkit::detail {

namespace {

// Trailer, read from the end: origin bytes, u16 origin length, u64 seq,
// i64 ts, u32 magic "SKBR".
constexpr std::uint32_t kTrailerMagic = 0x52'42'4b'53;
constexpr std::size_t kFixedBytes = 2 + 8 + 8 + 4;

template <class T>
void append(std::vector<std::byte>& out, T value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

template <class T>
T read_at(std::span<const std::byte> bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

}  // namespace

bool newer(const Stamp& a, const Stamp& b) noexcept {
  return std::tie(a.ts, a.origin) > std::tie(b.ts, b.origin);
}

std::string format_ts(std::int64_t unix_ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%020lld", static_cast<long long>(unix_ns < 0 ? 0 : unix_ns));
  return text;
}

std::string now_ts() {
  return format_ts(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::vector<std::byte> with_trailer(std::span<const std::byte> metadata, const Stamp& stamp) {
  std::vector<std::byte> out(metadata.begin(), metadata.end());
  const auto* origin = reinterpret_cast<const std::byte*>(stamp.origin.data());
  out.insert(out.end(), origin, origin + stamp.origin.size());
  append(out, static_cast<std::uint16_t>(stamp.origin.size()));
  append(out, stamp.seq);
  append(out, static_cast<std::int64_t>(std::stoll(stamp.ts)));
  append(out, kTrailerMagic);
  return out;
}

std::optional<Stamp> read_trailer(std::span<const std::byte> metadata, std::span<const std::byte>* original) {
  if (original != nullptr) {
    *original = metadata;
  }
  if (metadata.size() < kFixedBytes || read_at<std::uint32_t>(metadata, metadata.size() - 4) != kTrailerMagic) {
    return std::nullopt;
  }
  const std::size_t fixed = metadata.size() - kFixedBytes;
  const auto origin_size = read_at<std::uint16_t>(metadata, fixed);
  if (origin_size > fixed) {
    return std::nullopt;
  }
  Stamp stamp;
  stamp.seq = read_at<std::uint64_t>(metadata, fixed + 2);
  stamp.ts = format_ts(read_at<std::int64_t>(metadata, fixed + 10));
  stamp.origin.assign(reinterpret_cast<const char*>(metadata.data() + fixed - origin_size), origin_size);
  if (original != nullptr) {
    *original = metadata.first(fixed - origin_size);
  }
  return stamp;
}

}  // namespace shmkit::detail
