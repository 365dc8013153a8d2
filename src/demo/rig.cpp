#include "demo/rig.hpp"

#include <shmkit/array/shared_array.hpp>
#include <shmkit/channel/channel.hpp>
#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/common/format.hpp"
#include "demo/source_log.hpp"
#include "demo/store.hpp"

namespace shmkit::cli::demo {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kTick{200};             // progress and checks while running
constexpr milliseconds kStartTimeout{20'000};  // for the workers to connect
constexpr milliseconds kStopTimeout{5'000};    // for the workers to finish after the stop request
constexpr std::size_t kMaxSocketPath = 100;    // sockaddr_un holds 108 bytes

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Both ends close with the object; the parent closes the ends only the
// workers may hold as soon as they are started.
class Pipe {
 public:
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      detail::throw_system_error("cannot create a pipe for the demo's workers", errno);
    }
    read_ = fds[0];
    write_ = fds[1];
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    close_read();
    close_write();
  }
  [[nodiscard]] int read_end() const noexcept { return read_; }
  [[nodiscard]] int write_end() const noexcept { return write_; }
  void close_read() noexcept { close(read_); }
  void close_write() noexcept { close(write_); }

 private:
  static void close(int& fd) noexcept {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }
  int read_ = -1;
  int write_ = -1;
};

// One line rewritten in place, only when stdout is a terminal (a log file
// or a pipe would fill with carriage returns), cut to the terminal's width
// (a wrapped line could not be rewritten).
class Progress {
 public:
  Progress() : enabled_(::isatty(STDOUT_FILENO) == 1) {}
  void show(std::string line) {
    if (!enabled_) {
      return;
    }
    winsize size{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 && line.size() >= size.ws_col) {
      line.resize(size.ws_col - 1U);
    }
    std::cout << '\r' << line << "\x1b[K" << std::flush;
    shown_ = true;
  }
  // Before any other output, so that it starts on a line of its own.
  void end() {
    if (shown_) {
      std::cout << '\n';
      shown_ = false;
    }
  }

 private:
  bool enabled_;
  bool shown_ = false;
};

// The workers' ready bytes, until EOF (every worker reported or died), an
// interrupt, or the timeout. Returns how many reported.
std::size_t wait_until_ready(int fd, RigSignals& signals) {
  std::size_t ready = 0;
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(kTick.count())) < 0 && errno != EINTR) {
      detail::throw_system_error("cannot wait for the demo's workers", errno);
    }
    if ((fds[1].revents & POLLIN) != 0 && signals.wait(milliseconds(0)) != 0) {
      return ready;
    }
    if ((fds[0].revents & (POLLIN | POLLHUP)) != 0) {
      char buffer[16];
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n == 0) {
        return ready;
      }
      ready += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
  }
  return ready;
}

std::string describe_worker(const WorkerProcess& worker) {
  return "the " + std::string(role_name(worker.role)) + " (pid " + std::to_string(worker.pid) + ")";
}

// The frames channel, created by the rig and removed when the rig goes
// (workers that still map it keep their mapping).
struct FramesChannel {
  FramesChannel(const std::string& name, const CameraSettings& camera)
      : channel(Channel::create(name, {.sample = SampleSpec::array(Dtype::u2, {camera.height, camera.width}),
                                       .slots = camera.channel_slots,
                                       .history = 1,
                                       .max_subscribers = 4})) {}
  FramesChannel(const FramesChannel&) = delete;
  FramesChannel& operator=(const FramesChannel&) = delete;
  ~FramesChannel() {
    try {
      (void)Channel::remove(channel.name());
    } catch (const std::exception&) {
      // check_removed reports a segment left behind.
    }
  }
  Channel channel;
};

class Rig {
 public:
  Rig(const DemoConfig& config, const std::filesystem::path& out, RigSignals& signals);
  RunRecord run();

 private:
  void print_banner(const std::filesystem::path& out) const;
  void start_workers();
  void acquire();
  void stop_workers();
  void collect();
  [[nodiscard]] std::string progress_line(double elapsed);
  void problem(std::string text) { record_.problems.push_back(std::move(text)); }

