#include "demo/frames.hpp"

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xsort.hpp>
#include <xtensor/xview.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

namespace shmkit::cli::demo {

void stamp_frame(std::span<std::uint16_t> frame, std::uint64_t number) noexcept {
  for (std::size_t i = 0; i < kStampPixels; ++i) {
    const auto word = static_cast<std::uint16_t>(number >> (16 * i));
    frame[i] = word;
    frame[frame.size() - kStampPixels + i] = word;
  }
}

std::optional<std::uint64_t> read_stamp(std::span<const std::uint16_t> frame) noexcept {
  std::uint64_t head = 0;
  std::uint64_t tail = 0;
  for (std::size_t i = 0; i < kStampPixels; ++i) {
    head |= std::uint64_t{frame[i]} << (16 * i);
    tail |= std::uint64_t{frame[frame.size() - kStampPixels + i]} << (16 * i);
  }
  if (head != tail) {
    return std::nullopt;
  }
  return head;
}

FrameSynth::FrameSynth(std::size_t height, std::size_t width, double period_s)
    : height_(height),
      width_(width),
      period_s_(period_s),
      radius_(std::max<std::size_t>(2, std::min(height, width) / 10)) {
  background_.resize(height_);
  for (std::size_t y = 0; y < height_; ++y) {
    background_[y] = static_cast<std::uint16_t>(200 + 200 * y / height_);
  }
  // A Gaussian spot of sigma radius / 3, precomputed once: exp() per pixel
  // per frame would cost more than the rest of the camera.
  const std::size_t side = 2 * radius_ + 1;
  const double sigma = static_cast<double>(radius_) / 3.0;
  spot_.resize(side * side);
  for (std::size_t y = 0; y < side; ++y) {
    for (std::size_t x = 0; x < side; ++x) {
      const double dy = static_cast<double>(y) - static_cast<double>(radius_);
      const double dx = static_cast<double>(x) - static_cast<double>(radius_);
      spot_[y * side + x] = static_cast<std::uint16_t>(3000.0 * std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)));
    }
  }
}

void FrameSynth::render(std::uint64_t number, double seconds, std::span<std::uint16_t> out) noexcept {
  // Background plus 3 bits of noise per pixel from a xorshift generator,
  // eight pixels per 64-bit draw.
  std::uint64_t bits = 0;
  for (std::size_t y = 0; y < height_; ++y) {
    std::uint16_t* row = out.data() + y * width_;
    for (std::size_t x = 0; x < width_; ++x) {
      if (x % 8 == 0) {
        noise_state_ ^= noise_state_ << 13;
        noise_state_ ^= noise_state_ >> 7;
        noise_state_ ^= noise_state_ << 17;
        bits = noise_state_;
      }
      row[x] = static_cast<std::uint16_t>(background_[y] + (bits & 7));
      bits >>= 8;
    }
  }
  const double angle = 2 * std::numbers::pi * seconds / period_s_;
  const double cx = static_cast<double>(width_) * (0.5 + 0.3 * std::cos(angle));
  const double cy = static_cast<double>(height_) * (0.5 + 0.3 * std::sin(angle));
  const auto left = static_cast<std::ptrdiff_t>(std::lround(cx)) - static_cast<std::ptrdiff_t>(radius_);
  const auto top = static_cast<std::ptrdiff_t>(std::lround(cy)) - static_cast<std::ptrdiff_t>(radius_);
  const auto side = static_cast<std::ptrdiff_t>(2 * radius_ + 1);
  for (std::ptrdiff_t sy = 0; sy < side; ++sy) {
    const std::ptrdiff_t y = top + sy;
    if (y < 0 || y >= static_cast<std::ptrdiff_t>(height_)) {
      continue;
    }
    for (std::ptrdiff_t sx = 0; sx < side; ++sx) {
      const std::ptrdiff_t x = left + sx;
      if (x >= 0 && x < static_cast<std::ptrdiff_t>(width_)) {
        out[static_cast<std::size_t>(y) * width_ + static_cast<std::size_t>(x)] +=
            spot_[static_cast<std::size_t>(sy * side + sx)];
      }
    }
  }
  stamp_frame(out, number);
}

FrameStats analyse_frame(std::span<const std::uint16_t> frame, std::size_t height, std::size_t width,
                         std::uint64_t number) {
  const auto image =
      xt::adapt(frame.data(), frame.size(), xt::no_ownership(), std::array<std::size_t, 2>{height, width});
  const auto area = xt::view(image, xt::range(1, height - 1), xt::all());
  const double sum = xt::sum<double>(area)();
  const auto flat = xt::flatten(area);
  const auto peak = static_cast<std::size_t>(xt::argmax(flat)());
  FrameStats stats;
  stats.frame = number;
  stats.mean = sum / static_cast<double>((height - 2) * width);
  stats.peak = flat(peak);
  stats.peak_x = static_cast<std::uint32_t>(peak % width);
  stats.peak_y = static_cast<std::uint32_t>(1 + peak / width);
  return stats;
}

xt::xtensor<float, 1> column_profile(std::span<const std::uint16_t> frame, std::size_t height, std::size_t width) {
  const auto image =
      xt::adapt(frame.data(), frame.size(), xt::no_ownership(), std::array<std::size_t, 2>{height, width});
  const auto area = xt::view(image, xt::range(1, height - 1), xt::all());
  return xt::mean(xt::cast<float>(area), {0});
}

}  // namespace shmkit::cli::demo
