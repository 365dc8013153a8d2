// shmkit log serve --instance NAME --out DIR [--config FILE] [--write-config FILE] [options]:
// a logger in the foreground until SIGINT or SIGTERM, then drain the rings
// and exit; or write the logger options it would run with to a YAML file.

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/options.hpp>

#include <unistd.h>

#include <boost/describe/enum_from_string.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "cli/common/config_overrides.hpp"
#include "cli/common/stop_signals.hpp"
#include "cli/common/values.hpp"
#include "cli/log/log_commands.hpp"

namespace shmkit::cli {

namespace {

struct ServeArgs {
  std::string instance;
  std::string out;
  std::string config;
  std::string write_config;
  ConfigOverrides<DataLoggerOptions> overrides;
};

// The options file (if any), then the command line over it.
DataLoggerOptions logger_options(const ServeArgs& args) {
  DataLoggerOptions options;
  if (!args.config.empty()) {
    options = from_yaml<DataLoggerOptions>(args.config);
    check_config_mode(options.mode, args.config, "mode");
  }
  args.overrides.apply(options);
  return options;
}

void run_serve(const ServeArgs& args) {
  if (!args.write_config.empty()) {
    to_yaml(logger_options(args), args.write_config);
    std::cout << "wrote the logger options to " << args.write_config << std::endl;
    return;
  }
  const StopSignals stop_signals;  // before the saver thread exists: it inherits the mask
  DataLogger logger(args.out, args.instance, logger_options(args));
  logger.start();
  std::cout << "logging instance '" << args.instance << "' to " << logger.log_directory().string() << " (pid "
            << ::getpid() << "); stop with Ctrl-C or SIGTERM" << std::endl;
  const int signal = stop_signals.wait();
  const LoggerStats stats = logger.stop();
  std::cout << "stopped by " << StopSignals::name(signal) << ": saved " << stats.entries_saved << " entries ("
            << stats.bytes_saved << " payload bytes) in " << stats.files_created
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
  ConfigOverrides<DataLoggerOptions>& overrides = args->overrides;
  overrides.add(*cmd, "--max-writers", &DataLoggerOptions::max_writers, "Writer slots (rings) in the segment")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  overrides
      .add(*cmd, "--ring-bytes", &DataLoggerOptions::ring_bytes, "Bytes per writer ring (power of two, >= 64 KiB)")
      ->capture_default_str();
  overrides.add(*cmd, "--mode", std::string{}, "Permission bits of the segment (default 0600: owner only; 0660: group)",
                [](DataLoggerOptions& options, const std::string& text) { options.mode = parse_mode(text); });
  overrides
      .add(*cmd, "--fsync", std::string("interval"),
           "When record files are fsynced: none, interval (see --fsync-interval) or always",
           [](DataLoggerOptions& options, const std::string& name) {
             // CLI11 admitted only the enumerator names.
             (void)boost::describe::enum_from_string(name.c_str(), options.fsync);
           })
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "interval", "always"}));
  overrides
      .add(*cmd, "--fsync-interval", &DataLoggerOptions::fsync_interval,
           "Milliseconds between fsyncs with --fsync interval")
      ->capture_default_str();
  overrides
      .add(*cmd, "--idle-sleep", &DataLoggerOptions::idle_sleep,
           "Longest the saver sleeps, in microseconds, when every ring is empty (a filling ring wakes it)")
      ->capture_default_str();
  overrides
      .add(*cmd, "--reap-interval", &DataLoggerOptions::reap_interval,
           "Milliseconds between looks for writers that died without disconnecting")
      ->capture_default_str();
  overrides
      .add(*cmd, "--file-buffer-bytes", &DataLoggerOptions::file_buffer_bytes,
           "Bytes buffered per record file before a write(2)")
      ->capture_default_str();
  overrides.add_flag(*cmd, "--remove-segment,!--keep-segment", &DataLoggerOptions::remove_segment_on_destroy,
                     "At exit, remove the segment unless a writer is still connected (the default), or keep it");
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace shmkit::cli
