#pragma once
// Reads an array's dtype and shape from the raw trailer bytes a segment scan
// returns. This lives in the CLI, not in core: core's scanner knows only the
// SegmentTag every kind shares, and must not depend on the array module.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <shmkit/core/segment_scan.hpp>

namespace shmkit::cli {

struct ArrayTrailerInfo {
  std::string dtype;               ///< numpy dtype.str as stored, e.g. "<f4"
  std::vector<std::size_t> shape;  ///< the array's shape
};

/// dtype and shape of an array segment, or nullopt if `segment` is not a
/// shmkit array of the layout version this build reads, or its trailer is
/// inconsistent (ndim too large, unterminated dtype).
std::optional<ArrayTrailerInfo> decode_array_trailer(const SegmentInfo& segment);

}  // namespace shmkit::cli
