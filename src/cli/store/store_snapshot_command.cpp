// shmkit store snapshot -s SOCKET DIR: the server writes every named value
// into a new LMDB directory, which `shmkit store --persist DIR` loads.

#include <iostream>
#include <memory>
#include <string>

#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct SnapshotOptions {
  std::string socket;
  std::string dir;
};

void snapshot(const SnapshotOptions& o) {
  const std::uint64_t names = connect_to_store(o.socket).snapshot(o.dir);
  std::cout << names << " names written to '" << o.dir << "'; 'shmkit store --persist " << o.dir
            << "' starts a store holding them\n";
}

}  // namespace

void register_store_snapshot_command(CLI::App& store) {
  auto o = std::make_shared<SnapshotOptions>();
  CLI::App* cmd =
      store.add_subcommand("snapshot", "Write every named value into a new LMDB directory (--persist loads it)");
  add_socket_option(cmd, o->socket);
  cmd->add_option("DIR", o->dir, "New directory for the snapshot (written by the server)")->required();
  cmd->callback([o] { snapshot(*o); });
}

}  // namespace shmkit::cli