  const DemoConfig& config_;
  RigSignals& signals_;
  RunRecord record_;
  std::string socket_path_;
  Progress progress_;
  std::set<Role> ended_early_;      // already reported as problems
  std::mutex logger_errors_mutex_;  // the saver thread reports into it
  std::vector<std::string> logger_errors_;
  // Declared in the order they must be set up; they are torn down in
  // reverse: the workers die first, then the logger drains their rings,
  // then the arrays, the channel and the store go.
  StoreServer server_;
  RigStore store_;
  FramesChannel frames_;
  SharedArray<std::uint64_t> counters_;
  DataLogger logger_;
  std::optional<SourceLog> rig_log_;
  Pipe ready_;
  Pipe go_;
  WorkerSet workers_;
};

RunRecord new_record() {
  RunRecord record;
  record.names = RigNames::for_parent(::getpid());
  record.parent_pid = ::getpid();
  return record;
}

std::string socket_path_in(const std::filesystem::path& out) {
  const std::string inside = (out / "store.sock").string();
  if (inside.size() <= kMaxSocketPath) {
    return inside;
  }
  return "/tmp/shmkit-demo-" + std::to_string(::getpid()) + ".sock";
}

DataLoggerOptions logger_options(const DemoConfig& config, std::mutex& mutex, std::vector<std::string>& errors) {
  DataLoggerOptions options;
  options.max_writers = 8;  // one per process, with room to spare
  options.ring_bytes = std::size_t{config.logger.ring_mib} << 20;
  options.on_error = [&mutex, &errors](const std::string& message) {
    const std::lock_guard lock(mutex);
    errors.push_back(message);
  };
  return options;
}

Rig::Rig(const DemoConfig& config, const std::filesystem::path& out, RigSignals& signals)
    : config_(config),
      signals_(signals),
      record_(new_record()),
      socket_path_(socket_path_in(out)),
      server_(StoreServer::start({.capacity = std::size_t{config.store.capacity_mib} << 20,
                                  .socket_path = socket_path_,
                                  .prefault = config.store.prefault})),
      store_(RigStore::connect(socket_path_, kNamespace)),
      frames_(record_.names.frames(), config.camera),
      counters_(SharedArray<std::uint64_t>::create(record_.names.counters(), {kCounterCount, kCounterStride},
                                                   {.unlink_on_close = true})),
      logger_(out, record_.names.logger_instance(), logger_options(config, logger_errors_mutex_, logger_errors_)),
      rig_log_(std::in_place, record_.names.logger_instance(), config.logger.source_id),
      workers_(socket_path_, record_.names.prefix, ready_.write_end(), go_.read_end(), signals.original_mask()) {
  record_.log_directory = logger_.log_directory();
  // Every worker reads the settings from here.
  store_.set(kConfigName, config);
  for (const Role role : kRoles) {
    workers_.spawn(role, config.analysis.language == "python");
  }
  // Only the workers may hold these ends now: that is what makes EOF on
  // the ready pipe mean "all reported", and EOF on the go pipe mean "start".
  ready_.close_write();
  go_.close_read();
  print_banner(out);
}

void Rig::print_banner(const std::filesystem::path& out) const {
  const CameraSettings& camera = config_.camera;
  const ChannelInfo frames = frames_.channel.info();
  std::cout << "shmkit demo: " << fixed(config_.seconds, 1) << " s of acquisition; logs and archives go to "
            << out.string() << "\n"
            << "  store      embedded server on " << socket_path_ << " (" << human_size(server_.stats().capacity)
            << "), namespace '" << kNamespace << "'\n"
            << "  channel    " << frames.name << " " << shape_string(frames.sample.shape) << " <u2 samples, "
            << frames.slots << " slots (" << human_size(frames.segment_bytes) << ")\n"
            << "  array      " << counters_.name() << " " << shape_string(counters_.shape()) << " <u8 counters\n"
            << "  logger     instance '" << logger_.instance_name() << "' -> " << logger_.log_directory().string()
            << "\n"
            << "  rig        pid " << record_.parent_pid << ", log source " << int{config_.logger.source_id} << "\n";
  for (const WorkerProcess& worker : workers_.workers()) {
    std::string name(role_name(worker.role));
    name.resize(10, ' ');
    std::cout << "  " << name << " pid " << worker.pid << ", log source " << int{source_of(worker.role, config_)};
    if (worker.role == Role::camera) {
      std::cout << ", " << camera.width << "x" << camera.height << " uint16 frames at "
                << fixed(camera.frame_rate_hz, 1) << " Hz";
    }
    if (worker.role == Role::analysis && config_.analysis.language == "python") {
      std::cout << ", in Python (python3 -m shmkit.demo_analysis)";
    }
    std::cout << '\n';
  }
  std::cout << std::flush;  // now: a watcher learns the pids while the rig runs
}

