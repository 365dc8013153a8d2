#pragma once
// Exponential backoff between reconnection attempts: min, 2 min, 4 min ...
// up to max, back to min after a success.

#include <algorithm>
#include <chrono>

namespace shmkit::detail {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max) noexcept
      : min_(std::max(min, std::chrono::milliseconds(1))), max_(std::max(max, min_)), next_(min_) {}
  // The delay before the next attempt; doubles the one after it.
  [[nodiscard]] std::chrono::milliseconds next() noexcept {
    const std::chrono::milliseconds delay = next_;
    next_ = std::min(next_ * 2, max_);
    return delay;
  }
  void reset() noexcept { next_ = min_; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
};

}  // namespace shmkit::detail
