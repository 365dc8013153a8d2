// shmkit channel record NAME --instance I [--source ID] [--count N] [--timeout SECONDS]
//
// Feeds every sample of a channel into a running data logger, so a recorded
// channel ends up in the logger's .npz archives like any other source.

#include <shmkit/channel/channel.hpp>
#include <shmkit/logger/log_writer.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "channel_commands.hpp"
#include "cli/commands.hpp"

namespace shmkit::cli {

namespace {

struct ChannelRecordOptions {
  std::string name;
  std::string instance;
  unsigned source = 1;
  std::uint64_t count = 0;
  double timeout = 0;
  bool from_now = false;
};

void run_channel_record(const ChannelRecordOptions& options) {
  const Channel channel = Channel::open(options.name);
  LogWriter writer = LogWriter::connect(options.instance);
  auto sub = channel.subscriber({.start = options.from_now ? SubscriberStart::now : SubscriberStart::history});
  const auto source = static_cast<std::uint8_t>(options.source);
  writer.write_onset(source);
  channel_stop_on_signals();
  const auto idle_limit = std::chrono::duration<double>(options.timeout);
  auto idle_since = std::chrono::steady_clock::now();
  std::uint64_t recorded = 0;
  std::uint64_t refused = 0;
  std::uint64_t last_time = 0;
  while (!channel_stop_requested.load() && (options.count == 0 || recorded + refused < options.count)) {
    auto sample = sub.receive(std::chrono::milliseconds(100));
    if (!sample) {
      if (options.timeout > 0 && std::chrono::steady_clock::now() - idle_since >= idle_limit) {
        break;
      }
      continue;
    }
    idle_since = std::chrono::steady_clock::now();
    // Archive members are named after their acquisition time, so two
    // samples received within one microsecond still get distinct times.
    last_time = std::max(writer.elapsed_us(), last_time + 1);
    if (writer.log(source, last_time, sample->bytes())) {
      ++recorded;
    } else {
      ++refused;
    }
  }
  std::cout << recorded << " samples of channel '" << options.name << "' recorded to logger instance '"
            << options.instance << "' as source " << options.source << ", " << sub.missed()
            << " missed on the channel, " << refused << " refused by the logger" << std::endl;
  if (refused > 0) {
    throw ExitStatus(1);
  }
}

}  // namespace

void register_channel_record_command(CLI::App& channel) {
  auto options = std::make_shared<ChannelRecordOptions>();
  CLI::App* cmd = channel.add_subcommand(
      "record", "Feed every sample of a channel into a data logger instance (it ends up in the .npz archives)");
  cmd->add_option("name", options->name, "Channel name")->required();
  cmd->add_option("--instance,-i", options->instance, "Logger instance (a running DataLogger or 'shmkit log serve')")
      ->required();
  cmd->add_option("--source", options->source, "Source id of the recorded entries")
      ->check(CLI::Range(0, 255))
      ->capture_default_str();
  cmd->add_option("--count,-n", options->count, "Stop after this many samples (0: until Ctrl-C)");
  cmd->add_option("--timeout", options->timeout, "Stop after this many seconds without a sample (0: never)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_flag("--from-now", options->from_now, "Skip the channel's history; record only samples published from now");
  cmd->footer(
      "Each sample becomes one log entry: its bytes as the payload (an array's C-order elements), its time\n"
      "the microseconds since recording began (the onset entry is written first).");
  cmd->callback([options] { run_channel_record(*options); });
}

}  // namespace shmkit::cli
