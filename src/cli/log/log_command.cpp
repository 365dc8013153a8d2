#include "cli/commands.hpp"
#include "cli/log/log_commands.hpp"

namespace shmkit::cli {

void register_log_command(CLI::App& app) {
  CLI::App* log = app.add_subcommand("log", "Run a data logger, generate load, assemble and read .npz log archives");
  log->require_subcommand(1);
  log->footer(
      "A logger instance NAME keeps its rings in /dev/shm/shmkit-log.NAME and writes record files to\n"
      "OUT/NAME_data_log/; 'shmkit log assemble' turns them into one {source}_log.npz per source (numpy reads them).");
  register_log_serve_command(*log);
  register_log_bench_command(*log);
  register_log_assemble_command(*log);
  register_log_info_command(*log);
  register_log_cat_command(*log);
}

}  // namespace shmkit::cli
