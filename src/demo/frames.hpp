#pragma once
// The camera's synthetic frames and the analysis' statistic.
//
// A frame is a bright spot (the "animal") circling over a dim gradient with
// a little sensor noise, so that the archives compress as camera images do
// and the analysis has something to find. As many cameras do, a frame
// carries its own counter in its pixels: the first and the last four pixels
// each hold the 64-bit frame number, 16 bits per pixel, least significant
// first. A copy whose two stamps differ was torn by a concurrent write.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "demo/demo.hpp"

namespace shmkit::cli::demo {

inline constexpr std::size_t kStampPixels = 4;

/// Writes `number` into the first and the last kStampPixels pixels.
void stamp_frame(std::span<std::uint16_t> frame, std::uint64_t number) noexcept;

/// The stamped frame number, or nullopt when the two stamps differ.
[[nodiscard]] std::optional<std::uint64_t> read_stamp(std::span<const std::uint16_t> frame) noexcept;

/// Renders the camera's frames.
class FrameSynth {
 public:
  /// Frames of `height` x `width` (each at least 8) whose spot goes round
  /// once every `period_s` seconds.
  FrameSynth(std::size_t height, std::size_t width, double period_s = 4.0);

  /// Renders frame `number`, exposed `seconds` after the start, into `out`
  /// (height * width pixels, C order) and stamps it.
  void render(std::uint64_t number, double seconds, std::span<std::uint16_t> out) noexcept;

 private:
  std::size_t height_;
  std::size_t width_;
  double period_s_;
  std::vector<std::uint16_t> background_;  // one value per row
  std::vector<std::uint16_t> spot_;        // (2 * radius_ + 1)^2 pixels
  std::size_t radius_;
  std::uint64_t noise_state_ = 0x9e3779b97f4a7c15ULL;
};

/// Mean and brightest pixel of a frame's image area (every row but the
/// first and the last, which hold the stamps).
[[nodiscard]] FrameStats analyse_frame(std::span<const std::uint16_t> frame, std::size_t height, std::size_t width,
                                       std::uint64_t number);

/// The mean of every column of the image area: where the spot is, left to
/// right, as a float32 array of `width` values.
[[nodiscard]] xt::xtensor<float, 1> column_profile(std::span<const std::uint16_t> frame, std::size_t height,
                                                   std::size_t width);

}  // namespace shmkit::cli::demo
