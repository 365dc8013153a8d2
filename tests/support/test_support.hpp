#pragma once
// Helpers shared by the test suite: unique segment names that are removed
// even when a test fails, real child processes with a bounded wait, and a
// pipe to signal between processes (tests never sleep to synchronise).

#include <sys/types.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>

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

/// Success when the child exited with code 0; otherwise says how it ended.
[[nodiscard]] ::testing::AssertionResult exited_ok(const ChildResult& result);

/// Throws std::runtime_error(message) unless `condition`; for checks inside a
/// Child body, where gtest assertions would not reach the parent.
void require(bool condition, const std::string& message);

/// Waits (bounded) until `pid`, a child of this process, has exited, without
/// reaping it: it stays a zombie until Child::wait. False on timeout.
[[nodiscard]] bool wait_until_exited_unreaped(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// Creates `/dev/shm/<name>` outside shmkit (shm_open + ftruncate, mode 0600)
/// with `size` bytes, every byte `fill`: a stand-in for a foreign or damaged
/// segment. Throws std::runtime_error on failure.
void make_raw_segment(std::string_view name, std::size_t size, std::byte fill = std::byte{0});

/// A raw read-write MAP_SHARED mapping of all of `/dev/shm/<name>`, to inspect
/// or corrupt a segment's bytes behind shmkit's back.
class RawMapping {
 public:
  explicit RawMapping(std::string_view name);
  RawMapping(const RawMapping&) = delete;
  RawMapping& operator=(const RawMapping&) = delete;
  ~RawMapping();
  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The segment's last 4 KiB, where every shmkit trailer starts.
  [[nodiscard]] std::byte* trailer() const noexcept { return data_ + size_ - 4096; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Permission bits (st_mode & 07777) of `/dev/shm/<name>`; throws if missing.
[[nodiscard]] mode_t segment_mode(std::string_view name);

/// True when `/dev/shm/<name>` exists.
[[nodiscard]] bool segment_exists(std::string_view name);

/// Sets the process umask for a scope and restores the previous one.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask);
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;
  ~ScopedUmask();

 private:
  mode_t previous_;
};

/// Runs `fn` and checks that it throws exactly an `E` (or a subclass) whose
/// message contains every keyword. Use as
/// `EXPECT_TRUE(throws_with<LayoutError>([&] { ... }, {"<i4", "<f4"}));`.
template <class E, class F>
[[nodiscard]] ::testing::AssertionResult throws_with(F&& fn, std::initializer_list<std::string_view> keywords) {
  try {
    std::forward<F>(fn)();
  } catch (const E& e) {
    const std::string message = e.what();
    for (const std::string_view keyword : keywords) {
      if (message.find(keyword) == std::string::npos) {
        return ::testing::AssertionFailure() << "message lacks \"" << keyword << "\": " << message;
      }
    }
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "expected " << typeid(E).name() << ", got " << typeid(e).name() << ": "
                                         << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "expected " << typeid(E).name() << ", got a non-std exception";
  }
  return ::testing::AssertionFailure() << "expected " << typeid(E).name() << ", nothing was thrown";
}

/// A new directory in the temporary directory, unique to this process and
/// test (mkdtemp), removed with everything in it at scope exit, even if
/// the test made parts of it unwritable.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::string str() const { return path_.string(); }
  [[nodiscard]] std::filesystem::path operator/(std::string_view leaf) const { return path_ / leaf; }

 private:
  std::filesystem::path path_;
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
/// The shmkit command of this build.
[[nodiscard]] std::string shmkit_binary();
/// `shmkit ARGUMENTS` through /bin/sh, capturing stdout+stderr.
CommandResult shmkit_command(std::string_view arguments);
/// Whether `text` contains `part` (for checking command output).
[[nodiscard]] bool contains(std::string_view text, std::string_view part);

}  // namespace shmkit::testing
