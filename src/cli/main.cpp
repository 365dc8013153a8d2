// The `shmkit` command: one binary, one CLI11 subcommand per job.
//
// Exit status: 0 success (including --help and --version), 1 when a command
// fails (the message goes to stderr as "shmkit: <message>"), 2 when the
// command line itself is wrong.

#include <shmkit/core/error.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>

#include "cli/bridge/bridge_command.hpp"
#include "cli/commands.hpp"

namespace {

constexpr int kFailureExit = 1;
constexpr int kUsageExit = 2;

// "shmkit array create": the subcommands the parser had selected when it
// failed, so the hint points at the help that explains the mistake.
std::string command_path(const CLI::App* app) {
  std::string path = "shmkit";
  for (auto subcommands = app->get_subcommands(); !subcommands.empty();
       subcommands = subcommands.front()->get_subcommands()) {
    path += " " + subcommands.front()->get_name();
  }
  return path;
}

std::string usage_failure(const CLI::App* app, const CLI::Error& e) {
  std::string message = e.what();
  // CLI11 reports "shmkit bogus" as a missing subcommand; name the word it
  // did not know instead.
  const CLI::App* deepest = app;
  while (!deepest->get_subcommands().empty()) {
    deepest = deepest->get_subcommands().front();
  }
  if (const auto extras = deepest->remaining(); !extras.empty() && deepest->get_require_subcommand_min() > 0) {
    message = "unknown command '" + extras.front() + "'";
  }
  return "shmkit: " + message + "\nRun '" + command_path(app) + " --help' for more information.\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shmkit: shared arrays and tools for multi-process data pipelines on one machine", "shmkit"};
  app.set_version_flag("--version", "shmkit " SHMKIT_VERSION);
  app.require_subcommand(1);
  app.failure_message(usage_failure);
  app.footer("Exit status: 0 on success, 1 when a command fails, 2 for a usage error.");

  shmkit::cli::register_array_command(app);
  shmkit::cli::register_bridge_command(app);
  shmkit::cli::register_channel_command(app);
  shmkit::cli::register_config_command(app);
  shmkit::cli::register_ls_command(app);
  shmkit::cli::register_gc_command(app);
  shmkit::cli::register_demo_command(app);
  shmkit::cli::register_store_command(app);
  shmkit::cli::register_log_command(app);
  shmkit::cli::register_log_bridge_commands(*app.get_subcommand("log"));

  // Subcommands do their work in callbacks that run inside parse(), so
  // their failures arrive here too, as shmkit::Error or ExitStatus.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 gives each kind of usage error its own code; scripts only need
    // to tell usage errors (2) from failures (1) and success (0: --help).
    return app.exit(e) == 0 ? 0 : kUsageExit;
  } catch (const shmkit::cli::ExitStatus& e) {
    return e.code();
  } catch (const std::exception& e) {  // shmkit::Error, and the odd std::bad_alloc
    std::cout.flush();
    std::cerr << "shmkit: " << e.what() << '\n';
    return kFailureExit;
  }
  return 0;
}
