// shmkit log serve --instance NAME --out DIR: a logger in the foreground
// until SIGINT or SIGTERM, then drain the rings and exit.

#include <shmkit/logger/data_logger.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>

#include "log_commands.hpp"

namespace shmkit::cli {

namespace {

struct ServeArgs {
  std::string instance;
  std::string out;
  std::uint32_t max_writers = 16;
  std::size_t ring_bytes = std::size_t{1} << 20;
  std::string fsync = "interval";
};

FsyncPolicy parse_fsync_policy(const std::string& text) {
  return text == "none" ? FsyncPolicy::none : (text == "always" ? FsyncPolicy::always : FsyncPolicy::interval);
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
  DataLoggerOptions options;
  options.max_writers = args.max_writers;
  options.ring_bytes = args.ring_bytes;
  options.fsync = parse_fsync_policy(args.fsync);
  DataLogger logger(args.out, args.instance, options);
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
  cmd->add_option("--max-writers", args->max_writers, "Writer slots (rings) in the segment")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--ring-bytes", args->ring_bytes, "Bytes per writer ring (power of two, >= 64 KiB)")
      ->capture_default_str();
  cmd->add_option("--fsync", args->fsync, "When record files are fsynced: none, interval (1 s) or always")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "interval", "always"}));
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace shmkit::cli
