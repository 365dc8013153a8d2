#pragma once
// One worker process of `shmkit demo`, as its role functions see it: the
// rig's settings and store, the counters array, the worker's own LogWriter
// with its source id, and the recorder of its frames' latency.

#include <shmkit/array/shared_array.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "demo/config.hpp"
#include "demo/demo.hpp"
#include "demo/source_log.hpp"
#include "demo/store.hpp"

namespace shmkit::cli::demo {

class Worker {
 public:
  using Clock = std::chrono::steady_clock;

  /// Connects to the rig's store (and reads the settings from it), opens the
  /// counters array and connects a LogWriter. @throws what those throw
  Worker(Role role, const std::string& socket_path, RigNames names, int ready_fd, int go_fd);

  [[nodiscard]] Role role() const noexcept { return role_; }
  [[nodiscard]] const DemoConfig& config() const noexcept { return config_; }
  [[nodiscard]] const RigNames& names() const noexcept { return names_; }
  [[nodiscard]] RigStore& store() noexcept { return store_; }
  [[nodiscard]] std::atomic_ref<std::uint64_t> counter(Counter counter) noexcept {
    return counters_.atomic(counter_index(counter));
  }

  /// Tells the parent this worker is ready, waits until the parent starts
  /// every worker at once, then logs the onset entry of this worker's source.
  void start();

  [[nodiscard]] bool stop_requested() noexcept { return counter(kStop).load(std::memory_order_acquire) != 0; }
  /// Sleeps until `deadline`, waking every few ms to look for the stop
  /// request. @returns false when stopping was requested
  bool sleep_until(Clock::time_point deadline);

  /// Logs `payload` now to this worker's source (see SourceLog::log).
  bool log(std::span<const std::byte> payload) noexcept { return log_.log(payload); }
  bool log(std::string_view text) noexcept { return log_.log(text); }

  /// Publish-to-receive times of the frames this worker received.
  [[nodiscard]] NanosecondRecorder& frame_latency() noexcept { return frame_latency_; }

  /// The report of what this worker did, `counts` added; published by name.
  void publish_report(std::map<std::string, std::uint64_t> counts);

 private:
  Role role_;
  RigNames names_;
  RigStore store_;
  DemoConfig config_;
  SharedArray<std::uint64_t> counters_;
  SourceLog log_;
  NanosecondRecorder frame_latency_;
  int ready_fd_;
  int go_fd_;
};

/// The roles: each sets up, calls worker.start(), runs until the stop
/// request and returns its counts for the report.
std::map<std::string, std::uint64_t> run_camera(Worker& worker);
std::map<std::string, std::uint64_t> run_behaviour(Worker& worker);
std::map<std::string, std::uint64_t> run_analysis(Worker& worker);

}  // namespace shmkit::cli::demo
