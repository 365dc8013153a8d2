// shmkit store namespaces -s SOCKET: the namespaces holding names.

#include <iostream>
#include <memory>
#include <string>

#include "cli/common/table.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

void namespaces(const std::string& socket) {
  Table table({{"NAMESPACE"}, {"NAMES", Table::Align::right}});
  for (const NamespaceInfo& info : connect_to_store(socket).namespaces()) {
    table.add_row({info.name, std::to_string(info.names)});
  }
  table.print(std::cout);
}

}  // namespace

void register_store_namespaces_command(CLI::App& store) {
  auto socket = std::make_shared<std::string>();
  CLI::App* cmd = store.add_subcommand("namespaces", "List the namespaces holding names");
  add_socket_option(cmd, *socket);
  cmd->callback([socket] { namespaces(*socket); });
}

}  // namespace shmkit::cli
