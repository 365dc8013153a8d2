#pragma once
/// @file
/// An array's dtype and shape from the raw trailer bytes that a /dev/shm
/// scan (`<shmkit/core/segment_scan.hpp>`) returns: core leaves kind-specific
/// trailers undecoded, so the array module, which owns the layout, decodes
/// its own. `shmkit ls` shows these.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <shmkit/core/segment_scan.hpp>

namespace shmkit {

/// What a scan tells of an array segment.
struct ArraySegmentInfo {
  std::string dtype;               ///< numpy dtype.str as stored, e.g. "<f4"
  std::vector<std::size_t> shape;  ///< the array's shape
};

/// dtype and shape of the array segment `segment`.
/// @returns nullopt if `segment` is not a shmkit array of the layout version
///   this build reads, or its trailer is inconsistent (ndim too large, no
///   dtype). Never throws except std::bad_alloc.
/// Reads only `segment.trailer`: safe from any thread.
[[nodiscard]] std::optional<ArraySegmentInfo> decode_array_segment(const SegmentInfo& segment);

}  // namespace shmkit
