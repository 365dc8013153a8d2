// `shmkit demo` as a user runs it: the real binary with a short
// configuration, its archives read back by numpy (tests/cli/demo_check.py),
// a worker killed with SIGKILL mid-run, Ctrl-C to the whole process group,
// and `shmkit gc` after the whole group was SIGKILLed. Every run writes to
// a directory of its own, and the demo names its segments after its pid,
// so the tests run in parallel with each other and the rest of the suite.

#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using shmkit::SharedArray;
using shmkit::testing::CommandResult;
using shmkit::testing::contains;
using shmkit::testing::run_command;
using shmkit::testing::shmkit_binary;
using shmkit::testing::TempDir;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Settings small enough for a test (also under the sanitizers): 128x160
// frames, short trials; `seconds` long enough that a test's own signal,
// not the clock, ends the run.
std::string write_settings(const TempDir& dir, double seconds) {
  const std::string file = (dir.path() / "settings.yaml").string();
  std::ofstream(file) << "seconds: " << seconds
                      << "\n"
                         "camera:\n  frame_rate_hz: 50\n  height: 128\n  width: 160\n  channel_slots: 4\n"
                         "behaviour:\n  iti_ms: 40\n  stimulus_ms: 30\n  response_ms: 30\n  outcome_ms: 20\n"
                         "logger:\n  ring_mib: 2\n"
                         "store:\n  capacity_mib: 8\n";
  return file;
}

// The demo's own segments: every name in /dev/shm that contains
// "demo-<pid>" (its counters array, its frames channel and its logger's
// segment).
std::vector<std::string> demo_segments(pid_t demo) {
  const std::string tag = "demo-" + std::to_string(demo);
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    if (contains(name, tag)) {
      found.push_back(name);
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// The real binary as a child, its stdout and stderr read through one pipe.
// The destructor kills (the group of) a run that is still going, so a
// failing test leaves no rig behind.
class DemoRun {
 public:
  struct Result {
    bool exited = false;
    int exit_code = -1;
    int signal = 0;
    bool timed_out = false;
  };

  /// `own_group`: the demo leads a process group of its own, as a shell's
  /// foreground job does, so that the test can signal the whole rig.
  DemoRun(const std::vector<std::string>& args, bool own_group) : own_group_(own_group) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    std::vector<std::string> full{shmkit_binary()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : full) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      if (own_group) {
        ::setpgid(0, 0);
      }
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(fds[1], STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (own_group) {
      ::setpgid(pid_, pid_);  // also here, so it holds before the test signals the group
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  DemoRun(const DemoRun&) = delete;
  DemoRun& operator=(const DemoRun&) = delete;
  ~DemoRun() {
    if (!result_) {
      ::kill(own_group_ ? -pid_ : pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(fd_);
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& output() const noexcept { return output_; }

  /// Reads output until it contains `text`; false on EOF or timeout.
  bool wait_for_output(std::string_view text, std::chrono::milliseconds timeout = 60s) {
    const auto deadline = Clock::now() + timeout;
    while (!contains(output_, text)) {
      if (Clock::now() >= deadline || !read_some(deadline)) {
        return false;
      }
    }
    return true;
  }

  /// The pid the banner gives for `role` ("  camera     pid 1234, ...").
  [[nodiscard]] std::optional<pid_t> worker_pid(const std::string& role) const {
    std::string label = "  " + role;
    label.resize(13, ' ');
    const auto at = output_.find(label + "pid ");
    if (at == std::string::npos) {
      return std::nullopt;
    }
    return static_cast<pid_t>(std::stol(output_.substr(at + label.size() + 4)));
  }

  /// Reads the rest of the output and reaps the demo; kills it (and says
  /// so) if it does not end within `timeout`.
  Result wait(std::chrono::milliseconds timeout = 120s) {
    const auto deadline = Clock::now() + timeout;
    while (read_some(deadline)) {
    }
    Result result;
    int status = 0;
    while (true) {
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        break;
      }
      if (Clock::now() >= deadline) {
        ::kill(own_group_ ? -pid_ : pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        result.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(1ms);  // output closed, exit imminent: poll the exit itself
    }
    result.exited = WIFEXITED(status);
    result.exit_code = result.exited ? WEXITSTATUS(status) : -1;
    result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    result_ = result;
    return result;
  }

 private:
  // One read; false at EOF or when the deadline passed.
  bool read_some(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    char buffer[4096];
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n <= 0) {
      return false;
    }
    output_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  bool own_group_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
  std::optional<Result> result_;
};

// Waits until the camera of demo `demo` has put `frames` frames in its ring,
// reading the counter the camera bumps (row 0 of "demo-<pid>-counters").
::testing::AssertionResult wait_for_frames(pid_t demo, std::uint64_t frames) {
  const std::string name = "demo-" + std::to_string(demo) + "-counters";
  std::optional<SharedArray<std::uint64_t>> counters;
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    if (!counters) {
      try {
        counters.emplace(SharedArray<std::uint64_t>::open(name));
      } catch (const shmkit::NotFoundError&) {
      }
    }
    if (counters && counters->atomic(0).load() >= frames) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(2ms);
  }
  return ::testing::AssertionFailure() << "the camera of demo " << demo << " did not produce " << frames
                                       << " frames within 60 s";
}

// True once `pid` no longer runs (gone, or a zombie nobody reaped yet).
bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close_paren = text.rfind(')');
  return text.empty() || close_paren == std::string::npos || text.substr(close_paren + 2, 1) == "Z";
}

bool wait_until_gone(pid_t pid) {
  const auto deadline = Clock::now() + 30s;
  while (!process_gone(pid)) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

CommandResult check_with_numpy(const TempDir& out, bool clean) {
  return run_command(shmkit::testing::python() + " " + shmkit::testing::source_dir() + "/tests/cli/demo_check.py " +
                     out.str() + (clean ? " clean" : ""));
}

TEST(DemoTest, ShortRunLogsEverythingAndLeavesNothingBehind) {
  const TempDir out;
  DemoRun demo({"demo", "--config", write_settings(out, 100), "--seconds", "1.5", "--out", out.str()}, false);
  const DemoRun::Result result = demo.wait();
  ASSERT_FALSE(result.timed_out) << demo.output();
  ASSERT_TRUE(result.exited) << demo.output();
  EXPECT_EQ(result.exit_code, 0) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "every entry logged is in the archives; nothing was dropped")) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "read back with LogArchiveReader")) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "set (publish, rebind)")) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "set (first bind, published)")) << demo.output();

  // numpy reads every archive and finds what the summary says, and the
  // summary says nothing was dropped and every frame was logged.
  const CommandResult numpy = check_with_numpy(out, true);
  EXPECT_EQ(numpy.exit_code, 0) << numpy.output << demo.output();
  EXPECT_TRUE(contains(numpy.output, "camera ")) << numpy.output;
  EXPECT_TRUE(contains(numpy.output, "ok\n")) << numpy.output;
  EXPECT_EQ(demo_segments(demo.pid()), std::vector<std::string>{});
  const CommandResult listed = run_command(shmkit_binary() + " ls --json");
  EXPECT_FALSE(contains(listed.output, "demo-" + std::to_string(demo.pid()))) << listed.output;
}

