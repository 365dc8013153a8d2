#pragma once
// The acquisition phase of `shmkit demo`: the parent sets up the rig (store
// server, frames channel, counters array, logger), starts the worker processes, runs them for
// the configured time (or until Ctrl-C, or until a worker dies), stops them
// and the logger, and removes every shared object. What happened is
// returned for the archive check and the summary.

#include <shmkit/logger/data_logger.hpp>
#include <shmkit/store/store_server.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "demo/config.hpp"
#include "demo/demo.hpp"
#include "demo/processes.hpp"

namespace shmkit::cli::demo {

/// What the acquisition phase leaves for the summary.
struct RunRecord {
  RigNames names;
  pid_t parent_pid = 0;
  std::filesystem::path log_directory;
  double seconds = 0;       ///< from the start signal to the stop request
  std::string stop_reason;  ///< "time is up", "interrupted by SIGINT", "the camera ended"
  std::vector<std::string> problems;
  std::vector<WorkerProcess> workers;
  std::map<Role, WorkerReport> reports;  ///< of the workers that stopped cleanly
  WorkerReport rig;                      ///< the parent's own source and store calls
  std::uint64_t frames_written = 0;
  std::uint64_t frames_analysed = 0;
  std::uint64_t trials = 0;
  LoggerStats logger;
  StoreStats store;  ///< at the end, before the server stopped
};

/// Runs the rig in `out` (which exists). Ctrl-C and SIGTERM stop it early;
/// `signals` counts them. @throws Error when the rig cannot be set up or
/// its workers cannot start (everything created so far is removed)
RunRecord run_rig(const DemoConfig& config, const std::filesystem::path& out, RigSignals& signals);

}  // namespace shmkit::cli::demo
