// shmkit channel ls

#include <shmkit/channel/channel.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <iostream>
#include <string>

#include "channel_commands.hpp"
#include "cli/common/table.hpp"

namespace shmkit::cli {

namespace {

void run_channel_ls() {
  using Align = Table::Align;
  Table table({{"NAME"},
               {"SAMPLE"},
               {"SLOTS", Align::right},
               {"PUBLISHED", Align::right},
               {"PUBLISHER"},
               {"SUBSCRIBERS", Align::right},
               {"MISSED", Align::right}});
  const std::string_view prefix = kChannelSegmentPrefix;
  for (const SegmentInfo& segment : list_segments()) {
    if (!segment.is_shmkit || segment.segment_kind() != SegmentKind::channel || !segment.name.starts_with(prefix)) {
      continue;
    }
    const std::string name = segment.name.substr(prefix.size());
    try {
      const ChannelInfo info = Channel::open(name).info();
      std::uint64_t missed = 0;
      for (const auto& sub : info.subscribers) {
        missed += sub.missed;
      }
      const std::string publisher =
          info.publisher ? std::to_string(info.publisher->pid) + (info.publisher_alive ? "" : " (dead)") : "-";
      table.add_row({name, channel_sample_string(info.sample), std::to_string(info.slots),
                     std::to_string(info.published), publisher, std::to_string(info.subscribers.size()),
                     std::to_string(missed)});
    } catch (const Error& e) {
      table.add_row({name, std::string("cannot open: ") + e.what(), "-", "-", "-", "-", "-"});
    }
  }
  if (table.empty()) {
    std::cout << "no channels in " << kShmDirectory << '\n';
    return;
  }
  table.print(std::cout);
}

}  // namespace

void register_channel_ls_command(CLI::App& channel) {
  CLI::App* cmd = channel.add_subcommand("ls", "List channels: sample type, slots, samples published, participants");
  cmd->callback([] { run_channel_ls(); });
}

}  // namespace shmkit::cli
