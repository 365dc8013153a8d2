#pragma once
// Latency of the demo's producer-side calls (LogWriter::log, store set and
// get) and of its frames (publish to receive, across processes), recorded
// in the process that sees them and published as a few percentiles in its
// report.

#include <boost/describe.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "cli/common/latency_histogram.hpp"

namespace shmkit::cli::demo {

/// Percentiles of one kind of call, in nanoseconds.
struct LatencySummary {
  std::uint64_t count = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  double p999_ns = 0;
  double max_ns = 0;
};
BOOST_DESCRIBE_STRUCT(LatencySummary, (), (count, p50_ns, p99_ns, p999_ns, max_ns))

/// The percentiles of `count` values in `histogram`, each `ns_per_value` ns.
inline LatencySummary summarise(const LatencyHistogram& histogram, std::uint64_t count, double ns_per_value) {
  if (count == 0) {
    return {};
  }
  auto ns = [&](std::uint64_t value) { return std::round(static_cast<double>(value) * ns_per_value); };
  return {count, ns(histogram.quantile(0.5)), ns(histogram.quantile(0.99)), ns(histogram.quantile(0.999)),
          ns(histogram.max())};
}

/// A histogram of call durations in ticks (cli/common/latency_histogram.hpp), converted to
/// nanoseconds with the tick rate measured over the recorder's lifetime.
class LatencyRecorder {
 public:
  LatencyRecorder()
      : histogram_(std::make_unique<LatencyHistogram>()),  // 70 KiB: not for the stack
        start_(std::chrono::steady_clock::now()),
        start_ticks_(ticks()) {}

  /// Runs `call` and records how long it took, unless it throws (a get
  /// that timed out says nothing about the latency of a get); returns what
  /// `call` returns.
  template <class F>
  decltype(auto) time(F&& call) {
    const std::uint64_t before = ticks();
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      std::forward<F>(call)();
      add(ticks() - before);
    } else {
      decltype(auto) result = std::forward<F>(call)();
      add(ticks() - before);
      return result;
    }
  }

  void add(std::uint64_t elapsed_ticks) noexcept {
    histogram_->add(elapsed_ticks);
    ++count_;
  }

  [[nodiscard]] LatencySummary summary() const {
    const double elapsed_ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start_).count();
    const std::uint64_t elapsed_ticks = ticks() - start_ticks_;
    return summarise(*histogram_, count_, elapsed_ticks > 0 ? elapsed_ns / static_cast<double>(elapsed_ticks) : 1.0);
  }

 private:
  std::unique_ptr<LatencyHistogram> histogram_;
  std::uint64_t count_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::uint64_t start_ticks_;
};

/// Durations measured elsewhere, already in nanoseconds (a frame's
/// publish-to-receive time: two steady_clock readings in two processes).
class NanosecondRecorder {
 public:
  NanosecondRecorder() : histogram_(std::make_unique<LatencyHistogram>()) {}

  void add(std::uint64_t ns) noexcept {
    histogram_->add(ns);
    ++count_;
  }

  [[nodiscard]] LatencySummary summary() const { return summarise(*histogram_, count_, 1.0); }

 private:
  std::unique_ptr<LatencyHistogram> histogram_;
  std::uint64_t count_ = 0;
};

}  // namespace shmkit::cli::demo
