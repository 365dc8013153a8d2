#include <shmkit/core/process.hpp>

#include <pthread.h>
#include <unistd.h>

#include <atomic>

#include <fstream>
#include <sstream>
#include <string>

namespace shmkit {

namespace {

std::atomic<pid_t> cached_pid{0};

void refresh_cached_pid() noexcept {
  cached_pid.store(::getpid(), std::memory_order_relaxed);
}

struct StatFields {
  char state = '?';
  std::uint64_t start_ticks = 0;
};

std::optional<StatFields> read_stat(pid_t pid) noexcept {
  try {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line)) {
      return std::nullopt;
    }
    // Field 2 (comm) may contain spaces and parentheses; everything after the
    // last ')' is space separated, starting with field 3 (state).
    const auto close = line.rfind(')');
    if (close == std::string::npos) {
      return std::nullopt;
    }
    std::istringstream rest(line.substr(close + 1));
    StatFields fields;
    rest >> fields.state;
    std::string skip;
    for (int field = 4; field < 22; ++field) {
      rest >> skip;
    }
    rest >> fields.start_ticks;
    if (!rest) {
      return std::nullopt;
    }
    return fields;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

ProcessIdentity current_process() noexcept {
  const pid_t pid = ::getpid();
  return {pid, process_start_ticks(pid).value_or(0)};
}

std::optional<std::uint64_t> process_start_ticks(pid_t pid) noexcept {
  const auto fields = read_stat(pid);
  if (!fields) {
    return std::nullopt;
  }
  return fields->start_ticks;
}

bool is_alive(const ProcessIdentity& identity) noexcept {
  if (identity.pid <= 0) {
    return false;
  }
  const auto fields = read_stat(identity.pid);
  if (!fields || fields->state == 'Z' || fields->state == 'X') {
    return false;
  }
  return identity.start_ticks == 0 || fields->start_ticks == identity.start_ticks;
}

pid_t current_pid() noexcept {
  // Registered once; a child's first call already sees its own pid, set by
  // the handler in the child before fork() returns.
  static const bool registered = [] {
    refresh_cached_pid();
    return ::pthread_atfork(nullptr, nullptr, refresh_cached_pid) == 0;
  }();
  if (!registered) {
    return ::getpid();
  }
  return cached_pid.load(std::memory_order_relaxed);
}

}  // namespace shmkit
