// shmkit log serve --instance NAME --out DIR [--config FILE]: a logger in the
// foreground until SIGINT or SIGTERM, then drain the rings and exit.

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/options.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <boost/describe/enum_from_string.hpp>

#include <cerrno>
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
  // Override the config file's values when given on the command line.
  CLI::Option* max_writers_option = nullptr;
  CLI::Option* ring_bytes_option = nullptr;
  CLI::Option* fsync_option = nullptr;
  std::uint32_t max_writers = 16;
  std::size_t ring_bytes = std::size_t{1} << 20;
  std::string fsync = "interval";
};

// The options file (if any), then the command line over it.
DataLoggerOptions logger_options(const ServeArgs& args) {
  DataLoggerOptions options;
  if (!args.config.empty()) {
    options = from_yaml<DataLoggerOptions>(args.config);
    check_mode(options.mode, args.config + ": mode");
  }
  if (args.max_writers_option->count() > 0) {
    options.max_writers = args.max_writers;
  }
  if (args.ring_bytes_option->count() > 0) {
    options.ring_bytes = args.ring_bytes;
  }
  if (args.fsync_option->count() > 0) {
    // CLI11 admitted only the enumerator names.
    (void)boost::describe::enum_from_string(args.fsync.c_str(), options.fsync);
  }
  return options;
}

void run_serve(const ServeArgs& args) {
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
                  "YAML file of logger options (max_writers, ring_bytes, mode, fsync, fsync_interval, ...); the "
                  "options below override it");
  args->max_writers_option = cmd->add_option("--max-writers", args->max_writers, "Writer slots (rings) in the segment")
                                 ->capture_default_str()
                                 ->check(CLI::Range(1, 4096));
  args->ring_bytes_option =
      cmd->add_option("--ring-bytes", args->ring_bytes, "Bytes per writer ring (power of two, >= 64 KiB)")
          ->capture_default_str();
  args->fsync_option =
      cmd->add_option("--fsync", args->fsync, "When record files are fsynced: none, interval (1 s) or always")
          ->capture_default_str()
          ->check(CLI::IsMember({"none", "interval", "always"}));
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace shmkit::cli
