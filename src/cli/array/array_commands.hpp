#pragma once
// The `shmkit array` subcommands, one file each; array_command.cpp adds them
// to the `array` group.

#include <CLI/CLI.hpp>

namespace shmkit::cli {

void register_array_create_command(CLI::App& array);
void register_array_info_command(CLI::App& array);
void register_array_get_command(CLI::App& array);
void register_array_set_command(CLI::App& array);
void register_array_rm_command(CLI::App& array);

}  // namespace shmkit::cli
