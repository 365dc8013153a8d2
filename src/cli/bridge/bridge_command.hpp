#pragma once
// `shmkit bridge`: share store namespaces with other machines through Redis.

#include <CLI/CLI.hpp>

namespace shmkit::cli {

void register_bridge_command(CLI::App& app);

}  // namespace shmkit::cli
