#pragma once
/// @file
/// The byte layout of a shared-array segment. Python (python/shmkit_array.py)
/// and `shmkit ls` read this layout directly, so every offset is pinned by a
/// static_assert; changing one means bumping kArrayLayoutVersion.
///
/// ```
/// offset 0                 the array's C-order bytes (page aligned), so
///                          numpy can use the segment as a buffer at offset 0
/// round_up(nbytes, page)   trailer pages; the ArrayTrailer starts
///                          kTrailerBytes before the end of the segment
/// ```

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <shmkit/core/robust_mutex.hpp>
#include <shmkit/core/segment.hpp>

namespace shmkit {

inline constexpr std::uint32_t kArrayLayoutVersion = 1;

/// Most dimensions an array can have.
inline constexpr std::size_t kMaxDims = 16;

/// `ArrayTrailer::flags` bit: the creator's handle unlinks the name on close.
inline constexpr std::uint32_t kUnlinkOnCreatorClose = 1U;

struct ArrayTrailer {
  SegmentTag tag;                 ///< kind == SegmentKind::array
  char dtype[8];                  ///< numpy dtype.str, NUL padded: "<f4"
  std::uint32_t item_size;        ///< bytes per element
  std::uint32_t ndim;             ///< 0..kMaxDims
  std::uint64_t data_bytes;       ///< product(shape) * item_size
  std::uint64_t shape[kMaxDims];  ///< first ndim entries used
  std::uint32_t flags;            ///< kUnlinkOnCreatorClose
  std::uint32_t reserved;
  alignas(64) RobustMutex lock;  ///< guards locked reads and writes
  /// Seqlock counter: odd while a lock holder may be writing. Readers of
  /// `snapshot()` retry until they copy between two equal, even values.
  alignas(64) std::atomic<std::uint64_t> sequence;
};

static_assert(std::is_standard_layout_v<ArrayTrailer>, "ArrayTrailer lives in shared memory");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the seqlock counter must be lock-free");
static_assert(offsetof(ArrayTrailer, dtype) == 40, "python/shmkit_array.py reads dtype at offset 40");
static_assert(offsetof(ArrayTrailer, item_size) == 48);
static_assert(offsetof(ArrayTrailer, ndim) == 52, "python/shmkit_array.py reads ndim at offset 52");
static_assert(offsetof(ArrayTrailer, data_bytes) == 56);
static_assert(offsetof(ArrayTrailer, shape) == 64, "python/shmkit_array.py reads shape at offset 64");
static_assert(offsetof(ArrayTrailer, flags) == 192);
static_assert(offsetof(ArrayTrailer, lock) == 256, "the lock gets its own cache line");
static_assert(offsetof(ArrayTrailer, sequence) % 64 == 0 && offsetof(ArrayTrailer, sequence) >= 256 + 40,
              "the seqlock counter must not share a cache line with the lock");
static_assert(sizeof(ArrayTrailer) <= kTrailerBytes, "the trailer must fit its reserved page");

}  // namespace shmkit
