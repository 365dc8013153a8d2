#pragma once
// Latency recording for `shmkit log bench` and the demo: a cheap tick
// source and a log-linear histogram (exact below 2048 ticks, 1/128 relative
// resolution above), small enough to send through a pipe and merge across
// processes.

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace shmkit::cli {

/// A raw tick: the TSC on x86-64 (a few ns to read, unlike clock_gettime,
/// so the measurement barely adds to the ~50 ns it measures); steady_clock
/// nanoseconds elsewhere. Converted with a ratio calibrated over the run.
inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

class LatencyHistogram {
 public:
  static constexpr std::uint64_t kExact = 2048;
  static constexpr unsigned kSubBits = 7;
  static constexpr std::size_t kBuckets = kExact + (64 - 11) * (std::size_t{1} << kSubBits);

  void add(std::uint64_t value) noexcept { ++counts_[index(value)]; }

  void merge(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) {
      counts_[i] += other.counts_[i];
    }
  }

  /// The value below which `fraction` of the samples lie (bucket's lower edge).
  [[nodiscard]] std::uint64_t quantile(double fraction) const noexcept {
    std::uint64_t total = 0;
    for (const auto c : counts_) {
      total += c;
    }
    const auto rank = static_cast<std::uint64_t>(fraction * static_cast<double>(total));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) {
        return value_of(i);
      }
    }
    return max();
  }

  [[nodiscard]] std::uint64_t max() const noexcept {
    for (std::size_t i = kBuckets; i-- > 0;) {
      if (counts_[i] != 0) {
        return value_of(i);
      }
    }
    return 0;
  }

 private:
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < kExact) {
      return static_cast<std::size_t>(v);
    }
    const unsigned exponent = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= 11
    const std::uint64_t mantissa = (v >> (exponent - kSubBits)) & ((1U << kSubBits) - 1);
    return kExact + (exponent - 11) * (std::size_t{1} << kSubBits) + static_cast<std::size_t>(mantissa);
  }
  static std::uint64_t value_of(std::size_t i) noexcept {
    if (i < kExact) {
      return i;
    }
    const std::size_t k = i - kExact;
    const unsigned exponent = static_cast<unsigned>(k >> kSubBits) + 11;
    const std::uint64_t mantissa = (std::uint64_t{1} << kSubBits) + (k & ((1U << kSubBits) - 1));
    return mantissa << (exponent - kSubBits);
  }

  std::array<std::uint64_t, kBuckets> counts_{};
};

}  // namespace shmkit::cli
