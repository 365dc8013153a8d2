#pragma once
// `shmkit channel ...`: one file per subcommand, plus what they share.

#include <shmkit/channel/channel.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <string>

namespace shmkit::cli {

void register_channel_ls_command(CLI::App& channel);
void register_channel_info_command(CLI::App& channel);
void register_channel_echo_command(CLI::App& channel);
void register_channel_record_command(CLI::App& channel);

/// "value (24 B)", "<u2 (480, 640)", "<f4 any shape up to 1.0 MiB".
std::string channel_sample_string(const SampleSpec& spec);

/// Set by SIGINT / SIGTERM once channel_stop_on_signals() ran, so echo and
/// record end cleanly (disconnecting their subscriber) on Ctrl-C.
extern std::atomic<bool> channel_stop_requested;
void channel_stop_on_signals();

}  // namespace shmkit::cli
