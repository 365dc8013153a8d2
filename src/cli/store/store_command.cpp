// shmkit store -m SIZE -s SOCKET [--config FILE] [--mode MODE] [--[no-]prefault] [--[no-]hugepages]
//              [--allow-uid UID]... [--persist DIR [--[no-]persist-sync]] [--spill DIR] [--max-clients N]
//              [--max-objects N] [--max-names N] [--spin-us US] [--[no-]fast-writes] [--slab-bytes N]
//              [--leases-per-client N] [--subscriber-queue N] [--write-config FILE]
// runs a store server in the foreground until SIGTERM or SIGINT, or writes
// the server options it would run with to a YAML file.

#include <unistd.h>

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_options.hpp>
#include <shmkit/store/store_server.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/common/config_overrides.hpp"
#include "cli/common/format.hpp"
#include "cli/common/stop_signals.hpp"
#include "cli/common/values.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct ServeOptions {
  std::string config;
  std::string write_config;
  // Applied over the config file when not empty.
  std::string size;
  std::string socket;
  std::string mode;
  std::string persist_dir;
  std::string spill_dir;
  ConfigOverrides<StoreOptions> overrides;
};

std::string timestamp() {
  return iso8601(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// The config file (if any), then the command line over it.
StoreOptions server_options(const ServeOptions& cli) {
  StoreOptions options;
  if (!cli.config.empty()) {
    options = from_yaml<StoreOptions>(cli.config);
    check_config_mode(options.socket_mode, cli.config, "socket_mode");
  }
  if (!cli.size.empty()) {
    options.capacity = parse_size(cli.size);
  }
  if (!cli.socket.empty()) {
    options.socket_path = cli.socket;
  }
  if (!cli.mode.empty()) {
    options.socket_mode = parse_mode(cli.mode);
  }
  if (!cli.persist_dir.empty()) {
    options.persist_dir = cli.persist_dir;
  }
  if (!cli.spill_dir.empty()) {
    options.spill_dir = cli.spill_dir;
  }
  cli.overrides.apply(options);
  if (options.capacity == 0 || options.socket_path.empty()) {
    throw Error(
        "'shmkit store' needs -m SIZE and -s SOCKET (or capacity and socket_path in its --config file) to run a "
        "server (or a subcommand: put, get, ls, rm, stats)");
  }
  return options;
}

void serve(const ServeOptions& cli) {
  StoreOptions options = server_options(cli);
  if (!cli.write_config.empty()) {
    to_yaml(options, cli.write_config);
    std::cout << "wrote the store's server options to " << cli.write_config << '\n';
    return;
  }
  options.log = [](std::string_view line) { std::cerr << timestamp() << ' ' << line << std::endl; };

  const StopSignals stop_signals;  // before the server thread starts: it inherits the mask

  StoreServer server = StoreServer::start(options);
  std::cerr << timestamp() << " store: serving " << human_size(server.stats().capacity) << " on " << options.socket_path
            << " (pid " << ::getpid() << ")";
  if (!options.persist_dir.empty()) {
    std::cerr << ", names persisted in " << options.persist_dir << (options.persist_sync ? " (synced)" : "");
  }
  if (!options.spill_dir.empty()) {
    std::cerr << ", spilling to " << options.spill_dir;
  }
  std::cerr << std::endl;
  const int signal = stop_signals.wait();
  std::cerr << timestamp() << " store: " << StopSignals::name(signal) << ", stopping" << std::endl;
  server.stop();
}

}  // namespace

void register_store_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* store = app.add_subcommand("store", "Run an object store server, or put/get/list objects in one");
  store->require_subcommand(0, 1);
  store->add_option("--config", options->config,
                    "YAML file of the server options (keys capacity, socket_path, socket_mode, allowed_uids, "
                    "prefault, huge_pages, max_objects, max_names, persist_dir, persist_sync, spill_dir, spin_us, "
                    "fast_writes, slab_bytes, max_clients, leases_per_client, subscriber_queue); the options below "
                    "override it");
  store->add_option("-m,--memory", options->size, "Capacity for object data: bytes or 500M, 2G, ...");
  store->add_option("-s,--socket", options->socket, "Unix socket path clients connect to");
  store->add_option("--mode", options->mode, "Permission bits of the socket (default 0600: owner only)");
  ConfigOverrides<StoreOptions>& overrides = options->overrides;
  overrides.add_flag(*store, "--prefault,!--no-prefault", &StoreOptions::prefault,
                     "Map every page at start so first writes do not fault");
  overrides.add_flag(*store, "--hugepages,!--no-hugepages", &StoreOptions::huge_pages,
                     "Back the arena with huge pages (needs vm.nr_hugepages)");
  overrides.add(*store, "--allow-uid", &StoreOptions::allowed_uids,
                "User ids allowed to connect (default: the server's own)");
  overrides.add(*store, "--max-clients", &StoreOptions::max_clients, "Clients connected at once (default 64)");
  overrides.add(*store, "--max-objects", &StoreOptions::max_objects,
                "Slots of the object index (default: capacity / 16 KiB)");
  overrides.add(*store, "--max-names", &StoreOptions::max_names, "Names bound at once (default: one per index slot)");
  store->add_option("--persist", options->persist_dir,
                    "Keep named values in an LMDB directory; a store restarted on it has them back");
  overrides.add_flag(*store, "--persist-sync,!--no-persist-sync", &StoreOptions::persist_sync,
                     "fsync every persisted change before acknowledging it (survives power loss)");
  overrides.add(*store, "--spin-us", &StoreOptions::spin_us,
                "Microseconds to poll before sleeping after a request (default 100; 0: never poll)");
  overrides.add_flag(*store, "--fast-writes,!--no-fast-writes", &StoreOptions::fast_writes,
                     "Let clients create and set without a round trip, from slabs the server lends them (default on; "
                     "off with --persist or --spill)");
  overrides.add(*store, "--slab-bytes", &StoreOptions::slab_bytes,
                "Bytes of one client's slab for fast writes (default: min(1 MiB, capacity / (4 * max-clients)))");
  store->add_option("--spill", options->spill_dir,
                    "Move evicted objects to an LMDB directory instead of dropping them (emptied at start)");
  overrides.add(*store, "--leases-per-client", &StoreOptions::leases_per_client,
                "Distinct objects one client can hold references to at once (default 1024)");
  overrides.add(*store, "--subscriber-queue", &StoreOptions::subscriber_queue,
                "Events queued for a subscriber that does not read before it gets an overflow (default 1024)");
  store->add_option("--write-config", options->write_config,
                    "Write the server options (--config's, with the options here over them) to this YAML file and "
                    "exit");
  store->footer(
      "Without a subcommand, runs the server in the foreground until SIGTERM or SIGINT; the memory is freed when\n"
      "it stops, except for named values kept with --persist. Example: shmkit store -m 1G -s /tmp/shmkit.sock, or\n"
      "shmkit store --config store.yaml (a YAML file of the same settings; the options given here override it;\n"
      "--write-config store.yaml writes one)");
  register_store_put_command(*store);
  register_store_get_command(*store);
  register_store_ls_command(*store);
  register_store_rm_command(*store);
  register_store_stats_command(*store);
  register_store_set_command(*store);
  register_store_namespaces_command(*store);
  register_store_snapshot_command(*store);
  store->callback([store, options] {
    if (store->get_subcommands().empty()) {
      serve(*options);
    }
  });
}

}  // namespace shmkit::cli
