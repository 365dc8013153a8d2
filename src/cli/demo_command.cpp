// shmkit demo [--processes N] [--increments K | --seconds S]
//
// Issue-2 version of the demo: N worker processes share one array and each
// updates it three ways: its own element without any synchronisation, a
// shared element under the array's lock, and another shared element with
// atomic fetch_add. The parent then checks that no increment was lost and
// prints the rate of each kind of update.
//
// Workers are started by fork + exec of this very binary (/proc/self/exe)
// running the hidden `demo-worker` subcommand, not by fork alone: an exec'd
// worker starts from a clean process image and attaches to the array by
// name, exactly as an independent program of a real rig would, and it
// inherits none of the parent's handles (a forked copy of the parent's
// unlink-on-close handle would remove the array when the child exits).

#include <shmkit/array/shared_array.hpp>
#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/describe.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "commands.hpp"
#include "demo.hpp"
#include "format.hpp"
#include "table.hpp"

namespace shmkit::cli {

namespace {

using namespace demo;  // NOLINT(google-build-using-namespace): the layout constants read better bare

constexpr int kMaxProcesses = 256;

// Also the demo's configuration file (`--config`, `--write-config`).
struct DemoOptions {
  int processes = 4;
  std::uint64_t increments = 200'000;
  double seconds = 0;  // > 0: run each operation this long instead of `increments` times
};
BOOST_DESCRIBE_STRUCT(DemoOptions, (), (processes, increments, seconds))

// A configuration file is checked as strictly as the command line.
void check_options(const DemoOptions& options, const std::string& origin) {
  auto fail = [&](const std::string& reason) { throw ConfigError(origin + ": " + reason); };
  if (options.processes < 1 || options.processes > kMaxProcesses) {
    fail("processes must be 1.." + std::to_string(kMaxProcesses) + ", not " + std::to_string(options.processes));
  }
  if (options.increments < 1) {
    fail("increments must be at least 1");
  }
  if (!(options.seconds >= 0)) {
    fail("seconds must be 0 (use increments) or positive");
  }
}

// ---- cleanup on Ctrl-C ------------------------------------------------------
//
// The handler may only use async-signal-safe calls, so what it needs is kept
// in plain static storage: the array's path and the workers' pids.

char g_array_path[kMaxNameLength + 2] = {};
std::array<std::atomic<pid_t>, kMaxProcesses> g_workers{};

extern "C" void on_interrupt(int signal_number) {
  for (auto& worker : g_workers) {
    if (const pid_t pid = worker.load(); pid > 0) {
      ::kill(pid, SIGKILL);
    }
  }
  if (g_array_path[0] != '\0') {
    ::shm_unlink(g_array_path);
  }
  // Die of the same signal, so the shell sees an interrupted command.
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

// Installs the handler for SIGINT and SIGTERM for its lifetime.
class InterruptCleanup {
 public:
  explicit InterruptCleanup(const std::string& array_name) {
    std::snprintf(g_array_path, sizeof g_array_path, "/%s", array_name.c_str());
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
  }
  InterruptCleanup(const InterruptCleanup&) = delete;
  InterruptCleanup& operator=(const InterruptCleanup&) = delete;
  ~InterruptCleanup() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    for (auto& worker : g_workers) {
      worker.store(0);
    }
    g_array_path[0] = '\0';
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// ---- starting and reaping workers -------------------------------------------

struct Pipe {
  int read = -1;
  int write = -1;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    detail::throw_system_error("cannot create a pipe for the demo workers", errno);
  }
  return {fds[0], fds[1]};
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

pid_t spawn_worker(const std::vector<std::string>& args, const Pipe& ready, const Pipe& go) {
  // argv is built before fork: the child only makes async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));  // execv's signature predates const
  }
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    detail::throw_system_error("cannot start a demo worker process", errno);
  }
  if (pid == 0) {
    // A worker must not outlive a parent that was SIGKILLed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    // Keep exactly the two pipe ends the worker needs across exec.
    ::fcntl(ready.write, F_SETFD, 0);
    ::fcntl(go.read, F_SETFD, 0);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for every worker; returns the number that did not exit with 0.
int reap(std::vector<pid_t>& pids) {
  int failed = 0;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    while (::waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
    }
    g_workers[i].store(0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ++failed;
    }
  }
  pids.clear();
  return failed;
}

void kill_all(std::vector<pid_t>& pids) {
  for (const pid_t pid : pids) {
    ::kill(pid, SIGKILL);
  }
  reap(pids);
}

// Reads from the ready pipe until EOF: one byte per worker that opened the
// array. EOF comes once every worker has reported or died.
int count_ready(int fd) {
  int ready = 0;
  char buffer[64];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return ready;
    }
    ready += static_cast<int>(n);
  }
}

// ---- the report -------------------------------------------------------------

std::string unique_name() {
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", random());
  return "shmkit-demo-" + std::to_string(::getpid()) + "-" + suffix;
}

std::string rate_string(double ops_per_second) {
  char text[32];
  if (ops_per_second >= 1e9) {
    std::snprintf(text, sizeof text, "%.2f G/s", ops_per_second / 1e9);
  } else if (ops_per_second >= 1e6) {
    std::snprintf(text, sizeof text, "%.2f M/s", ops_per_second / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.1f k/s", ops_per_second / 1e3);
  }
  return text;
}

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

struct Operation {
  const char* label;
  WorkerColumn done;
  WorkerColumn nanos;
};

constexpr std::array<Operation, 3> kOperations{{
    {"own element, unlocked", kOwnDone, kOwnNanos},
    {"shared element, locked", kLockedDone, kLockedNanos},
    {"shared element, atomic", kAtomicDone, kAtomicNanos},
}};

// Prints the summary and returns the descriptions of any wrong totals.
std::vector<std::string> report(const SharedArray<std::uint64_t>& array, const DemoOptions& options) {
  const auto workers = static_cast<std::size_t>(options.processes);
  const std::uint64_t* data = array.data();
  auto cell = [&](std::size_t row, std::size_t column) { return data[row * kRowWidth + column]; };
  const bool counted = options.seconds <= 0;

  std::vector<std::string> problems;
  Table table({{"OPERATION"},
               {"PER PROCESS", Table::Align::right},
               {"NS/OP", Table::Align::right},
               {"TOTAL", Table::Align::right},
               {"EXPECTED", Table::Align::right},
               {"OK"}});
  for (const Operation& op : kOperations) {
    std::uint64_t reported = 0;
    double rate_sum = 0;
    double nanos_per_op_sum = 0;
    for (std::size_t w = 0; w < workers; ++w) {
      const std::size_t row = kFirstWorkerRow + w;
      const std::uint64_t done = cell(row, op.done);
      const double nanos = static_cast<double>(cell(row, op.nanos));
      reported += done;
      rate_sum += nanos > 0 ? static_cast<double>(done) * 1e9 / nanos : 0;
      nanos_per_op_sum += done > 0 ? nanos / static_cast<double>(done) : 0;
      if (op.done == kOwnDone && cell(row, kOwnCounter) != done) {
        problems.push_back("worker " + std::to_string(w) + "'s own element is " +
                           std::to_string(cell(row, kOwnCounter)) + ", expected " + std::to_string(done));
      }
    }
    // Counted runs know the answer in advance; timed runs check the shared
    // counters against what the workers say they did.
    const std::uint64_t expected = counted ? options.increments * workers : reported;
    std::uint64_t total = reported;
    if (op.done == kLockedDone) {
      total = cell(kLockedRow, 0);
    } else if (op.done == kAtomicDone) {
      total = cell(kAtomicRow, 0);
    } else {
      total = 0;
      for (std::size_t w = 0; w < workers; ++w) {
        total += cell(kFirstWorkerRow + w, kOwnCounter);
      }
    }
    const bool ok = total == expected && reported == expected;
    if (!ok) {
      problems.push_back(std::string(op.label) + ": total " + std::to_string(total) + ", workers reported " +
                         std::to_string(reported) + ", expected " + std::to_string(expected));
    }
    const double n = static_cast<double>(workers);
    table.add_row({op.label, rate_string(rate_sum / n), fixed(nanos_per_op_sum / n, 1), std::to_string(total),
                   std::to_string(expected), ok ? "yes" : "NO"});
  }
  table.print(std::cout);
  return problems;
}

// ---- the command ------------------------------------------------------------

void run_demo(const DemoOptions& options) {
  const auto workers = static_cast<std::size_t>(options.processes);
  const std::string name = unique_name();
  // The handler goes in first: from the moment the array exists, Ctrl-C
  // must remove it. Destruction runs in reverse, so the array is gone before
  // the handler is.
  const InterruptCleanup cleanup(name);
  ArrayOptions<std::uint64_t> array_options;
  array_options.unlink_on_close = true;  // gone when we return or throw
  auto array = SharedArray<std::uint64_t>::create(name, {kFirstWorkerRow + workers, kRowWidth}, array_options);

  std::cout << "shmkit demo: " << workers << " worker processes share array '" << name << "' (uint64, shape "
            << shape_string(array.shape()) << ")\n"
            << "each worker increments its own element (unlocked), a shared element (under the lock) and another "
               "shared element (atomic fetch_add), "
            << (options.seconds > 0 ? fixed(options.seconds, 2) + " s each"
                                    : std::to_string(options.increments) + " times each")
            << "\n\n"
            << std::flush;  // now, so a watcher sees the array's name while the workers run

  Pipe ready = make_pipe();
  Pipe go = make_pipe();
  auto worker_args = [&](std::size_t w) -> std::vector<std::string> {
    const bool timed = options.seconds > 0;
    return {"shmkit",
            kWorkerCommand,
            "--array",
            name,
            "--worker",
            std::to_string(w),
            timed ? "--seconds" : "--increments",
            timed ? std::to_string(options.seconds) : std::to_string(options.increments),
            "--ready-fd",
            std::to_string(ready.write),
            "--go-fd",
            std::to_string(go.read)};
  };

  std::vector<pid_t> pids;
  try {
    for (std::size_t w = 0; w < workers; ++w) {
      pids.push_back(spawn_worker(worker_args(w), ready, go));
      g_workers[w].store(pids.back());
    }
  } catch (...) {
    kill_all(pids);
    throw;
  }
  // Only the workers may hold these ends now: that is what makes EOF on the
  // ready pipe mean "all reported", and EOF on the go pipe mean "start".
  close_fd(ready.write);
  close_fd(go.read);
  const int started = count_ready(ready.read);
  close_fd(ready.read);
  if (started != options.processes) {
    close_fd(go.write);
    kill_all(pids);
    throw Error("only " + std::to_string(started) + " of " + std::to_string(workers) +
                " demo workers started (see their messages above)");
  }
  const auto start = std::chrono::steady_clock::now();
  close_fd(go.write);
  const int failed = reap(pids);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed > 0) {
    throw Error(std::to_string(failed) + " of " + std::to_string(workers) + " demo workers failed");
  }

  const std::vector<std::string> problems = report(array, options);
  std::cout << '\n';
  if (!problems.empty()) {
    std::string message = "increments were lost:";
    for (const std::string& problem : problems) {
      message += "\n  " + problem;
    }
    throw Error(message);
  }
  std::cout << "all totals exact; " << workers << " workers finished in " << fixed(elapsed, 2)
            << " s; the array is removed on exit\n";
}

}  // namespace

