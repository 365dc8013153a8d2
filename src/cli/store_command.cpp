// shmkit store -m SIZE -s SOCKET [--config FILE] [--mode MODE] [--[no-]prefault] [--[no-]hugepages]
//              [--allow-uid UID]... [--persist DIR [--[no-]persist-sync]] [--spill DIR] [--max-clients N]
//              [--max-objects N] [--max-names N] [--spin-us US] [--leases-per-client N] [--subscriber-queue N]
//              [--write-config FILE]
// runs a store server in the foreground until SIGTERM or SIGINT, or writes
// the server options it would run with to a YAML file.

#include <signal.h>
#include <unistd.h>

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_options.hpp>
#include <shmkit/store/store_server.hpp>

#include <cctype>
#include <charconv>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "format.hpp"
#include "store_commands.hpp"
#include "values.hpp"

namespace shmkit::cli {

namespace {

struct ServeOptions {
  std::string config;
  std::string write_config;
  std::string size;
  std::string socket;
  std::string mode;
  bool prefault = false;
  bool huge_pages = false;
  std::vector<uid_t> allowed_uids;
  std::size_t max_clients = 64;
  std::size_t max_objects = 0;
  std::size_t max_names = 0;
  std::string persist_dir;
  bool persist_sync = false;
  std::string spill_dir;
  std::uint32_t spin_us = StoreOptions{}.spin_us;
  std::size_t leases_per_client = StoreOptions{}.leases_per_client;
  std::size_t subscriber_queue = StoreOptions{}.subscriber_queue;
  // Tell a value given on the command line (which overrides the config
  // file) from a default. A switch has a --no- form, so that it can also
  // turn off what the file turns on.
  CLI::Option* prefault_option = nullptr;
  CLI::Option* huge_pages_option = nullptr;
  CLI::Option* persist_sync_option = nullptr;
  CLI::Option* allowed_uids_option = nullptr;
  CLI::Option* max_clients_option = nullptr;
  CLI::Option* max_objects_option = nullptr;
  CLI::Option* max_names_option = nullptr;
  CLI::Option* spin_us_option = nullptr;
  CLI::Option* leases_per_client_option = nullptr;
  CLI::Option* subscriber_queue_option = nullptr;
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
  if (cli.prefault_option->count() > 0) {
    options.prefault = cli.prefault;
  }
  if (cli.huge_pages_option->count() > 0) {
    options.huge_pages = cli.huge_pages;
  }
  if (cli.allowed_uids_option->count() > 0) {
    options.allowed_uids = cli.allowed_uids;
  }
  if (cli.max_clients_option->count() > 0) {
    options.max_clients = cli.max_clients;
  }
  if (cli.max_objects_option->count() > 0) {
    options.max_objects = cli.max_objects;
  }
  if (cli.max_names_option->count() > 0) {
    options.max_names = cli.max_names;
  }
  if (!cli.persist_dir.empty()) {
    options.persist_dir = cli.persist_dir;
  }
  if (cli.persist_sync_option->count() > 0) {
    options.persist_sync = cli.persist_sync;
  }
  if (!cli.spill_dir.empty()) {
    options.spill_dir = cli.spill_dir;
  }
  if (cli.spin_us_option->count() > 0) {
    options.spin_us = cli.spin_us;
  }
  if (cli.leases_per_client_option->count() > 0) {
    options.leases_per_client = cli.leases_per_client;
  }
  if (cli.subscriber_queue_option->count() > 0) {
    options.subscriber_queue = cli.subscriber_queue;
  }
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

  // Blocked before the server thread starts, so it inherits the mask and
  // the signals arrive only at sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

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
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cerr << timestamp() << " store: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping"
            << std::endl;
  server.stop();
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
  int shift = 0;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix.front()))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        shift = -1;
        break;
    }
    suffix.remove_prefix(1);
    if (suffix == "iB" || suffix == "B") {
      suffix = {};
    }
  }
  if (ec != std::errc{} || end == text.data() || shift < 0 || !suffix.empty() || value == 0 ||
      (shift > 0 && value > (~std::uint64_t{0} >> shift))) {
    throw Error("invalid size '" + std::string(text) +
                "': give a positive number of bytes, optionally with K, M, G or T (e.g. 500M, 2G)");
  }
  return value << shift;
}

void register_store_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* store = app.add_subcommand("store", "Run an object store server, or put/get/list objects in one");
  store->require_subcommand(0, 1);
  store->add_option("--config", options->config,
                    "YAML file of the server options (keys capacity, socket_path, socket_mode, allowed_uids, "
                    "prefault, huge_pages, max_objects, max_names, persist_dir, persist_sync, spill_dir, spin_us, "
                    "max_clients, leases_per_client, subscriber_queue); the options below override it");
  store->add_option("-m,--memory", options->size, "Capacity for object data: bytes or 500M, 2G, ...");
  store->add_option("-s,--socket", options->socket, "Unix socket path clients connect to");
  store->add_option("--mode", options->mode, "Permission bits of the socket (default 0600: owner only)");
  options->prefault_option = store->add_flag("--prefault,!--no-prefault", options->prefault,
                                             "Map every page at start so first writes do not fault");
  options->huge_pages_option = store->add_flag("--hugepages,!--no-hugepages", options->huge_pages,
                                               "Back the arena with huge pages (needs vm.nr_hugepages)");
  options->allowed_uids_option = store->add_option("--allow-uid", options->allowed_uids,
                                                   "User ids allowed to connect (default: the server's own)");
  options->max_clients_option =
      store->add_option("--max-clients", options->max_clients, "Clients connected at once (default 64)");
  options->max_objects_option = store->add_option("--max-objects", options->max_objects,
                                                  "Slots of the object index (default: capacity / 16 KiB)");
  options->max_names_option =
      store->add_option("--max-names", options->max_names, "Names bound at once (default: one per index slot)");
  store->add_option("--persist", options->persist_dir,
                    "Keep named values in an LMDB directory; a store restarted on it has them back");
  options->persist_sync_option =
      store->add_flag("--persist-sync,!--no-persist-sync", options->persist_sync,
                      "fsync every persisted change before acknowledging it (survives power loss)");
  options->spin_us_option =
      store->add_option("--spin-us", options->spin_us,
                        "Microseconds to poll before sleeping after a request (default 100; 0: never poll)");
  store->add_option("--spill", options->spill_dir,
                    "Move evicted objects to an LMDB directory instead of dropping them (emptied at start)");
  options->leases_per_client_option =
      store->add_option("--leases-per-client", options->leases_per_client,
                        "Distinct objects one client can hold references to at once (default 1024)");
  options->subscriber_queue_option =
      store->add_option("--subscriber-queue", options->subscriber_queue,
                        "Events queued for a subscriber that does not read before it gets an overflow (default 1024)");
  store->add_option("--write-config", options->write_config,
                    "Write the server options (--config's, with the options here over them) to this YAML file and "
                    "exit");
  store->footer(
      "Without a subcommand, runs the server in the foreground until SIGTERM or SIGINT; the memory is freed when\n"
      "it stops, except for named values kept with --persist. Example: shmkit store -m 1G -s /tmp/shmkit.sock, or\n"
      "shmkit store --config store.yaml (a YAML file of the same settings; the options given here override it;\n"
      "--write-config store.yaml writes one)");
  register_store_client_commands(*store);
  store->callback([store, options] {
    if (store->get_subcommands().empty()) {
      serve(*options);
    }
  });
}

}  // namespace shmkit::cli
