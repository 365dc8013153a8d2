#pragma once
// The `shmkit log` subcommands, one file each; log_command.cpp adds them to
// the `log` group.

#include <CLI/CLI.hpp>

namespace shmkit::cli {

void register_log_assemble_command(CLI::App& log);
void register_log_cat_command(CLI::App& log);
void register_log_info_command(CLI::App& log);
void register_log_serve_command(CLI::App& log);
void register_log_bench_command(CLI::App& log);

}  // namespace shmkit::cli
