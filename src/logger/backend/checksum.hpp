#pragma once
// CRC-32 (the zip polynomial) from libdeflate, used by archives and record
// files alike.

#include <libdeflate.h>

#include <cstddef>
#include <cstdint>

namespace shmkit::detail {

/// Continues `crc` over `size` bytes. libdeflate treats a null buffer as
/// "return the initial value", which an empty std::vector may hand it, so
/// empty input is handled here.
inline std::uint32_t crc32(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  return size == 0 ? crc : libdeflate_crc32(crc, data, size);
}

}  // namespace shmkit::detail
