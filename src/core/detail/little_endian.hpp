#pragma once
// Little-endian integer encoding for the on-disk formats (zip, record files).

#include <cstddef>
#include <cstdint>
#include <string>

namespace shmkit::detail {

template <typename T>
void put_le(std::string& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff));
  }
}

template <typename T>
void store_le(void* out, T value) noexcept {
  auto* bytes = static_cast<unsigned char*>(out);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bytes[i] = static_cast<unsigned char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff);
  }
}

template <typename T>
T load_le(const void* in) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(in);
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  }
  return static_cast<T>(value);
}

}  // namespace shmkit::detail
