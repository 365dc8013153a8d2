#include <shmkit/logger/log_package.hpp>

#include <chrono>
#include <cstdio>

namespace shmkit {

std::string member_name(std::uint8_t source_id, std::uint64_t acquisition_time) {
  char text[40];
  std::snprintf(text, sizeof text, "%03u_%020llu.npy", static_cast<unsigned>(source_id),
                static_cast<unsigned long long>(acquisition_time));
  return text;
}

std::string archive_name(std::uint8_t source_id) {
  return std::to_string(source_id) + "_log.npz";
}

void encode_entry_prefix(std::uint8_t source_id, std::uint64_t acquisition_time,
                         std::span<std::byte, kEntryPrefixBytes> out) noexcept {
  out[0] = std::byte{source_id};
  for (std::size_t i = 0; i < 8; ++i) {
    out[1 + i] = std::byte(static_cast<unsigned char>(acquisition_time >> (8 * i)));
  }
}

std::uint64_t utc_now_us() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace shmkit
