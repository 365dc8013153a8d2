// The hidden `shmkit demo-worker` subcommand: one worker process of
// `shmkit demo`. It opens the demo's array by name, tells the parent it is
// ready, waits for the start signal, then runs three timed phases.

#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>

#include "demo.hpp"

namespace shmkit::cli::demo {

namespace {

using Clock = std::chrono::steady_clock;

struct WorkerOptions {
  std::string array;
  std::size_t worker = 0;
  std::uint64_t increments = 0;  // per phase; 0 when time-boxed
  double seconds = 0;            // per phase; 0 when counted
  int ready_fd = -1;
  int go_fd = -1;
};

struct PhaseResult {
  std::uint64_t done = 0;
  std::uint64_t nanos = 0;
};

// Runs `op` `increments` times, or for `seconds` when time-boxed. The clock
// is read only every `check_every` operations so it does not dominate the
// cheap ones.
template <class Op>
PhaseResult run_phase(const WorkerOptions& options, std::uint64_t check_every, Op&& op) {
  const auto start = Clock::now();
  PhaseResult result;
  if (options.seconds > 0) {
    const auto deadline =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
    while (Clock::now() < deadline) {
      for (std::uint64_t i = 0; i < check_every; ++i) {
        op();
      }
      result.done += check_every;
    }
  } else {
    for (std::uint64_t i = 0; i < options.increments; ++i) {
      op();
    }
    result.done = options.increments;
  }
  result.nanos =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
  return result;
}

void wait_for_start(const WorkerOptions& options) {
  const char ready = 'r';
  if (::write(options.ready_fd, &ready, 1) != 1) {
    detail::throw_system_error("demo worker cannot signal that it is ready", errno);
  }
  ::close(options.ready_fd);  // so the parent sees EOF once every worker has reported or died
  // The parent starts everyone at once by closing the pipe's write end.
  char byte = 0;
  ssize_t n = 0;
  while ((n = ::read(options.go_fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  ::close(options.go_fd);
}

void run_worker(const WorkerOptions& options) {
  auto array = SharedArray<std::uint64_t>::open(options.array);
  const std::size_t row = kFirstWorkerRow + options.worker;
  if (array.ndim() != 2 || array.shape()[1] != kRowWidth || row >= array.shape()[0]) {
    throw LayoutError("shared array '" + options.array + "' is not the array of a demo with worker " +
                      std::to_string(options.worker));
  }
  std::uint64_t* const own_row = array.data() + row * kRowWidth;
  wait_for_start(options);

  // volatile: each increment must be a real load and store, as an unlocked
  // element update in a pipeline is; otherwise the compiler would fold the
  // loop into one addition.
  volatile std::uint64_t* const own = own_row + kOwnCounter;
  const PhaseResult unlocked = run_phase(options, 4096, [&] { *own = *own + 1; });

  const std::size_t locked_flat = kLockedRow * kRowWidth;
  const PhaseResult locked = run_phase(options, 64, [&] {
    const ArrayLock guard = array.lock();
    array[locked_flat] += 1;
  });

  auto counter = array.atomic(kAtomicRow * kRowWidth);
  const PhaseResult atomic = run_phase(options, 1024, [&] { counter.fetch_add(1, std::memory_order_relaxed); });

  own_row[kOwnDone] = unlocked.done;
  own_row[kLockedDone] = locked.done;
  own_row[kAtomicDone] = atomic.done;
  own_row[kOwnNanos] = unlocked.nanos;
  own_row[kLockedNanos] = locked.nanos;
  own_row[kAtomicNanos] = atomic.nanos;
  std::atomic_ref<std::uint64_t>(own_row[kFinished]).store(1, std::memory_order_release);
}

}  // namespace

void register_worker_command(CLI::App& app) {
  auto options = std::make_shared<WorkerOptions>();
  CLI::App* cmd = app.add_subcommand(kWorkerCommand, "One worker process of 'shmkit demo' (internal)");
  cmd->group("");  // hidden: only `shmkit demo` starts it
  cmd->add_option("--array", options->array)->required();
  cmd->add_option("--worker", options->worker)->required();
  cmd->add_option("--increments", options->increments);
  cmd->add_option("--seconds", options->seconds);
  cmd->add_option("--ready-fd", options->ready_fd)->required();
  cmd->add_option("--go-fd", options->go_fd)->required();
  cmd->callback([options] { run_worker(*options); });
}

}  // namespace shmkit::cli::demo
