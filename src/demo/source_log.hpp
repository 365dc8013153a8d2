#pragma once
// One process's log source in the demo: its LogWriter and source id, with
// strictly increasing entry times and the latency of every log() call.

#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/log_writer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "demo/demo.hpp"
#include "demo/latency.hpp"

namespace shmkit::cli::demo {

class SourceLog {
 public:
  /// Connects a LogWriter (block policy) to logger `instance`.
  /// @throws as LogWriter::connect
  SourceLog(const std::string& instance, std::uint8_t source_id)
      : writer_(LogWriter::connect(instance, {.policy = FullPolicy::block})), source_id_(source_id) {}

  /// Logs the source's onset entry; times count from here.
  bool onset() noexcept {
    const bool logged = writer_.write_onset(source_id_);
    payload_bytes_ += logged ? kOnsetPayloadBytes : 0;
    return logged;
  }

  /// Logs `payload` now, in µs since the onset; recording how long log()
  /// took. @returns false when the entry was dropped
  bool log(std::span<const std::byte> payload) noexcept {
    // Two entries of a source must not share a time: it names the entry in
    // the archive.
    const std::uint64_t time = std::max(writer_.elapsed_us(), last_time_ + 1);
    last_time_ = time;
    const std::uint64_t before = ticks();
    const bool logged = writer_.log(source_id_, time, payload);
    latency_.add(ticks() - before);
    payload_bytes_ += logged ? payload.size() : 0;
    return logged;
  }
  bool log(std::string_view text) noexcept { return log(std::as_bytes(std::span(text))); }

  [[nodiscard]] std::uint8_t source_id() const noexcept { return source_id_; }

  /// The logging part of a report: entries, payload bytes, drops, latency.
  void fill(WorkerReport& report) const {
    const LogWriterStats stats = writer_.stats();
    report.logged = stats.logged;
    report.payload_bytes = payload_bytes_;
    report.dropped = stats.dropped;
    report.log = latency_.summary();
  }

 private:
  LogWriter writer_;
  std::uint8_t source_id_;
  std::uint64_t last_time_ = 0;
  std::uint64_t payload_bytes_ = 0;
  LatencyRecorder latency_;
};

}  // namespace shmkit::cli::demo
