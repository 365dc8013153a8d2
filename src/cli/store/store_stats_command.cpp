// shmkit store stats -s SOCKET: capacity, used and free bytes, objects,
// clients and what is spilled to disk.

#include <iostream>
#include <memory>
#include <string>

#include "cli/common/format.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

void stats(const std::string& socket) {
  const StoreStats s = connect_to_store(socket).stats();
  std::cout << "capacity  " << s.capacity << " (" << human_size(s.capacity) << ")\n"
            << "used      " << s.used << " (" << human_size(s.used) << ")\n"
            << "free      " << s.free() << " (" << human_size(s.free()) << ")\n"
            << "objects   " << s.objects << "\n"
            << "clients   " << s.clients << "\n"
            << "spilled   " << s.spilled << " (" << human_size(s.spilled_bytes) << ")\n";
}

}  // namespace

void register_store_stats_command(CLI::App& store) {
  auto socket = std::make_shared<std::string>();
  CLI::App* cmd = store.add_subcommand("stats", "Capacity, used and free bytes, objects and clients");
  add_socket_option(cmd, *socket);
  cmd->callback([socket] { stats(*socket); });
}

}  // namespace shmkit::cli
