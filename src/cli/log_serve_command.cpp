// shmkit log serve --instance NAME --out DIR [--config FILE] [--write-config FILE] [options]:
// a logger in the foreground until SIGINT or SIGTERM, then drain the rings
// and exit; or write the logger options it would run with to a YAML file.

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/options.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <boost/describe/enum_from_string.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>

#include "log_commands.hpp"
#include "values.hpp"

namespace shmkit::cli {

namespace {

struct ServeArgs {
  std::string instance;
  std::string out;
  std::string config;
  std::string write_config;
  // Override the config file's values when given on the command line.
  CLI::Option* max_writers_option = nullptr;
  CLI::Option* ring_bytes_option = nullptr;
  CLI::Option* mode_option = nullptr;
  CLI::Option* fsync_option = nullptr;
  CLI::Option* fsync_interval_option = nullptr;
  CLI::Option* idle_sleep_option = nullptr;
  CLI::Option* reap_interval_option = nullptr;
  CLI::Option* file_buffer_bytes_option = nullptr;
  CLI::Option* remove_segment_option = nullptr;
  std::uint32_t max_writers = DataLoggerOptions{}.max_writers;
  std::size_t ring_bytes = DataLoggerOptions{}.ring_bytes;
  std::string mode;
  std::string fsync = "interval";
  // Shown as the defaults in --help; applied only when given.
  std::uint64_t fsync_interval_ms = static_cast<std::uint64_t>(DataLoggerOptions{}.fsync_interval.count());
  std::uint64_t idle_sleep_us = static_cast<std::uint64_t>(DataLoggerOptions{}.idle_sleep.count());
  std::uint64_t reap_interval_ms = static_cast<std::uint64_t>(DataLoggerOptions{}.reap_interval.count());
  std::size_t file_buffer_bytes = DataLoggerOptions{}.file_buffer_bytes;
  bool remove_segment = DataLoggerOptions{}.remove_segment_on_destroy;
};

// The options file (if any), then the command line over it.
DataLoggerOptions logger_options(const ServeArgs& args) {
  DataLoggerOptions options;
  if (!args.config.empty()) {
    options = from_yaml<DataLoggerOptions>(args.config);
    check_config_mode(options.mode, args.config, "mode");
  }
  if (args.max_writers_option->count() > 0) {
    options.max_writers = args.max_writers;
  }
  if (args.ring_bytes_option->count() > 0) {
    options.ring_bytes = args.ring_bytes;
  }
  if (args.mode_option->count() > 0) {
    options.mode = parse_mode(args.mode);
  }
  if (args.fsync_option->count() > 0) {
    // CLI11 admitted only the enumerator names.
    (void)boost::describe::enum_from_string(args.fsync.c_str(), options.fsync);
  }
  if (args.fsync_interval_option->count() > 0) {
    options.fsync_interval = std::chrono::milliseconds(args.fsync_interval_ms);
  }
  if (args.idle_sleep_option->count() > 0) {
    options.idle_sleep = std::chrono::microseconds(args.idle_sleep_us);
  }
  if (args.reap_interval_option->count() > 0) {
    options.reap_interval = std::chrono::milliseconds(args.reap_interval_ms);
  }
  if (args.file_buffer_bytes_option->count() > 0) {
    options.file_buffer_bytes = args.file_buffer_bytes;
  }
  if (args.remove_segment_option->count() > 0) {
    options.remove_segment_on_destroy = args.remove_segment;
  }
  return options;
}

void run_serve(const ServeArgs& args) {
  if (!args.write_config.empty()) {
    to_yaml(logger_options(args), args.write_config);
    std::cout << "wrote the logger options to " << args.write_config << std::endl;
    return;
  }
  // Block the stop signals before the saver thread exists, so it inherits
  // the mask and sigwait below is the only place they are taken.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (const int rc = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "cannot block SIGINT/SIGTERM");
  }
  DataLogger logger(args.out, args.instance, logger_options(args));
  logger.start();
  std::cout << "logging instance '" << args.instance << "' to " << logger.log_directory().string() << " (pid "
            << ::getpid() << "); stop with Ctrl-C or SIGTERM" << std::endl;
  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  const LoggerStats stats = logger.stop();
  std::cout << "stopped by " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << ": saved " << stats.entries_saved
            << " entries (" << stats.bytes_saved << " payload bytes) in " << stats.files_created
            << " record files; dropped by writers: " << stats.dropped
            << "; partial entries discarded: " << stats.discarded_partial << '\n'
            << "assemble with: shmkit log assemble " << logger.log_directory().string() << std::endl;
}

}  // namespace

void register_log_serve_command(CLI::App& log) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = log.add_subcommand(
      "serve", "Run a logger in the foreground until SIGINT/SIGTERM, then drain every ring and fsync");
  cmd->add_option("--instance", args->instance, "Logger instance name (writers connect with it)")->required();
  cmd->add_option("--out", args->out, "Output directory; logs go to OUT/NAME_data_log/")->required();
  cmd->add_option("--config", args->config,
                  "YAML file of the logger options (keys max_writers, ring_bytes, mode, fsync, fsync_interval, "
                  "idle_sleep, reap_interval, file_buffer_bytes, remove_segment_on_destroy); the options below "
                  "override it");
  cmd->add_option("--write-config", args->write_config,
                  "Write the logger options (--config's, with the options here over them) to this YAML file and "
                  "exit");
  args->max_writers_option = cmd->add_option("--max-writers", args->max_writers, "Writer slots (rings) in the segment")
                                 ->capture_default_str()
                                 ->check(CLI::Range(1, 4096));
  args->ring_bytes_option =
      cmd->add_option("--ring-bytes", args->ring_bytes, "Bytes per writer ring (power of two, >= 64 KiB)")
          ->capture_default_str();
  args->mode_option =
      cmd->add_option("--mode", args->mode, "Permission bits of the segment (default 0600: owner only; 0660: group)");
  args->fsync_option = cmd->add_option("--fsync", args->fsync,
                                       "When record files are fsynced: none, interval (see --fsync-interval) or always")
                           ->capture_default_str()
                           ->check(CLI::IsMember({"none", "interval", "always"}));
  args->fsync_interval_option =
      cmd->add_option("--fsync-interval", args->fsync_interval_ms, "Milliseconds between fsyncs with --fsync interval")
          ->capture_default_str();
  args->idle_sleep_option =
      cmd->add_option("--idle-sleep", args->idle_sleep_us, "Microseconds the saver sleeps when every ring is empty")
          ->capture_default_str();
  args->reap_interval_option = cmd->add_option("--reap-interval", args->reap_interval_ms,
                                               "Milliseconds between looks for writers that died without disconnecting")
                                   ->capture_default_str();
  args->file_buffer_bytes_option = cmd->add_option("--file-buffer-bytes", args->file_buffer_bytes,
                                                   "Bytes buffered per record file before a write(2)")
                                       ->capture_default_str();
  args->remove_segment_option =
      cmd->add_flag("--remove-segment,!--keep-segment", args->remove_segment,
                    "At exit, remove the segment unless a writer is still connected (the default), or keep it");
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace shmkit::cli