void Rig::start_workers() {
  // The read end stays open to the end: a worker still connecting when an
  // interrupt cut the wait short must not die of SIGPIPE on its ready byte.
  const std::size_t ready = wait_until_ready(ready_.read_end(), signals_);
  if (signals_.interrupts() == 0 && ready != kRoles.size()) {
    workers_.reap();
    std::string why;
    for (const WorkerProcess& worker : workers_.workers()) {
      if (worker.status) {
        why += "; " + describe_worker(worker) + " " + describe_status(*worker.status);
      }
    }
    throw Error("only " + std::to_string(ready) + " of " + std::to_string(kRoles.size()) +
                " demo workers started within " + std::to_string(kStartTimeout.count() / 1000) + " s" +
                (why.empty() ? "" : why + " (see its message above)"));
  }
  logger_.start();
  (void)rig_log_->onset();
  (void)rig_log_->log(to_yaml_string(config_));
  for (const WorkerProcess& worker : workers_.workers()) {
    (void)rig_log_->log("started " + std::string(role_name(worker.role)) + " pid " + std::to_string(worker.pid));
  }
  if (signals_.interrupts() > 0) {
    // Interrupted while starting: the workers start and stop at once, so
    // that they leave as they would at any other time.
    counters_.atomic(counter_index(kStop)).store(1, std::memory_order_release);
    record_.stop_reason = "interrupted by " + signal_name(signals_.first_interrupt()) + " while starting";
  }
}

// Computed on every tick, also when it is not shown: the rig's own store
// reads are part of the store figures in the summary.
std::string Rig::progress_line(double elapsed) {
  const std::uint64_t frames = counters_.atomic(counter_index(kFramesWritten)).load(std::memory_order_relaxed);
  const std::uint64_t analysed = counters_.atomic(counter_index(kFramesAnalysed)).load(std::memory_order_relaxed);
  // What any process of the rig can read by name: the newest values.
  const std::optional<std::string> state = store_.find<std::string>(kBehaviourStateName);
  const std::optional<FrameStats> stats = store_.find<FrameStats>(kStatsName);
  std::string line = fixed(elapsed, 1) + "/" + fixed(config_.seconds, 1) + " s  frames " + std::to_string(frames) +
                     " (" + fixed(elapsed > 0 ? static_cast<double>(frames) / elapsed : 0, 1) + "/s)  analysed " +
                     std::to_string(analysed);
  if (stats) {
    line += "  spot at (" + std::to_string(stats->peak_x) + ", " + std::to_string(stats->peak_y) + ")";
  }
  if (state) {
    line += "  " + *state;
  }
  return line + "  logged " + human_size(logger_.stats().bytes_saved);
}

void Rig::acquire() {
  const auto start = Clock::now();
  go_.close_write();  // every worker starts now
  while (record_.stop_reason.empty()) {
    const double elapsed = seconds_since(start);
    const auto left =
        std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(config_.seconds - elapsed));
    if (const int interrupt = signals_.wait(std::clamp(left, milliseconds(0), kTick)); interrupt != 0) {
      record_.stop_reason = "interrupted by " + signal_name(interrupt);
      progress_.end();
      std::cout << "shmkit demo: " << record_.stop_reason
                << ": stopping the workers and saving the log (once more to stop without assembling)" << std::endl;
      break;
    }
    for (const WorkerProcess* worker : workers_.reap()) {
      const std::string what = describe_worker(*worker) + " ended " + fixed(seconds_since(start), 1) +
                               " s into the run: " + describe_status(*worker->status);
      problem(what);
      ended_early_.insert(worker->role);
      record_.stop_reason = "the " + std::string(role_name(worker->role)) + " ended";
      progress_.end();
      std::cout << "shmkit demo: " << what << "; stopping the rig" << std::endl;
    }
    if (record_.stop_reason.empty() && seconds_since(start) >= config_.seconds) {
      record_.stop_reason = "time is up";
    }
    if (record_.stop_reason.empty()) {
      progress_.show(progress_line(seconds_since(start)));
    }
  }
  progress_.end();
  record_.seconds = seconds_since(start);
}

