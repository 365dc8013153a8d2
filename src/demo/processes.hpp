#pragma once
// The parent side of the demo's processes: the signals it reacts to, and
// its worker processes.
//
// Workers are started by fork + exec of this very binary (/proc/self/exe)
// running the hidden `demo-worker` subcommand (or, for `--python`, of the
// Python analysis, python/shmkit/demo_analysis.py), not by fork alone: an exec'd
// worker starts from a clean process image and attaches to the rig's
// objects by name, exactly as an independent program of a real rig would,
// and inherits none of the parent's handles or threads (a forked copy of
// the parent's unlink-on-close arrays would remove them when it exits, and
// the store server's and the logger's threads would not exist in it).

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "demo/demo.hpp"

namespace shmkit::cli::demo {

/// SIGINT, SIGTERM and SIGCHLD, blocked in every thread and read from a
/// signalfd, so the parent handles Ctrl-C and a worker's death in its own
/// loop rather than in a signal handler. Construct it before any thread
/// starts: threads inherit the mask, and an unblocked thread would take the
/// default action (death) for the whole process.
class RigSignals {
 public:
  RigSignals();
  RigSignals(const RigSignals&) = delete;
  RigSignals& operator=(const RigSignals&) = delete;
  /// Restores the mask; pending signals are then delivered as usual.
  ~RigSignals();

  /// Waits up to `timeout` for a signal, then takes every pending one.
  /// @returns SIGINT or SIGTERM if one of them came (else 0)
  int wait(std::chrono::milliseconds timeout);
  /// Number of SIGINT/SIGTERM taken so far, and the first of them.
  [[nodiscard]] int interrupts() const noexcept { return interrupts_; }
  [[nodiscard]] int first_interrupt() const noexcept { return first_interrupt_; }
  /// From now on SIGINT and SIGTERM end the process at once (their default
  /// action): for the last phase, when no shared segment is left to clean.
  void release_interrupts();
  /// The mask the process had before, for its children.
  [[nodiscard]] const sigset_t& original_mask() const noexcept { return original_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
  sigset_t blocked_{};
  sigset_t original_{};
  int interrupts_ = 0;
  int first_interrupt_ = 0;
};

/// One worker process.
struct WorkerProcess {
  Role role = Role::camera;
  pid_t pid = -1;
  std::optional<int> status;                         ///< waitpid status once it ended
  std::chrono::steady_clock::time_point ended_at{};  ///< when the parent saw it end
  bool killed_by_parent = false;                     ///< it had to be SIGKILLed at the end
};

/// "SIGINT", "SIGKILL", ...
[[nodiscard]] std::string signal_name(int signal_number);

/// "exited with code 0", "exited with code 1", "killed by SIGKILL".
[[nodiscard]] std::string describe_status(int status);

/// The worker processes; the destructor SIGKILLs and reaps those still
/// running, so no exit path leaves one behind.
class WorkerSet {
 public:
  /// `ready_fd` and `go_fd` are the pipe ends each worker inherits.
  WorkerSet(std::string socket_path, std::string prefix, int ready_fd, int go_fd, const sigset_t& child_mask);
  WorkerSet(const WorkerSet&) = delete;
  WorkerSet& operator=(const WorkerSet&) = delete;
  ~WorkerSet();

  /// Starts the worker of `role`; with `in_python` the analysis is the
  /// Python one (python3 -m shmkit.demo_analysis).
  /// @throws Error when fork fails, or Python was asked of a build without it
  void spawn(Role role, bool in_python = false);
  /// Reaps every worker that has ended, without waiting.
  /// @returns the workers that ended in this call
  std::vector<const WorkerProcess*> reap();
  [[nodiscard]] bool all_ended() const noexcept;
  /// SIGKILLs the workers still running and reaps them.
  void kill_remaining();
  [[nodiscard]] const std::vector<WorkerProcess>& workers() const noexcept { return workers_; }

 private:
  std::string socket_path_;
  std::string prefix_;
  int ready_fd_;
  int go_fd_;
  sigset_t child_mask_;
  std::vector<WorkerProcess> workers_;
};

}  // namespace shmkit::cli::demo
