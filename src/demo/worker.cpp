// The hidden `shmkit demo-worker` subcommand: one worker process of
// `shmkit demo`. It connects to the rig's store and reads the settings from
// it, opens the counters array by name, connects its own LogWriter, tells the
// parent it is ready, and runs its role until the parent asks it to stop.
// Then it publishes its report in the store and exits.

#include "demo/worker.hpp"

#include <shmkit/core/error.hpp>

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <thread>
#include <utility>

namespace shmkit::cli::demo {

std::string_view role_name(Role role) noexcept {
  switch (role) {
    case Role::camera:
      return "camera";
    case Role::behaviour:
      return "behaviour";
    case Role::analysis:
      return "analysis";
  }
  return "?";
}

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(5);
// How late a worker notices the stop request at most, while it sleeps.
constexpr auto kStopCheckInterval = std::chrono::milliseconds(5);

}  // namespace

Worker::Worker(Role role, const std::string& socket_path, RigNames names, int ready_fd, int go_fd)
    : role_(role),
      names_(std::move(names)),
      store_(RigStore::connect(socket_path, kNamespace)),
      config_(store_.get_once<DemoConfig>(kConfigName, kConnectTimeout)),
      counters_(SharedArray<std::uint64_t>::open(names_.counters())),
      log_(names_.logger_instance(), source_of(role, config_)),
      ready_fd_(ready_fd),
      go_fd_(go_fd) {
  if (counters_.size() != kCounterCount * kCounterStride) {
    throw LayoutError("shared array '" + names_.counters() + "' is not the counters array of this demo");
  }
}

void Worker::start() {
  const char ready = 'r';
  if (::write(ready_fd_, &ready, 1) != 1) {
    detail::throw_system_error("demo " + std::string(role_name(role_)) + " cannot tell the parent it is ready", errno);
  }
  ::close(ready_fd_);  // the parent sees EOF once every worker has reported or died
  // The parent starts every worker at once by closing the pipe's write end.
  char byte = 0;
  while (::read(go_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(go_fd_);
  (void)log_.onset();
}

bool Worker::sleep_until(Clock::time_point deadline) {
  while (!stop_requested()) {
    const auto now = Clock::now();
    if (now >= deadline) {
      return true;
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(deadline - now, kStopCheckInterval));
  }
  return false;
}

void Worker::publish_report(std::map<std::string, std::uint64_t> counts) {
  WorkerReport report;
  log_.fill(report);
  report.store_set = store_.set_latency().summary();
  report.store_first_bind = store_.first_bind_latency().summary();
  report.store_get = store_.get_latency().summary();
  report.store_get_once = store_.once_latency().summary();
  report.frame_latency = frame_latency_.summary();
  report.counts = std::move(counts);
  store_.set(report_name(role_), report);
}

namespace {

struct WorkerArgs {
  std::string role;
  std::string socket;
  std::string prefix;
  int ready_fd = -1;
  int go_fd = -1;
};

void run_worker(const WorkerArgs& args) {
  const auto role = std::find_if(kRoles.begin(), kRoles.end(), [&](Role r) { return role_name(r) == args.role; });
  try {
    if (role == kRoles.end()) {
      throw Error("unknown role '" + args.role + "'");
    }
    Worker worker(*role, args.socket, RigNames{args.prefix}, args.ready_fd, args.go_fd);
    std::map<std::string, std::uint64_t> counts;
    switch (*role) {
      case Role::camera:
        counts = run_camera(worker);
        break;
      case Role::behaviour:
        counts = run_behaviour(worker);
        break;
      case Role::analysis:
        counts = run_analysis(worker);
        break;
    }
    worker.publish_report(std::move(counts));
  } catch (const std::exception& e) {
    throw Error("demo " + args.role + " (pid " + std::to_string(::getpid()) + "): " + e.what());
  }
}

}  // namespace

void register_worker_command(CLI::App& app) {
  auto args = std::make_shared<WorkerArgs>();
  CLI::App* cmd = app.add_subcommand(kWorkerCommand, "One worker process of 'shmkit demo' (internal)");
  cmd->group("");  // hidden: only `shmkit demo` starts it
  cmd->add_option("--role", args->role)->required();
  cmd->add_option("--socket", args->socket)->required();
  cmd->add_option("--prefix", args->prefix)->required();
  cmd->add_option("--ready-fd", args->ready_fd)->required();
  cmd->add_option("--go-fd", args->go_fd)->required();
  cmd->callback([args] { run_worker(*args); });
}

}  // namespace shmkit::cli::demo
