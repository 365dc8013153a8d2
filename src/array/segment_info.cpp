#include <shmkit/array/layout.hpp>
#include <shmkit/array/segment_info.hpp>

#include <cstdint>
#include <cstring>

namespace shmkit {

namespace {

template <class T>
T read_at(const std::vector<std::byte>& bytes, std::size_t offset) noexcept {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

}  // namespace

std::optional<ArraySegmentInfo> decode_array_segment(const SegmentInfo& segment) {
  if (!segment.is_shmkit || segment.segment_kind() != SegmentKind::array ||
      segment.layout_version != kArrayLayoutVersion || segment.trailer.size() < sizeof(ArrayTrailer)) {
    return std::nullopt;
  }
  // Field by field at the offsets layout.hpp pins: the trailer holds a mutex
  // and atomics, so it is never copied as a whole.
  const auto& bytes = segment.trailer;
  char dtype[sizeof ArrayTrailer::dtype + 1] = {};
  std::memcpy(dtype, bytes.data() + offsetof(ArrayTrailer, dtype), sizeof ArrayTrailer::dtype);
  const auto ndim = read_at<std::uint32_t>(bytes, offsetof(ArrayTrailer, ndim));
  if (ndim > kMaxDims || dtype[0] == '\0') {
    return std::nullopt;
  }
  ArraySegmentInfo info;
  info.dtype = dtype;
  for (std::uint32_t axis = 0; axis < ndim; ++axis) {
    info.shape.push_back(read_at<std::uint64_t>(bytes, offsetof(ArrayTrailer, shape) + axis * sizeof(std::uint64_t)));
  }
  return info;
}

}  // namespace shmkit
