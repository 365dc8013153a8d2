#pragma once
// `shmkit bridge`: share store namespaces with other machines through Redis;
// `shmkit log forward` and `shmkit log collect`: a logger across machines.
// They live here, not in cli/log/, because they link libshmkit-bridge.

#include <CLI/CLI.hpp>

#include <string>

namespace shmkit::cli {

void register_bridge_command(CLI::App& app);
/// Adds `forward` and `collect` to the `log` group.
void register_log_bridge_commands(CLI::App& log);
void register_log_forward_command(CLI::App& log);
void register_log_collect_command(CLI::App& log);

/// The Redis password: `password:` of the YAML file `config` (if given),
/// else SHMKIT_REDIS_PASSWORD, else none. Never from the command line.
/// @throws Error when the file cannot be read
std::string redis_password(const std::string& config);

}  // namespace shmkit::cli
