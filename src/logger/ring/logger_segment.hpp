#pragma once
// The logger's shared segment: creation, opening with validation, and
// access to the trailer and rings.

#include <cstdint>
#include <string>
#include <string_view>

#include <shmkit/core/segment.hpp>
#include <shmkit/logger/layout.hpp>

#include "logger/ring/byte_ring.hpp"

namespace shmkit::detail {

class LoggerSegment {
 public:
  /// "shmkit-log.<instance>", after validating the instance name.
  /// @throws NameError
  static std::string segment_name(std::string_view instance);

  /// Creates a new segment. @throws NameError, ExistsError, Error
  static LoggerSegment create(std::string_view instance, std::uint32_t max_writers, std::size_t ring_bytes,
                              mode_t mode);
  /// Opens and validates an existing one.
  /// @throws NameError, NotFoundError (no logger segment for the instance), LayoutError
  static LoggerSegment open(std::string_view instance);

  [[nodiscard]] LoggerTrailer& trailer() const noexcept { return *trailer_; }
  [[nodiscard]] std::uint32_t max_writers() const noexcept { return trailer_->max_writers; }
  [[nodiscard]] RingView ring(std::uint32_t slot) const noexcept;
  [[nodiscard]] const std::string& instance() const noexcept { return instance_; }
  [[nodiscard]] const SharedSegment& segment() const noexcept { return segment_; }

 private:
  LoggerSegment(SharedSegment segment, std::string instance);
  SharedSegment segment_;
  std::string instance_;
  LoggerTrailer* trailer_ = nullptr;
};

}  // namespace shmkit::detail
