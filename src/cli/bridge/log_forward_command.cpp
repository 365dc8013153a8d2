// shmkit log forward --instance I --redis URL [--host-id H] [--prefix P]
//                    [--state-dir DIR] [--config FILE] [logger options]:
// drain a logger instance's rings into a Redis Stream until SIGINT/SIGTERM.

#include <unistd.h>

#include <shmkit/bridge/log_forward.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "bridge_command.hpp"
#include "cli/common/stop_signals.hpp"

namespace shmkit::cli {

namespace {

struct ForwardArgs {
  LogForwarderOptions options;
  DataLoggerOptions logger;
  std::string state_dir;
  std::string config;
};

void run_forward(ForwardArgs& args) {
  args.options.password = redis_password(args.config);
  args.options.state_dir = args.state_dir;
  const StopSignals stop_signals;  // before the logger thread exists: it inherits the mask
  LogForwarder forwarder(args.options, args.logger);
  forwarder.start();
  std::cout << "forwarding logger instance '" << args.options.instance << "' to stream '" << forwarder.stream_key()
            << "' at " << args.options.redis_url << " (pid " << ::getpid() << "); stop with Ctrl-C or SIGTERM"
            << std::endl;
  const int signal = stop_signals.wait();
  const LogForwarderStats s = forwarder.stop();
  std::cout << "stopped by " << StopSignals::name(signal) << ": forwarded " << s.forwarded << " entries ("
            << s.forwarded_bytes << " payload bytes) in " << s.transactions
            << " transactions; re-sent entries Redis already held: " << s.resent_skipped
            << "; dropped by writers: " << s.logger.dropped << "; Redis errors: " << s.redis_errors << std::endl;
}

}  // namespace

void register_log_forward_command(CLI::App& log) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* cmd = log.add_subcommand(
      "forward", "Drain a logger instance's rings into a Redis Stream (instead of files) until SIGINT/SIGTERM");
  cmd->add_option("--instance", args->options.instance, "Logger instance name (writers connect with it)")->required();
  cmd->add_option("--redis", args->options.redis_url, "redis://host:port/db or unix:///path/to/redis.sock")->required();
  cmd->add_option("--host-id", args->options.host_id, "This host's id in the stream name (default: the host name)");
  cmd->add_option("--prefix", args->options.prefix, "Prefix of the Redis keys (default shmkit)");
  cmd->add_option("--state-dir", args->state_dir,
                  "Directory for the spill files of large entries; keep it across restarts (default "
                  "/tmp/shmkit-log-forward-UID-HOST-INSTANCE)");
  cmd->add_option("--config", args->config, "YAML file with the Redis password (password: ...)");
  cmd->add_option("--max-writers", args->logger.max_writers, "Writer slots (rings), if the segment is created here")
      ->capture_default_str();
  cmd->add_option("--ring-bytes", args->logger.ring_bytes, "Bytes per writer ring, if the segment is created here")
      ->capture_default_str();
  cmd->footer(
      "Entries are XADDed (small ones several to a stream message) with their source, a per-source sequence\n"
      "number, their time and payload, in one MULTI/EXEC per drain pass; ring space is\n"
      "released only once Redis holds the entry. While Redis is unreachable nothing is drained and the writers'\n"
      "full policy (block or drop) applies. Collect with 'shmkit log collect'.");
  cmd->callback([args] { run_forward(*args); });
}

}  // namespace shmkit::cli