// The same run with the analysis in Python (`import shmkit`): the C++
// parent and behaviour read what it publishes, its results are in its
// archive, and the numpy check finds the run as clean as the C++ one.
TEST(DemoTest, PythonAnalysisMakesAMixedLanguageRigThatLosesNothing) {
  if (SHMKIT_TEST_PYTHON_BINDINGS == 0) {
    GTEST_SKIP() << "built without the Python bindings (-Dpython_bindings=false)";
  }
  const TempDir out;
  DemoRun demo({"demo", "--python", "--config", write_settings(out, 100), "--seconds", "1.5", "--out", out.str()},
               false);
  const DemoRun::Result result = demo.wait();
  ASSERT_FALSE(result.timed_out) << demo.output();
  ASSERT_TRUE(result.exited) << demo.output();
  EXPECT_EQ(result.exit_code, 0) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "in Python (python3 -m shmkit.demo_analysis)")) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "every entry logged is in the archives; nothing was dropped")) << demo.output();
  const CommandResult numpy = check_with_numpy(out, true);
  EXPECT_EQ(numpy.exit_code, 0) << numpy.output << demo.output();
  EXPECT_TRUE(contains(numpy.output, "analysis ")) << numpy.output;
  EXPECT_EQ(demo_segments(demo.pid()), std::vector<std::string>{});
}

TEST(DemoTest, KilledCameraIsReportedAndWhatWasLoggedIsStillAssembled) {
  const TempDir out;
  DemoRun demo({"demo", "--config", write_settings(out, 300), "--out", out.str()}, false);
  ASSERT_TRUE(demo.wait_for_output("  analysis   pid ")) << demo.output();
  const std::optional<pid_t> camera = demo.worker_pid("camera");
  ASSERT_TRUE(camera) << demo.output();
  ASSERT_TRUE(wait_for_frames(demo.pid(), 10)) << demo.output();
  ASSERT_EQ(::kill(*camera, SIGKILL), 0);

  // The run is 300 s long: only noticing the death ends it this soon.
  const DemoRun::Result result = demo.wait(120s);
  ASSERT_FALSE(result.timed_out) << demo.output();
  ASSERT_TRUE(result.exited) << demo.output();
  EXPECT_EQ(result.exit_code, 1) << demo.output();
  const std::string reported = "the camera (pid " + std::to_string(*camera) + ") ended";
  EXPECT_TRUE(contains(demo.output(), reported)) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "killed by SIGKILL")) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "read back with LogArchiveReader")) << demo.output();

  // What the camera logged before it died is in its archive, in order.
  const CommandResult numpy = check_with_numpy(out, false);
  EXPECT_EQ(numpy.exit_code, 0) << numpy.output << demo.output();
  EXPECT_TRUE(contains(numpy.output, "camera ")) << numpy.output;
  const CommandResult strict = check_with_numpy(out, true);
  EXPECT_NE(strict.exit_code, 0) << "a run with a dead camera passed as clean: " << strict.output;
  EXPECT_EQ(demo_segments(demo.pid()), std::vector<std::string>{});
}

