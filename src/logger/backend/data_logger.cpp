#include <sys/stat.h>
#include <unistd.h>

#include <shmkit/core/error.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_sink.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "logger/backend/log_directory.hpp"
#include "logger/backend/saver.hpp"
#include "logger/ring/logger_segment.hpp"
#include "logger/ring/saver_wake.hpp"

namespace shmkit {

namespace {

using Clock = std::chrono::steady_clock;

// Longest stop() keeps draining writers that never stop writing.
constexpr std::chrono::seconds kStopDrainLimit{10};

detail::LoggerSegment create_or_take_over(const std::string& instance, const DataLoggerOptions& options) {
  for (int attempt = 0;; ++attempt) {
    try {
      return detail::LoggerSegment::create(instance, options.max_writers, options.ring_bytes, options.mode);
    } catch (const ExistsError&) {
    }
    try {
      return detail::LoggerSegment::open(instance);
    } catch (const NotFoundError&) {
      if (attempt == 3) {
        throw;
      }
    }
  }
}

}  // namespace

struct DataLogger::Impl {
  std::filesystem::path log_dir;
  std::string instance;
  DataLoggerOptions options;
  detail::LoggerSegment segment;
  detail::SaverCounters counters;
  std::mutex control;  // serialises start/stop
  std::thread thread;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> running{false};
  std::optional<detail::DirectoryLock> lock;
  std::shared_ptr<LogSink> sink;  // null: record files

  Impl(std::filesystem::path dir, std::string name, DataLoggerOptions opts, detail::LoggerSegment seg)
      : log_dir(std::move(dir)), instance(std::move(name)), options(std::move(opts)), segment(std::move(seg)) {}

  // While the sink cannot take entries the rings are left alone (their
  // writers' full policy applies); polled, so stop() is seen within 10 ms.
  bool wait_for_sink() {
    if (!sink || sink->ready()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return false;
  }

  void report(const std::string& message) noexcept {
    counters.errors.fetch_add(1, std::memory_order_relaxed);
    try {
      if (options.on_error) {
        options.on_error(message);
      } else {
        std::cerr << "shmkit logger '" << instance << "': " << message << std::endl;
      }
    } catch (...) {
    }
  }

  void claim_ownership() {
    LoggerTrailer& t = segment.trailer();
    const ProcessIdentity self = current_process();
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::int32_t owner = t.logger_pid.load(std::memory_order_acquire);
      if (owner != 0) {
        const ProcessIdentity previous{static_cast<pid_t>(owner), t.logger_start_ticks.load(std::memory_order_acquire)};
        if (owner == self.pid || is_alive(previous)) {
          throw ExistsError("cannot start logger instance '" + instance + "': process " + std::to_string(owner) +
                            " already runs a logger with that instance name (stop it, or use another name)");
        }
      }
      if (t.logger_pid.compare_exchange_strong(owner, self.pid, std::memory_order_acq_rel)) {
        t.logger_start_ticks.store(self.start_ticks, std::memory_order_release);
        return;
      }
    }
    throw ExistsError("cannot start logger instance '" + instance + "': another process is taking it over");
  }

  void release_ownership() noexcept {
    std::int32_t self = static_cast<std::int32_t>(current_process().pid);
    segment.trailer().logger_pid.compare_exchange_strong(self, 0, std::memory_order_acq_rel);
  }

