#pragma once
// What `shmkit demo` (the parent) and its hidden `demo-worker` processes
// agree on: the workers' roles, the names of one run's shared objects, the
// layout of the counters array, the names values are published under in the
// store, and the report each worker publishes when it stops.
//
// Every shared object of a run is named after the parent's pid
// ("demo-<pid>..."), so runs never collide and `shmkit gc '*demo-<pid>*'`
// finds all of them after a crash.

#include <boost/describe.hpp>

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "demo/latency.hpp"

namespace CLI {
class App;
}

namespace shmkit::cli::demo {

/// The worker processes, in the order they are started.
enum class Role { camera, behaviour, analysis };
inline constexpr std::array<Role, 3> kRoles{Role::camera, Role::behaviour, Role::analysis};

[[nodiscard]] std::string_view role_name(Role role) noexcept;

/// Name of the hidden subcommand a worker process runs.
inline constexpr const char* kWorkerCommand = "demo-worker";

/// The names of one run's shared objects.
struct RigNames {
  std::string prefix;  ///< "demo-<parent pid>"

  static RigNames for_parent(pid_t parent) { return {"demo-" + std::to_string(parent)}; }
  /// The channel of uint16 frames of shape (height, width) (its segment is
  /// Channel::segment_name(frames())).
  [[nodiscard]] std::string frames() const { return prefix + "-frames"; }
  /// SharedArray<uint64_t> of shape (kCounterCount, kCounterStride).
  [[nodiscard]] std::string counters() const { return prefix + "-counters"; }
  /// The DataLogger instance (its segment is "shmkit-log.<prefix>").
  [[nodiscard]] const std::string& logger_instance() const { return prefix; }
};

/// Rows of the counters array. Each counter is column 0 of its own 64-byte
/// row, so the processes that bump different counters never share a cache
/// line.
enum Counter : std::size_t {
  kFramesWritten = 0,  ///< camera: frames it made (the newest is number kFramesWritten - 1)
  kFramesAnalysed,     ///< analysis: frames it computed a result for
  kTrials,             ///< behaviour: trials completed
  kStop,               ///< parent: 1 asks every worker to finish
  kCounterCount
};
inline constexpr std::size_t kCounterStride = 8;
[[nodiscard]] constexpr std::size_t counter_index(Counter counter) noexcept {
  return counter * kCounterStride;
}

/// The store namespace of the rig and the names in it.
inline constexpr const char* kNamespace = "rig";
inline constexpr const char* kConfigName = "config";                     ///< DemoConfig, set by the parent
inline constexpr const char* kBehaviourConfigName = "behaviour.config";  ///< BehaviourSettings
inline constexpr const char* kBehaviourStateName = "behaviour.state";    ///< text, e.g. "trial 3: stimulus left"
inline constexpr const char* kStatsName = "analysis.stats";              ///< FrameStats of the newest result
inline constexpr const char* kProfileName = "analysis.profile";          ///< its column means: float32 array (width)
[[nodiscard]] inline std::string report_name(Role role) {
  return "report." + std::string(role_name(role));
}

/// What the analysis publishes for each frame it analyses.
struct FrameStats {
  std::uint64_t frame = 0;  ///< the number the camera stamped into it
  double mean = 0;
  std::uint16_t peak = 0;  ///< brightest pixel, and where it is
  std::uint32_t peak_x = 0;
  std::uint32_t peak_y = 0;
};
BOOST_DESCRIBE_STRUCT(FrameStats, (), (frame, mean, peak, peak_x, peak_y))

/// What a worker publishes (as `report.<role>`) when it stops.
struct WorkerReport {
  std::uint64_t logged = 0;         ///< entries placed in its log ring, onset included
  std::uint64_t payload_bytes = 0;  ///< of those entries
  std::uint64_t dropped = 0;        ///< entries its ring refused
  LatencySummary log;               ///< producer-side LogWriter::log()
  LatencySummary store_set;         ///< sets of names already bound (rebinds, no server round trip)
  /// Sets of names not bound yet: the server binds them, a round trip.
  LatencySummary store_first_bind;
  LatencySummary store_get;
  /// Reads done once, not in the run's loop: a worker's settings at start,
  /// the rig's reports at the end (large config structs, parsed from YAML).
  LatencySummary store_get_once;
  LatencySummary frame_latency;  ///< analysis: a frame's publish to its receive, across processes
  /// Role-specific counts: camera "frames", "published", "unpublished";
  /// analysis "analysed", "passed_over", "missed", "torn"; behaviour
  /// "trials", "events", "correct".
  std::map<std::string, std::uint64_t> counts;
};
BOOST_DESCRIBE_STRUCT(WorkerReport, (),
                      (logged, payload_bytes, dropped, log, store_set, store_first_bind, store_get, store_get_once,
                       frame_latency, counts))

/// Adds the hidden `demo-worker` subcommand.
void register_worker_command(CLI::App& app);

}  // namespace shmkit::cli::demo
