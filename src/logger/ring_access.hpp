#pragma once
// Byte-ring helpers shared by the writer (producer) and the saver
// (consumer): wrap-around copies and record sizes. The contract of a ring:
// exactly one producer advances `head`, exactly one consumer advances
// `tail`, and bytes in [tail, head) are complete records.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <shmkit/logger/layout.hpp>

namespace shmkit::detail {

inline constexpr std::size_t kRingAlign = 8;

/// Ring bytes a record with `chunk_bytes` of payload occupies.
[[nodiscard]] constexpr std::uint64_t ring_record_bytes(std::uint64_t chunk_bytes) noexcept {
  return (sizeof(RingRecord) + chunk_bytes + kRingAlign - 1) & ~std::uint64_t{kRingAlign - 1};
}

/// A view of one ring: its header and data area.
struct RingView {
  RingHeader* header = nullptr;
  std::byte* data = nullptr;
  std::uint64_t capacity = 0;  // power of two
  std::uint64_t mask = 0;

  /// Copies `size` bytes into the ring at absolute position `pos`.
  void copy_in(std::uint64_t pos, const void* src, std::size_t size) const noexcept {
    const std::uint64_t at = pos & mask;
    const std::size_t first =
        static_cast<std::size_t>(capacity - at) < size ? static_cast<std::size_t>(capacity - at) : size;
    std::memcpy(data + at, src, first);
    if (first < size) {
      std::memcpy(data, static_cast<const std::byte*>(src) + first, size - first);
    }
  }

  /// Copies `size` bytes out of the ring from absolute position `pos`.
  void copy_out(std::uint64_t pos, void* dst, std::size_t size) const noexcept {
    const std::uint64_t at = pos & mask;
    const std::size_t first =
        static_cast<std::size_t>(capacity - at) < size ? static_cast<std::size_t>(capacity - at) : size;
    std::memcpy(dst, data + at, first);
    if (first < size) {
      std::memcpy(static_cast<std::byte*>(dst) + first, data, size - first);
    }
  }

  /// The (up to two) contiguous pieces of [pos, pos + size).
  struct Pieces {
    const std::byte* first;
    std::size_t first_size;
    const std::byte* second;
    std::size_t second_size;
  };
  [[nodiscard]] Pieces pieces(std::uint64_t pos, std::size_t size) const noexcept {
    const std::uint64_t at = pos & mask;
    const std::size_t first =
        static_cast<std::size_t>(capacity - at) < size ? static_cast<std::size_t>(capacity - at) : size;
    return {data + at, first, data, size - first};
  }
};

}  // namespace shmkit::detail
