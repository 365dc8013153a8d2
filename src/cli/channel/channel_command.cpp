// shmkit channel ls|info|echo|record

#include <signal.h>

#include <atomic>
#include <string>

#include "channel_commands.hpp"
#include "cli/commands.hpp"
#include "cli/common/format.hpp"

namespace shmkit::cli {

std::atomic<bool> channel_stop_requested{false};

namespace {

void channel_on_signal(int /*signal*/) {
  channel_stop_requested.store(true);
}

}  // namespace

void channel_stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = channel_on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

std::string channel_sample_string(const SampleSpec& spec) {
  switch (spec.kind) {
    case ChannelSampleKind::value:
      return "value (" + std::to_string(spec.bytes) + " B)";
    case ChannelSampleKind::array:
      return std::string(dtype_string(spec.dtype)) + " " + shape_string(spec.shape);
    case ChannelSampleKind::variable_array:
      return std::string(dtype_string(spec.dtype)) + " any shape up to " + human_size(spec.bytes);
  }
  return "?";
}

void register_channel_command(CLI::App& app) {
  CLI::App* channel =
      app.add_subcommand("channel", "Inspect zero-copy publish/subscribe channels, print or record their samples");
  channel->require_subcommand(1);
  channel->footer(
      "Channel NAME lives in /dev/shm/shmkit-chan.NAME. 'shmkit ls' lists it with the other segments and\n"
      "'shmkit gc' removes it once every process that used it has exited.");
  register_channel_ls_command(*channel);
  register_channel_info_command(*channel);
  register_channel_echo_command(*channel);
  register_channel_record_command(*channel);
}

}  // namespace shmkit::cli
