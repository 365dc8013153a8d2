#pragma once
// The demo's settings: one described struct, saved and loaded with the
// config module (`shmkit demo --write-config FILE`, `--config FILE`) and
// published in the rig's store, from which every worker process reads it,
// so all of them run with the same settings.

#include <boost/describe.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "demo/demo.hpp"

namespace shmkit::cli::demo {

struct CameraSettings {
  std::uint8_t source_id = 2;  // log source of the frames
  double frame_rate_hz = 30;
  std::uint32_t height = 512;
  std::uint32_t width = 512;
  std::uint32_t channel_slots = 16;  // frames the channel holds: the newest, those subscribers hold, those in flight
};
BOOST_DESCRIBE_STRUCT(CameraSettings, (), (source_id, frame_rate_hz, height, width, channel_slots))

struct BehaviourSettings {
  std::uint8_t source_id = 3;  // log source of the task's events
  std::uint32_t iti_ms = 300;  // inter-trial interval
  std::uint32_t stimulus_ms = 200;
  std::uint32_t response_ms = 300;
  std::uint32_t outcome_ms = 100;
  std::uint64_t seed = 1;  // stimulus sides are drawn from it
};
BOOST_DESCRIBE_STRUCT(BehaviourSettings, (), (source_id, iti_ms, stimulus_ms, response_ms, outcome_ms, seed))

struct AnalysisSettings {
  std::uint8_t source_id = 4;    // log source of the results
  std::string language = "c++";  // or "python": python3 -m shmkit.demo_analysis, with `import shmkit`
};
BOOST_DESCRIBE_STRUCT(AnalysisSettings, (), (source_id, language))

struct LoggerSettings {
  std::uint8_t source_id = 1;  // the rig's own entries: configuration, start, stop
  std::uint32_t ring_mib = 8;  // shared-memory ring of each process
  int compression_level = 1;   // archives: 0 stores members, 1..12 deflates them
};
BOOST_DESCRIBE_STRUCT(LoggerSettings, (), (source_id, ring_mib, compression_level))

struct StoreSettings {
  std::uint32_t capacity_mib = 64;
  // Map the whole arena in every process at start: the store's objects
  // move through the arena, and each first read or write of a page would
  // otherwise be a page fault (~10 us on a VM) inside a store call.
  bool prefault = true;
};
BOOST_DESCRIBE_STRUCT(StoreSettings, (), (capacity_mib, prefault))

struct DemoConfig {
  double seconds = 8;                        // of acquisition; setup and assembly add about 1 s
  std::optional<std::filesystem::path> out;  // null: a new directory under /tmp
  CameraSettings camera;
  BehaviourSettings behaviour;
  AnalysisSettings analysis;
  LoggerSettings logger;
  StoreSettings store;
};
BOOST_DESCRIBE_STRUCT(DemoConfig, (), (seconds, out, camera, behaviour, analysis, logger, store))

/// The log source of a worker's role.
[[nodiscard]] std::uint8_t source_of(Role role, const DemoConfig& config) noexcept;

/// Throws ConfigError("<origin>: <key>: <reason>") for settings the demo
/// cannot run with; a file is checked as strictly as the command line.
void check_config(const DemoConfig& config, const std::string& origin);

}  // namespace shmkit::cli::demo
