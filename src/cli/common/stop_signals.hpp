#pragma once
// SIGINT and SIGTERM for a foreground server command. StopSignals (store,
// log serve, log forward): blocked before the command starts its threads,
// so every thread inherits the mask and the signals arrive only where the
// main thread waits. run_until_stopped (bridge, log collect): the command's
// loop runs in the calling thread and a handler asks it to stop.

#include <signal.h>

namespace shmkit::cli {

class StopSignals {
 public:
  /// Blocks SIGINT and SIGTERM in the calling thread (and the threads it
  /// starts from now on). @throws std::system_error when they cannot be blocked
  StopSignals();

  /// Waits for one of them; @returns it (SIGINT or SIGTERM).
  int wait() const;

  /// "SIGINT" or "SIGTERM".
  static const char* name(int signal) noexcept;

 private:
  sigset_t set_{};
};

/// While it exists, SIGINT and SIGTERM call `stop(target)` (which must be
/// async-signal-safe); afterwards they do nothing.
class StopHandler {
 public:
  StopHandler(void* target, void (*stop)(void*) noexcept);
  StopHandler(const StopHandler&) = delete;
  StopHandler& operator=(const StopHandler&) = delete;
  ~StopHandler();
};

/// Runs `runner.run()` in the calling thread until it returns; SIGINT and
/// SIGTERM meanwhile call `runner.stop()`, which must be async-signal-safe
/// (Bridge and LogCollector set a flag and write an eventfd).
template <class Runner>
void run_until_stopped(Runner& runner) {
  const StopHandler handler(&runner, [](void* r) noexcept { static_cast<Runner*>(r)->stop(); });
  runner.run();
}

}  // namespace shmkit::cli
