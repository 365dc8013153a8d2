// shmkit channel info NAME [--interval SECONDS]

#include <shmkit/channel/channel.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "channel_commands.hpp"
#include "cli/common/format.hpp"
#include "cli/common/table.hpp"

namespace shmkit::cli {

namespace {

struct ChannelInfoOptions {
  std::string name;
  double interval = 1.0;
};

void run_channel_info(const ChannelInfoOptions& options) {
  const Channel channel = Channel::open(options.name);
  const ChannelInfo before = channel.info();
  double rate = -1;
  if (options.interval > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(options.interval));
  }
  const ChannelInfo info = options.interval > 0 ? channel.info() : before;
  if (options.interval > 0) {
    rate = static_cast<double>(info.published - before.published) / options.interval;
  }
  auto line = [](std::string_view key, const std::string& value) {
    std::cout << key << std::string(key.size() < 13 ? 13 - key.size() : 1, ' ') << value << '\n';
  };
  line("channel:", info.name + " (/dev/shm/" + info.segment_name + ", " + human_size(info.segment_bytes) + ")");
  line("sample:", channel_sample_string(info.sample));
  line("slots:", std::to_string(info.slots) + " (" + std::to_string(info.free_slots) + " free), history " +
                     std::to_string(info.history) + ", up to " + std::to_string(info.max_subscribers) + " subscribers");
  line("overflow:", info.overflow == ChannelOverflow::block ? "block (the publisher waits for slow subscribers)"
                                                            : "drop_oldest (slow subscribers miss samples)");
  line("creator:", std::to_string(info.creator.pid) + (info.creator_alive ? " (alive)" : " (exited)"));
  line("publisher:", info.publisher
                         ? std::to_string(info.publisher->pid) + (info.publisher_alive ? " (alive)" : " (dead)")
                         : std::string("none"));
  line("published:",
       std::to_string(info.published) +
           (info.last_publish_unix_ns > 0 ? ", last at about " + iso8601(info.last_publish_unix_ns) : ""));
  if (rate >= 0) {
    line("rate:", fixed(rate, 1) + " samples/s over " + fixed(options.interval, 1) + " s");
  }
  line("loans failed:", std::to_string(info.loans_failed));
  line("reclaimed:", std::to_string(info.reclaimed) + " dead participants");
  if (info.subscribers.empty()) {
    line("subscribers:", "none");
    return;
  }
  using Align = Table::Align;
  Table table({{"SUB", Align::right},
               {"PID", Align::right},
               {"ALIVE"},
               {"RECEIVED", Align::right},
               {"MISSED", Align::right},
               {"SKIPPED", Align::right},
               {"BEHIND", Align::right},
               {"HOLDING", Align::right}});
  for (const auto& sub : info.subscribers) {
    const std::uint64_t behind = info.published + 1 > sub.cursor ? info.published + 1 - sub.cursor : 0;
    table.add_row({std::to_string(sub.index), std::to_string(sub.process.pid), sub.alive ? "yes" : "no",
                   std::to_string(sub.received), std::to_string(sub.missed), std::to_string(sub.skipped),
                   std::to_string(behind), std::to_string(sub.holding)});
  }
  std::cout << '\n';
  table.print(std::cout);
}

}  // namespace

void register_channel_info_command(CLI::App& channel) {
  auto options = std::make_shared<ChannelInfoOptions>();
  CLI::App* cmd =
      channel.add_subcommand("info", "Show a channel: sample type, publish rate, subscribers, missed counts");
  cmd->add_option("name", options->name, "Channel name")->required();
  cmd->add_option("--interval", options->interval, "Seconds over which the publish rate is measured (0: skip it)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->callback([options] { run_channel_info(*options); });
}

}  // namespace shmkit::cli
