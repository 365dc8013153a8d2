#pragma once
// Helpers shared by the test suite: unique segment names that are removed
// even when a test fails, real child processes with a bounded wait, and a
// pipe to signal between processes (tests never sleep to synchronise).

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace shmkit::testing {

/// A name unique to this process, test and call ("shmkit-test-<pid>-<test>-<n>"),
/// unlinked from /dev/shm when the object goes out of scope.
class ScopedName {
 public:
  explicit ScopedName(std::string_view tag = {});
  ScopedName(const ScopedName&) = delete;
  ScopedName& operator=(const ScopedName&) = delete;
  ~ScopedName();
  [[nodiscard]] const std::string& str() const noexcept { return name_; }
  operator std::string_view() const noexcept { return name_; }  // NOLINT(google-explicit-constructor)

 private:
  std::string name_;
};

/// Outcome of a child process.
struct ChildResult {
  bool exited = false;     ///< exited normally (else killed by a signal)
  int exit_code = -1;      ///< valid when exited
  int signal = 0;          ///< valid when !exited
  bool timed_out = false;  ///< the harness killed it after the timeout
};

/// A forked child running `body`; exit code 0 if it returns, 1 if it throws
/// (the message goes to stderr). The destructor SIGKILLs and reaps a child
/// that is still running, so a failing test never leaves one behind.
class Child {
 public:
  explicit Child(std::function<void()> body);
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Waits up to `timeout`; on timeout SIGKILLs the child and says so.
  ChildResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Sends SIGKILL and reaps.
  ChildResult kill_and_wait();

 private:
  pid_t pid_ = -1;
};

/// A one-way pipe usable across fork(): one side notifies, the other waits.
class Signal {
 public:
  Signal();
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  ~Signal();
  void notify() const;
  /// True if notified within `timeout`.
  [[nodiscard]] bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  int fds_[2] = {-1, -1};
};

/// Runs a command line through /bin/sh, capturing stdout+stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::string& command_line);

/// The python interpreter with numpy the build was configured with.
[[nodiscard]] std::string python();
/// Absolute path of the source tree (for python/ and scripts).
[[nodiscard]] std::string source_dir();
/// Absolute path of the build tree (for the shmkit binary).
[[nodiscard]] std::string build_dir();

}  // namespace shmkit::testing
