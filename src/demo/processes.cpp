#include "demo/processes.hpp"

#include <shmkit/core/error.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace shmkit::cli::demo {

namespace {

// What a worker process runs: this binary's hidden subcommand, or for the
// Python analysis `python3 -m shmkit.demo_analysis`, with the in-tree
// package (build/python, beside this build's src/cli/shmkit) put first on
// PYTHONPATH so a build that is not installed runs its own bindings.
struct WorkerProgram {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> environment;
};

#ifdef SHMKIT_DEMO_PYTHON
// Only a build with the Python bindings runs the analysis in Python.
std::vector<std::string> environment_with_python_path() {
  std::vector<std::string> out;
  std::string python_path;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.starts_with("PYTHONPATH=")) {
      python_path = text.substr(std::string_view("PYTHONPATH=").size());
    } else {
      out.emplace_back(text);
    }
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path in_tree = exe.parent_path().parent_path().parent_path() / "python";
  if (!ec && std::filesystem::exists(in_tree / "shmkit" / "__init__.py", ec)) {
    python_path = in_tree.string() + (python_path.empty() ? "" : ":" + python_path);
  }
  if (!python_path.empty()) {
    out.push_back("PYTHONPATH=" + python_path);
  }
  return out;
}
#endif

WorkerProgram worker_program(Role role, bool in_python, const std::vector<std::string>& options) {
  WorkerProgram program;
  if (role == Role::analysis && in_python) {
#ifdef SHMKIT_DEMO_PYTHON
    program.path = SHMKIT_DEMO_PYTHON;
    program.args = {program.path, "-m", "shmkit.demo_analysis"};
    program.environment = environment_with_python_path();
#else
    throw Error(
        "this shmkit was built without its Python bindings, so the demo cannot run a Python analysis; "
        "rebuild with -Dpython_bindings=true");
#endif
  } else {
    program.path = "/proc/self/exe";
    program.args = {"shmkit", kWorkerCommand, "--role", std::string(role_name(role))};
    for (char** entry = environ; *entry != nullptr; ++entry) {
      program.environment.emplace_back(*entry);
    }
  }
  program.args.insert(program.args.end(), options.begin(), options.end());
  return program;
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) {
    out.push_back(const_cast<char*>(s.c_str()));  // exec's signature predates const
  }
  out.push_back(nullptr);
  return out;
}

}  // namespace

RigSignals::RigSignals() {
  // A reader of the rig's output that goes away (`shmkit demo | head`) must
  // not kill it before it has cleaned up: writes to a closed pipe then just
  // fail, and the run ends as it would have.
  std::signal(SIGPIPE, SIG_IGN);
  sigemptyset(&blocked_);
  sigaddset(&blocked_, SIGINT);
  sigaddset(&blocked_, SIGTERM);
  sigaddset(&blocked_, SIGCHLD);
  if (const int rc = pthread_sigmask(SIG_BLOCK, &blocked_, &original_); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "cannot block SIGINT, SIGTERM and SIGCHLD");
  }
  fd_ = ::signalfd(-1, &blocked_, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) {
    const int err = errno;
    pthread_sigmask(SIG_SETMASK, &original_, nullptr);
    detail::throw_system_error("cannot create a signalfd for the demo", err);
  }
}

RigSignals::~RigSignals() {
  // Signals still pending would be delivered the moment the mask is
  // restored; they were meant for the loop that no longer runs.
  (void)wait(std::chrono::milliseconds(0));
  ::close(fd_);
  pthread_sigmask(SIG_SETMASK, &original_, nullptr);
}

int RigSignals::wait(std::chrono::milliseconds timeout) {
  pollfd entry{fd_, POLLIN, 0};
  while (::poll(&entry, 1, static_cast<int>(timeout.count())) < 0 && errno == EINTR) {
  }
  int interrupt = 0;
  signalfd_siginfo info{};
  while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    const auto signal_number = static_cast<int>(info.ssi_signo);
    if (signal_number == SIGINT || signal_number == SIGTERM) {
      interrupt = signal_number;
      if (interrupts_++ == 0) {
        first_interrupt_ = signal_number;
      }
    }
  }
  return interrupt;
}

void RigSignals::release_interrupts() {
  (void)wait(std::chrono::milliseconds(0));
  sigset_t interrupts;
  sigemptyset(&interrupts);
  sigaddset(&interrupts, SIGINT);
  sigaddset(&interrupts, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &interrupts, nullptr);
}

std::string signal_name(int signal_number) {
  const char* abbreviation = ::sigabbrev_np(signal_number);
  return abbreviation != nullptr ? "SIG" + std::string(abbreviation) : "signal " + std::to_string(signal_number);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) {
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return "killed by " + signal_name(WTERMSIG(status));
  }
  return "ended with status " + std::to_string(status);
}

WorkerSet::WorkerSet(std::string socket_path, std::string prefix, int ready_fd, int go_fd, const sigset_t& child_mask)
    : socket_path_(std::move(socket_path)),
      prefix_(std::move(prefix)),
      ready_fd_(ready_fd),
      go_fd_(go_fd),
      child_mask_(child_mask) {
  workers_.reserve(kRoles.size());  // reap() hands out pointers into it
}

WorkerSet::~WorkerSet() {
  kill_remaining();
}

void WorkerSet::spawn(Role role, bool in_python) {
  // Everything is prepared before fork: the parent has threads (the store
  // server, the logger), so the child may only make async-signal-safe calls
  // until it execs.
  const WorkerProgram program = worker_program(role, in_python,
                                               {"--socket", socket_path_, "--prefix", prefix_, "--ready-fd",
                                                std::to_string(ready_fd_), "--go-fd", std::to_string(go_fd_)});
  std::vector<char*> argv = c_strings(program.args);
  std::vector<char*> envp = c_strings(program.environment);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    detail::throw_system_error("cannot start the demo's " + std::string(role_name(role)) + " process", errno);
  }
  if (pid == 0) {
    // A worker must not outlive a parent that was SIGKILLed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    // Ctrl-C reaches every process of the terminal's foreground group; the
    // parent alone decides how the rig stops, so its workers ignore it.
    ::sigaction(SIGINT, &ignore, nullptr);
    ::sigprocmask(SIG_SETMASK, &child_mask_, nullptr);
    // Keep exactly the two pipe ends the worker needs across exec.
    ::fcntl(ready_fd_, F_SETFD, 0);
    ::fcntl(go_fd_, F_SETFD, 0);
    ::execve(program.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  WorkerProcess worker;
  worker.role = role;
  worker.pid = pid;
  workers_.push_back(worker);
}

std::vector<const WorkerProcess*> WorkerSet::reap() {
  std::vector<const WorkerProcess*> ended;
  for (WorkerProcess& worker : workers_) {
    if (worker.status) {
      continue;
    }
    int status = 0;
    if (::waitpid(worker.pid, &status, WNOHANG) == worker.pid) {
      worker.status = status;
      worker.ended_at = std::chrono::steady_clock::now();
      ended.push_back(&worker);
    }
  }
  return ended;
}

bool WorkerSet::all_ended() const noexcept {
  for (const WorkerProcess& worker : workers_) {
    if (!worker.status) {
      return false;
    }
  }
  return true;
}

void WorkerSet::kill_remaining() {
  for (WorkerProcess& worker : workers_) {
    if (worker.status) {
      continue;
    }
    ::kill(worker.pid, SIGKILL);
    worker.killed_by_parent = true;
    int status = 0;
    while (::waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
    }
    worker.status = status;
    worker.ended_at = std::chrono::steady_clock::now();
  }
}

}  // namespace shmkit::cli::demo