void register_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand("demo",
                                     "Run worker processes that update one shared array three ways and check "
                                     "that no update is lost");
  cmd->add_option("--processes,-p", options->processes, "Number of worker processes")
      ->check(CLI::Range(1, kMaxProcesses))
      ->capture_default_str();
  auto* increments = cmd->add_option("--increments,-k", options->increments, "Increments per operation per worker")
                         ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
                         ->capture_default_str();
  cmd->add_option("--seconds,-t", options->seconds, "Run each operation for this long instead of a fixed count")
      ->check(CLI::PositiveNumber)
      ->excludes(increments);
  auto config_file = std::make_shared<std::string>();
  auto write_config = std::make_shared<std::string>();
  cmd->add_option("--config,-c", *config_file,
                  "Read the options from this YAML file first; options on the command line override it");
  cmd->add_option("--write-config", *write_config,
                  "Write the options (defaults + overrides) to this YAML file and exit");
  cmd->footer("Ctrl-C stops the workers and removes the array. Nothing is left in /dev/shm afterwards.");
  cmd->callback([cmd, options, config_file, write_config] {
    DemoOptions effective = *options;
    if (!config_file->empty()) {
      effective = from_yaml<DemoOptions>(*config_file);
      check_options(effective, *config_file);
      // What the command line says explicitly wins over the file.
      if (cmd->count("--processes") > 0) {
        effective.processes = options->processes;
      }
      if (cmd->count("--increments") > 0) {
        effective.increments = options->increments;
        effective.seconds = 0;
      }
      if (cmd->count("--seconds") > 0) {
        effective.seconds = options->seconds;
      }
    }
    if (!write_config->empty()) {
      to_yaml(effective, *write_config);
      std::cout << "wrote the demo's options to " << *write_config << '\n';
      return;
    }
    run_demo(effective);
  });
  demo::register_worker_command(app);
}

}  // namespace shmkit::cli