void Rig::stop_workers() {
  counters_.atomic(counter_index(kStop)).store(1, std::memory_order_release);
  (void)rig_log_->log("stop: " + record_.stop_reason);
  const auto deadline = Clock::now() + kStopTimeout;
  workers_.reap();
  while (!workers_.all_ended() && Clock::now() < deadline) {
    (void)signals_.wait(milliseconds(50));  // SIGCHLD wakes it
    workers_.reap();
  }
  for (const WorkerProcess& worker : workers_.workers()) {
    if (!worker.status) {
      problem(describe_worker(worker) + " did not stop within " + std::to_string(kStopTimeout.count() / 1000) +
              " s of the request and was killed");
    }
  }
  workers_.kill_remaining();
}

void Rig::collect() {
  for (const WorkerProcess& worker : workers_.workers()) {
    if (worker.killed_by_parent) {
      continue;  // reported by stop_workers
    }
    const int status = *worker.status;
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean && !ended_early_.contains(worker.role)) {
      problem(describe_worker(worker) + " ended after the stop request: " + describe_status(status));
    }
    if (!clean) {
      continue;
    }
    if (auto report = store_.find_once<WorkerReport>(report_name(worker.role))) {
      record_.reports.emplace(worker.role, std::move(*report));
    } else {
      problem(describe_worker(worker) + " exited without publishing its report");
    }
  }
  if (record_.reports.contains(Role::behaviour)) {
    // The task's settings went through the store as a config struct; they
    // must come back exactly as configured.
    const auto published = store_.find_once<BehaviourSettings>(kBehaviourConfigName);
    if (!published || to_yaml_string(*published) != to_yaml_string(config_.behaviour)) {
      problem("the behaviour settings read back from the store differ from the configured ones");
    }
  }
  record_.frames_written = counters_.atomic(counter_index(kFramesWritten)).load(std::memory_order_acquire);
  record_.frames_analysed = counters_.atomic(counter_index(kFramesAnalysed)).load(std::memory_order_acquire);
  record_.trials = counters_.atomic(counter_index(kTrials)).load(std::memory_order_acquire);
  record_.workers = workers_.workers();
  rig_log_->fill(record_.rig);
  record_.rig.store_set = store_.set_latency().summary();
  record_.rig.store_first_bind = store_.first_bind_latency().summary();
  record_.rig.store_get = store_.get_latency().summary();
  record_.rig.store_get_once = store_.once_latency().summary();
  record_.store = server_.stats();
  rig_log_.reset();  // a live writer would keep the logger's segment alive
  record_.logger = logger_.stop();
  const std::lock_guard lock(logger_errors_mutex_);
  for (const std::string& message : logger_errors_) {
    problem("logger: " + message);
  }
}

RunRecord Rig::run() {
  start_workers();
  acquire();
  stop_workers();
  collect();
  return std::move(record_);
}

// A segment still in /dev/shm after the rig was torn down.
void check_removed(const std::string& name, std::vector<std::string>& problems) {
  if (inspect_segment(name)) {
    problems.push_back("shared segment '" + name + "' was left in /dev/shm (remove it with shmkit gc)");
  }
}

}  // namespace

RunRecord run_rig(const DemoConfig& config, const std::filesystem::path& out, RigSignals& signals) {
  RunRecord record = Rig(config, out, signals).run();
  check_removed(Channel::segment_name(record.names.frames()), record.problems);
  check_removed(record.names.counters(), record.problems);
  check_removed("shmkit-log." + record.names.logger_instance(), record.problems);
  return record;
}

}  // namespace shmkit::cli::demo
