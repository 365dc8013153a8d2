#pragma once
// SIGINT and SIGTERM for a foreground server command (store, log serve, log
// forward): blocked before the command starts its threads, so every thread
// inherits the mask and the signals arrive only where the main thread waits.

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

}  // namespace shmkit::cli
