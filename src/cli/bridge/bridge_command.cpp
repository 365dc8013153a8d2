// shmkit bridge -s SOCK --ns NS [--ns NS2 ...] --redis URL [--prefix P]
//               [--host-id H] [--config FILE] [--max-value-bytes N]

#include "bridge_command.hpp"

#include <yaml-cpp/yaml.h>
#include <shmkit/bridge/bridge.hpp>
#include <shmkit/core/error.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/common/stop_signals.hpp"

namespace shmkit::cli {

namespace {

struct BridgeCommand {
  BridgeOptions options;
  std::string config;
};

// The password (and defaults for other settings) from a YAML file, so it
// never appears on a command line or in `ps`.
void read_config(BridgeCommand& c, bool prefix_given, bool host_given) {
  if (c.config.empty()) {
    return;
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(c.config);
  } catch (const YAML::Exception& e) {
    throw Error("cannot read bridge config '" + c.config + "': " + e.what());
  }
  if (root["password"]) {
    c.options.password = root["password"].as<std::string>();
  }
  if (root["prefix"] && !prefix_given) {
    c.options.prefix = root["prefix"].as<std::string>();
  }
  if (root["host_id"] && !host_given) {
    c.options.host_id = root["host_id"].as<std::string>();
  }
}

void run(BridgeCommand& c, bool prefix_given, bool host_given) {
  read_config(c, prefix_given, host_given);
  if (c.options.password.empty()) {
    if (const char* password = std::getenv("SHMKIT_REDIS_PASSWORD")) {
      c.options.password = password;
    }
  }
  Bridge bridge = Bridge::create(c.options);
  std::cerr << "shmkit bridge " << bridge.host_id() << ": store '" << c.options.store_socket << "' <-> Redis '"
            << c.options.redis_url << "'" << std::endl;
  run_until_stopped(bridge);
}

}  // namespace

void register_bridge_command(CLI::App& app) {
  auto c = std::make_shared<BridgeCommand>();
  CLI::App* bridge = app.add_subcommand(
      "bridge", "Share store namespaces with stores on other machines through Redis (runs until Ctrl-C)");
  bridge->add_option("-s,--socket", c->options.store_socket, "Socket of the local store server")->required();
  bridge->add_option("--ns", c->options.namespaces, "A namespace to bridge (repeat for several)")->required();
  bridge->add_option("--redis", c->options.redis_url, "redis://host:port/db or unix:///path/to/redis.sock")->required();
  CLI::Option* prefix =
      bridge->add_option("--prefix", c->options.prefix, "Prefix of the Redis keys and channel (default shmkit)");
  CLI::Option* host = bridge->add_option("--host-id", c->options.host_id,
                                         "This store's origin id (default <hostname>:<socket>); unique per store");
  bridge->add_option("--config", c->config, "YAML file with password (and prefix, host_id)");
  bridge->add_option("--max-value-bytes", c->options.max_value_bytes,
                     "Values larger than this are not bridged (default 64 MiB)");
  bridge->footer(
      "The Redis password comes from --config (password: ...) or SHMKIT_REDIS_PASSWORD, never the command line.\n"
      "Last writer wins by (origin timestamp, origin id); see README 'Several machines'.");
  bridge->callback([c, prefix, host] { run(*c, prefix->count() > 0, host->count() > 0); });
}

}  // namespace shmkit::cli