TEST(DemoTest, CtrlCStopsEveryProcessAndLeavesNothingInDevShm) {
  const TempDir out;
  DemoRun demo({"demo", "--config", write_settings(out, 300), "--out", out.str()}, true);
  ASSERT_TRUE(demo.wait_for_output("  analysis   pid ")) << demo.output();
  std::vector<pid_t> workers;
  for (const char* role : {"camera", "behaviour", "analysis"}) {
    const std::optional<pid_t> pid = demo.worker_pid(role);
    ASSERT_TRUE(pid) << role << "\n" << demo.output();
    workers.push_back(*pid);
  }
  ASSERT_TRUE(wait_for_frames(demo.pid(), 10)) << demo.output();
  // A terminal's Ctrl-C: SIGINT to every process of the foreground group.
  ASSERT_EQ(::kill(-demo.pid(), SIGINT), 0);

  const DemoRun::Result result = demo.wait(120s);
  ASSERT_FALSE(result.timed_out) << demo.output();
  ASSERT_TRUE(result.exited) << demo.output();
  EXPECT_EQ(result.exit_code, 128 + SIGINT) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "interrupted by SIGINT")) << demo.output();
  for (const pid_t worker : workers) {
    EXPECT_TRUE(process_gone(worker)) << "worker " << worker << " outlived the demo";
  }
  EXPECT_EQ(demo_segments(demo.pid()), std::vector<std::string>{});
  // Everything logged until the interrupt was saved, assembled and checked.
  const CommandResult numpy = check_with_numpy(out, false);
  EXPECT_EQ(numpy.exit_code, 0) << numpy.output << demo.output();
  EXPECT_TRUE(contains(demo.output(), "nothing was dropped")) << demo.output();
}

TEST(DemoTest, SigtermToTheParentAloneStopsTheRigCleanly) {
  const TempDir out;
  DemoRun demo({"demo", "--config", write_settings(out, 300), "--out", out.str()}, false);
  ASSERT_TRUE(demo.wait_for_output("  analysis   pid ")) << demo.output();
  ASSERT_TRUE(wait_for_frames(demo.pid(), 10)) << demo.output();
  ASSERT_EQ(::kill(demo.pid(), SIGTERM), 0);

  const DemoRun::Result result = demo.wait(120s);
  ASSERT_FALSE(result.timed_out) << demo.output();
  EXPECT_EQ(result.exit_code, 128 + SIGTERM) << demo.output();
  EXPECT_TRUE(contains(demo.output(), "interrupted by SIGTERM")) << demo.output();
  EXPECT_EQ(demo_segments(demo.pid()), std::vector<std::string>{});
  const CommandResult numpy = check_with_numpy(out, false);
  EXPECT_EQ(numpy.exit_code, 0) << numpy.output << demo.output();
}

TEST(DemoTest, GcRemovesWhatAKilledProcessGroupLeft) {
  const TempDir out;
  DemoRun demo({"demo", "--config", write_settings(out, 300), "--out", out.str()}, true);
  ASSERT_TRUE(demo.wait_for_output("  analysis   pid ")) << demo.output();
  std::vector<pid_t> processes{demo.pid()};
  for (const char* role : {"camera", "behaviour", "analysis"}) {
    const std::optional<pid_t> pid = demo.worker_pid(role);
    ASSERT_TRUE(pid) << role << "\n" << demo.output();
    processes.push_back(*pid);
  }
  ASSERT_TRUE(wait_for_frames(demo.pid(), 10)) << demo.output();  // its handle is closed on return
  ASSERT_EQ(::kill(-demo.pid(), SIGKILL), 0);
  const DemoRun::Result result = demo.wait(60s);
  ASSERT_FALSE(result.timed_out);
  EXPECT_EQ(result.signal, SIGKILL);
  for (const pid_t pid : processes) {
    ASSERT_TRUE(wait_until_gone(pid)) << "process " << pid << " survived SIGKILL";
  }

  // Nobody could clean up: the counters array, the frames channel and the
  // logger's segment are left...
  const std::string tag = "demo-" + std::to_string(demo.pid());
  EXPECT_EQ(demo_segments(demo.pid()),
            (std::vector<std::string>{tag + "-counters", "shmkit-chan." + tag + "-frames", "shmkit-log." + tag}))
      << demo.output();
  // ...and gc removes them all, because their creator is dead and nobody
  // has them open.
  const CommandResult gc = run_command(shmkit_binary() + " gc '*" + tag + "*'");
  EXPECT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_TRUE(contains(gc.output, "3 removed, 0 kept")) << gc.output;
  EXPECT_EQ(demo_segments(demo.pid()), std::vector<std::string>{});
  // The record files the logger wrote before the kill still assemble.
  const std::string log_dir = (out.path() / (tag + "_data_log")).string();
  const CommandResult assembled = run_command(shmkit_binary() + " log assemble " + log_dir + " --verify");
  EXPECT_EQ(assembled.exit_code, 0) << assembled.output;
  EXPECT_TRUE(std::filesystem::exists(log_dir + "/2_log.npz")) << assembled.output;
}

}  // namespace
