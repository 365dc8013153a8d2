#pragma once
// What `shmkit demo` (the parent) and its hidden `demo-worker` processes
// agree on: the layout of the shared array they use, and how a worker is
// started.
//
// The array is uint64 with shape (workers + 2, 8). Each row is 64 bytes, a
// cache line of its own, so every counter sits on its own line and the
// measured rates show the cost of the operation, not of false sharing.
//
//   row 0, column 0      incremented by every worker under the array's lock
//   row 1, column 0      incremented by every worker with atomic fetch_add
//   row 2 + w            worker w's own row: column 0 is its unlocked
//                        counter; the other columns are its report, written
//                        once when it is done (see WorkerColumn)

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>

namespace shmkit::cli::demo {

inline constexpr std::size_t kRowWidth = 8;
inline constexpr std::size_t kLockedRow = 0;
inline constexpr std::size_t kAtomicRow = 1;
inline constexpr std::size_t kFirstWorkerRow = 2;

/// Columns of a worker's row.
enum WorkerColumn : std::size_t {
  kOwnCounter = 0,  ///< incremented without lock or atomics (only this worker touches it)
  kOwnDone,         ///< how many unlocked increments the worker made
  kLockedDone,      ///< how many locked increments of row 0
  kAtomicDone,      ///< how many fetch_adds on row 1
  kOwnNanos,        ///< time spent on each of the three phases
  kLockedNanos,
  kAtomicNanos,
  kFinished,  ///< 1 once the report above is complete
};

/// Name of the hidden subcommand a worker process runs.
inline constexpr const char* kWorkerCommand = "demo-worker";

/// Adds the hidden `demo-worker` subcommand.
void register_worker_command(CLI::App& app);

}  // namespace shmkit::cli::demo