  // Whether a ring holds records, or stop() was asked for: then the saver
  // must not go to sleep.
  bool has_work() const noexcept {
    if (stop_requested.load(std::memory_order_acquire)) {
      return true;
    }
    for (std::uint32_t slot = 0; slot < segment.max_writers(); ++slot) {
      // The slots drain_once reads: a free slot is skipped there too.
      const RingHeader& h = *segment.ring(slot).header;
      if (h.state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(WriterSlotState::free) &&
          h.head.load(std::memory_order_acquire) != h.tail.load(std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  void run(detail::Saver& saver) noexcept {
    auto last_reap = Clock::now();
    auto last_sync = Clock::now();
    while (!stop_requested.load(std::memory_order_acquire)) {
      try {
        if (!wait_for_sink()) {
          continue;
        }
        const std::uint64_t consumed = saver.drain_once();
        const auto now = Clock::now();
        if (now - last_reap >= options.reap_interval) {
          saver.reap_dead_writers();
          last_reap = now;
        }
        if (options.fsync == FsyncPolicy::interval && now - last_sync >= options.fsync_interval) {
          saver.sync_files();
          last_sync = now;
        }
        if (consumed == 0) {
          detail::saver_sleep(segment.trailer(), options.idle_sleep, [this] { return has_work(); });
        }
      } catch (const LogSinkUnavailable&) {
        saver.abandon_files();  // the sink reported it; its entries stay in the rings
      } catch (const std::exception& e) {
        report(std::string(e.what()) + (sink ? "; the entries stay in the rings and are retried"
                                             : "; the entries stay in the rings and are retried in new files"));
        saver.abandon_files();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    // Final drain: everything in the rings now, bounded so a writer that
    // never pauses cannot hold stop() forever.
    const auto deadline = Clock::now() + kStopDrainLimit;
    try {
      while ((!sink || sink->ready()) && saver.drain_once() > 0 && Clock::now() < deadline) {
      }
      saver.reap_dead_writers();
      saver.close_files();
    } catch (const std::exception& e) {
      report(std::string("while stopping: ") + e.what());
      saver.abandon_files();
    }
  }

  LoggerStats stats() const {
    LoggerStats s;
    std::uint64_t dropped = counters.dropped_departed.load(std::memory_order_relaxed);
    for (std::uint32_t slot = 0; slot < segment.max_writers(); ++slot) {
      const RingHeader& h = *segment.ring(slot).header;
      const auto state = static_cast<WriterSlotState>(h.state.load(std::memory_order_acquire));
      if (state == WriterSlotState::free || state == WriterSlotState::claiming) {
        continue;
      }
      WriterSlotStats w;
      w.slot = slot;
      w.pid = h.owner_pid;
      w.alive = is_alive(ProcessIdentity{static_cast<pid_t>(h.owner_pid), h.owner_start_ticks});
      w.state = state;
      w.logged = h.logged.load(std::memory_order_relaxed);
      w.dropped = h.dropped.load(std::memory_order_relaxed);
      w.saved = h.saved.load(std::memory_order_relaxed);
      dropped += w.dropped;
      s.writers.push_back(w);
    }
    s.entries_saved = counters.entries_saved.load(std::memory_order_relaxed);
    s.bytes_saved = counters.bytes_saved.load(std::memory_order_relaxed);
    s.dropped = dropped;
    s.discarded_partial = counters.discarded_partial.load(std::memory_order_relaxed);
    s.files_created = counters.files_created.load(std::memory_order_relaxed);
    s.errors = counters.errors.load(std::memory_order_relaxed);
    return s;
  }
};

namespace {

// A negative interval would make the saver spin (futex and sleep return at
// once), so it is refused with the setting's name.
void check_intervals(const std::string& instance, const DataLoggerOptions& options) {
  const auto check = [&](const char* name, auto interval, const char* unit) {
    if (interval.count() < 0) {
      throw Error("cannot create logger instance '" + instance + "': " + name + " is " +
                  std::to_string(interval.count()) + " " + unit + "; it must be 0 or more");
    }
  };
  check("idle_sleep", options.idle_sleep, "us");
  check("fsync_interval", options.fsync_interval, "ms");
  check("reap_interval", options.reap_interval, "ms");
}

// The state directory holds the spill files whose bytes the saver hands
// over as entries, and often sits in a shared /tmp: made owner-only, and
// refused when another user made it first or can write into it.
void check_private_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) {
    ::chmod(dir.c_str(), 0700);
  }
  if (ec) {
    throw Error("cannot create the logger state directory '" + dir.string() + "': " + ec.message(), ec);
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error("the logger state directory '" + dir.string() + "' is not a directory; remove it or choose another");
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw Error("the logger state directory '" + dir.string() + "' belongs to uid " + std::to_string(st.st_uid) +
                " or is writable by others; choose a directory only you can write (for example under $HOME)");
  }
}

}  // namespace

DataLogger::DataLogger(std::filesystem::path output_dir, std::string instance_name, DataLoggerOptions options) {
  (void)detail::LoggerSegment::segment_name(instance_name);  // validate before touching the file system
  check_intervals(instance_name, options);
  auto log_dir = output_dir / (instance_name + "_data_log");
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec) {
    throw Error("cannot create the log directory '" + log_dir.string() + "': " + ec.message(), ec);
  }
  auto segment = create_or_take_over(instance_name, options);
  impl_ = std::make_unique<Impl>(std::move(log_dir), std::move(instance_name), std::move(options), std::move(segment));
  impl_->claim_ownership();
}

DataLogger::DataLogger(std::string instance_name, std::shared_ptr<LogSink> sink, std::filesystem::path state_dir,
                       DataLoggerOptions options) {
  (void)detail::LoggerSegment::segment_name(instance_name);
  check_intervals(instance_name, options);
  if (!sink) {
    throw Error("cannot create logger instance '" + instance_name + "': no sink given");
  }
  check_private_directory(state_dir);
  auto segment = create_or_take_over(instance_name, options);
  impl_ =
      std::make_unique<Impl>(std::move(state_dir), std::move(instance_name), std::move(options), std::move(segment));
  impl_->sink = std::move(sink);
  impl_->claim_ownership();
}

DataLogger::~DataLogger() {
  try {
    stop();
  } catch (...) {
  }
  if (!impl_) {
    return;
  }
  impl_->release_ownership();
  if (impl_->options.remove_segment_on_destroy) {
    bool writer_alive = false;
    bool data_left = false;
    for (std::uint32_t slot = 0; slot < impl_->segment.max_writers(); ++slot) {
      const RingHeader& h = *impl_->segment.ring(slot).header;
      const auto state = static_cast<WriterSlotState>(h.state.load(std::memory_order_acquire));
      if (state == WriterSlotState::active &&
          is_alive(ProcessIdentity{static_cast<pid_t>(h.owner_pid), h.owner_start_ticks})) {
        writer_alive = true;
      }
      data_left |= h.tail.load(std::memory_order_relaxed) != h.head.load(std::memory_order_acquire);
    }
    if (!writer_alive && !data_left) {
      try {
        detail::SharedSegment::unlink(impl_->segment.segment().name(), "logger segment");
      } catch (...) {
      }
    }
  }
}

void DataLogger::start() {
  std::lock_guard guard(impl_->control);
  if (impl_->running.load()) {
    return;
  }
  auto lock = detail::DirectoryLock::try_acquire(impl_->log_dir);
  if (!lock) {
    throw Error("cannot start logger instance '" + impl_->instance + "': its log directory '" +
                impl_->log_dir.string() + "' is locked by another logger or an assembly in progress");
  }
  impl_->lock = std::move(lock);
  const std::uint32_t session = detail::next_session(impl_->log_dir);
  auto saver = std::make_shared<detail::Saver>(impl_->segment, impl_->log_dir, impl_->options, session, impl_->counters,
                                               impl_->sink.get());
  impl_->stop_requested.store(false);
  impl_->thread = std::thread([impl = impl_.get(), saver] { impl->run(*saver); });
  impl_->running.store(true);
}

LoggerStats DataLogger::stop() {
  std::lock_guard guard(impl_->control);
  if (impl_->running.load()) {
    impl_->stop_requested.store(true, std::memory_order_release);
    detail::interrupt_saver(impl_->segment.trailer());
    impl_->thread.join();
    impl_->running.store(false);
    impl_->lock.reset();
    LoggerStats s = impl_->stats();
    if (s.dropped > 0) {
      std::string message = std::to_string(s.dropped) + " entries were dropped by writers (ring full)";
      for (const auto& w : s.writers) {
        if (w.dropped > 0) {
          message +=
              "; slot " + std::to_string(w.slot) + " (pid " + std::to_string(w.pid) + "): " + std::to_string(w.dropped);
        }
      }
      impl_->report(message);
      s.errors += 1;
    }
    return s;
  }
  return impl_->stats();
}

bool DataLogger::running() const noexcept {
  return impl_->running.load();
}

LoggerStats DataLogger::stats() const {
  return impl_->stats();
}

const std::filesystem::path& DataLogger::log_directory() const noexcept {
  return impl_->log_dir;
}

const std::string& DataLogger::instance_name() const noexcept {
  return impl_->instance;
}

bool DataLogger::remove_segment(std::string_view instance_name) {
  return detail::SharedSegment::unlink(detail::LoggerSegment::segment_name(instance_name), "logger segment");
}

}  // namespace shmkit
