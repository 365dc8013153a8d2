// shmkit channel echo NAME [--count N] [--timeout SECONDS] [--from-now]

#include <shmkit/channel/channel.hpp>

#include <chrono>
#include <complex>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "channel_commands.hpp"
#include "cli/commands.hpp"
#include "cli/common/format.hpp"

namespace shmkit::cli {

namespace {

struct ChannelEchoOptions {
  std::string name;
  std::uint64_t count = 0;
  double timeout = 0;
  bool from_now = false;
};

template <class T>
void print_element(std::ostream& out, const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  if constexpr (std::is_same_v<T, bool>) {
    out << (value ? "True" : "False");
  } else if constexpr (sizeof(T) == 1 && std::is_integral_v<T>) {
    out << static_cast<int>(value);
  } else {
    out << value;
  }
}

// The first few elements of an array sample, or the first bytes of a value.
std::string channel_preview(const Sample& sample, const SampleSpec& spec) {
  std::ostringstream out;
  const auto bytes = sample.bytes();
  if (spec.kind == ChannelSampleKind::value) {
    constexpr std::size_t kShown = 16;
    out << "bytes";
    char hex[4];
    for (std::size_t i = 0; i < bytes.size() && i < kShown; ++i) {
      std::snprintf(hex, sizeof hex, " %02x", static_cast<unsigned>(bytes[i]));
      out << hex;
    }
    out << (bytes.size() > kShown ? " ..." : "");
    return out.str();
  }
  out << dtype_string(spec.dtype) << ' ' << shape_string(sample.shape()) << " [";
  visit_dtype(spec.dtype, [&](auto type) {
    using T = typename decltype(type)::type;
    const std::size_t count = bytes.size() / sizeof(T);
    for (std::size_t i = 0; i < count && i < 8; ++i) {
      out << (i ? ", " : "");
      print_element<T>(out, bytes.data() + i * sizeof(T));
    }
    out << (count > 8 ? ", ..." : "");
  });
  out << ']';
  return out.str();
}

void run_channel_echo(const ChannelEchoOptions& options) {
  const Channel channel = Channel::open(options.name);
  const SampleSpec spec = channel.sample();
  auto sub = channel.subscriber({.start = options.from_now ? SubscriberStart::now : SubscriberStart::history});
  channel_stop_on_signals();
  const auto idle_limit = std::chrono::duration<double>(options.timeout);
  auto idle_since = std::chrono::steady_clock::now();
  std::uint64_t printed = 0;
  while (!channel_stop_requested.load() && (options.count == 0 || printed < options.count)) {
    auto sample = sub.receive(std::chrono::milliseconds(100));
    if (!sample) {
      if (options.timeout > 0 && std::chrono::steady_clock::now() - idle_since >= idle_limit) {
        break;
      }
      continue;
    }
    idle_since = std::chrono::steady_clock::now();
    const auto now_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(idle_since.time_since_epoch()).count());
    std::cout << "#" << sample->sequence() << "  age "
              << human_duration(static_cast<double>(now_ns - sample->publish_ns())) << "  "
              << channel_preview(*sample, spec) << '\n';
    ++printed;
  }
  std::cout << printed << " samples printed, " << sub.missed() << " missed" << std::endl;
}

}  // namespace

void register_channel_echo_command(CLI::App& channel) {
  auto options = std::make_shared<ChannelEchoOptions>();
  CLI::App* cmd = channel.add_subcommand("echo", "Subscribe to a channel and print every sample it receives");
  cmd->add_option("name", options->name, "Channel name")->required();
  cmd->add_option("--count,-n", options->count, "Stop after this many samples (0: until Ctrl-C)");
  cmd->add_option("--timeout", options->timeout, "Stop after this many seconds without a sample (0: never)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_flag("--from-now", options->from_now, "Skip the channel's history; print only samples published from now");
  cmd->callback([options] { run_channel_echo(*options); });
}

}  // namespace shmkit::cli
