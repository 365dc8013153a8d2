// shmkit store ls -s SOCKET: the objects of a store; with --ns NAMESPACE
// [PREFIX], the names of a namespace with their types and descriptions.

#include <shmkit/core/error.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/common/format.hpp"
#include "cli/common/table.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct LsOptions {
  std::string socket;
  std::string ns;      // set: list the names of this namespace
  std::string prefix;  // with --ns only
};

void list_objects(const LsOptions& o) {
  if (!o.prefix.empty()) {
    throw Error("shmkit store ls takes a PREFIX only with --ns NAMESPACE");
  }
  const std::vector<ObjectInfo> infos = connect_to_store(o.socket).list();
  Table table({{"ID"},
               {"STATE"},
               {"DATA", Table::Align::right},
               {"META", Table::Align::right},
               {"REFS", Table::Align::right},
               {"CREATOR", Table::Align::right},
               {"CREATED"}});
  for (const ObjectInfo& info : infos) {
    table.add_row({info.id.hex(), info.state == ObjectState::sealed ? "sealed" : "created",
                   std::to_string(info.data_size), std::to_string(info.metadata_size), std::to_string(info.ref_count),
                   std::to_string(info.creator_pid), iso8601(info.created_unix_ns)});
  }
  table.print(std::cout);
}

void list_names(const LsOptions& o) {
  Brain brain = connect_to_namespace(o.socket, o.ns);
  Table table({{"NAME"}, {"TYPE"}, {"BYTES", Table::Align::right}, {"DESCRIPTION"}});
  for (const std::string& name : brain.names(o.prefix)) {
    // The name may go between the two requests (a concurrent drop).
    try {
      const ValueInfo info = brain.metadata(name);
      table.add_row({name, info.type_text(), std::to_string(info.size), info.description});
    } catch (const NotFoundError&) {
    }
  }
  table.print(std::cout);
}

}  // namespace

void register_store_ls_command(CLI::App& store) {
  auto o = std::make_shared<LsOptions>();
  CLI::App* cmd = store.add_subcommand("ls", "List the objects in a store");
  add_socket_option(cmd, o->socket);
  cmd->add_option("--ns", o->ns, "List the names of this namespace instead");
  cmd->add_option("PREFIX", o->prefix, "With --ns: only names starting with PREFIX");
  cmd->callback([o] { o->ns.empty() ? list_objects(*o) : list_names(*o); });
}

}  // namespace shmkit::cli
