// shmkit log collect --redis URL --out DIR [--prefix P] [--group G]
//                    [--consumer C] [--config FILE]:
// write every forwarded logger stream to record files until SIGINT/SIGTERM.

#include <unistd.h>

#include <shmkit/bridge/log_collect.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "bridge_command.hpp"
#include "cli/common/stop_signals.hpp"

namespace shmkit::cli {

namespace {

struct CollectArgs {
  LogCollectorOptions options;
  std::string out;
  std::string config;
};

void run_collect(CollectArgs& args) {
  args.options.password = redis_password(args.config);
  args.options.out_dir = args.out;
  LogCollector collector(args.options);
  std::cout << "collecting forwarded logs from " << args.options.redis_url << " into " << args.out << " (pid "
            << ::getpid() << "); stop with Ctrl-C or SIGTERM" << std::endl;
  run_until_stopped(collector);
  const LogCollectorStats s = collector.stats();
  std::cout << "stopped: collected " << s.collected << " entries from " << s.origins
            << " origins; duplicates dropped: " << s.duplicates << "; sequence gaps: " << s.gaps
            << "\nassemble with: shmkit log assemble " << args.out << "/HOST-INSTANCE_data_log" << std::endl;
}

}  // namespace

void register_log_collect_command(CLI::App& log) {
  auto args = std::make_shared<CollectArgs>();
  CLI::App* cmd = log.add_subcommand(
      "collect", "Write the logger streams forwarded through Redis to record files until SIGINT/SIGTERM");
  cmd->add_option("--redis", args->options.redis_url, "redis://host:port/db or unix:///path/to/redis.sock")->required();
  cmd->add_option("--out", args->out, "Output directory; each origin goes to OUT/HOST-INSTANCE_data_log/")->required();
  cmd->add_option("--prefix", args->options.prefix, "Prefix of the Redis keys (default shmkit)");
  cmd->add_option("--group", args->options.group, "Consumer group (default collector)");
  cmd->add_option("--consumer", args->options.consumer, "Consumer name; keep it across restarts (default collector)");
  cmd->add_option("--config", args->config, "YAML file with the Redis password (password: ...)");
  cmd->footer(
      "Entries are acknowledged (XACK) only after the files holding them are fsynced; a redelivered entry is\n"
      "recognised by (origin, source, sequence) and dropped. Then: shmkit log assemble OUT/HOST-INSTANCE_data_log");
  cmd->callback([args] { run_collect(*args); });
}

void register_log_bridge_commands(CLI::App& log) {
  register_log_forward_command(log);
  register_log_collect_command(log);
}

}  // namespace shmkit::cli
