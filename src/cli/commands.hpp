#pragma once
// Every subcommand of the `shmkit` command lives in its own file and is
// added to the application by one register_* function.

#include <CLI/CLI.hpp>

namespace shmkit::cli {

void register_array_command(CLI::App& app);
void register_demo_command(CLI::App& app);
void register_gc_command(CLI::App& app);
void register_ls_command(CLI::App& app);

}  // namespace shmkit::cli
