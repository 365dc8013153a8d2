// shmkit store rm -s SOCKET ID...: removes objects (deferred while a client
// reads them); with --ns NAMESPACE, drops NAMEs, or the namespace (--all).

#include <shmkit/core/error.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct RmOptions {
  std::string socket;
  std::vector<std::string> ids;  // with --ns: names
  std::string ns;                // set: drop names of this namespace
  bool all = false;              // with --ns: the whole namespace
};

void remove_objects(const RmOptions& o) {
  if (o.ids.empty() || o.all) {
    throw Error("shmkit store rm needs object IDs (or --ns NAMESPACE with names or --all)");
  }
  StoreClient client = connect_to_store(o.socket);
  int failures = 0;
  for (const std::string& hex : o.ids) {
    const ObjectId id = ObjectId::from_hex(hex);
    if (!client.remove(id)) {
      std::cerr << "shmkit: no sealed object " << id.hex() << " in store '" << o.socket << "'\n";
      ++failures;
    }
  }
  if (failures != 0) {
    throw ExitStatus(1);
  }
}

void drop_names(const RmOptions& o) {
  Brain brain = connect_to_namespace(o.socket, o.ns);
  if (o.all) {
    if (!o.ids.empty()) {
      throw Error("shmkit store rm --ns " + o.ns + " --all takes no names; it drops every name of the namespace");
    }
    std::cout << brain.clear() << " names dropped from namespace '" << o.ns << "'\n";
    return;
  }
  if (o.ids.empty()) {
    throw Error("shmkit store rm --ns " + o.ns + " needs the NAMEs to drop, or --all for the whole namespace");
  }
  int failures = 0;
  for (const std::string& name : o.ids) {
    if (!brain.erase(name)) {
      std::cerr << "shmkit: no name '" << name << "' in namespace '" << o.ns << "' of store '" << o.socket << "'\n";
      ++failures;
    }
  }
  if (failures != 0) {
    throw ExitStatus(1);
  }
}

}  // namespace

void register_store_rm_command(CLI::App& store) {
  auto o = std::make_shared<RmOptions>();
  CLI::App* cmd = store.add_subcommand("rm", "Remove objects (deferred while a client reads them)");
  add_socket_option(cmd, o->socket);
  cmd->add_option("ID", o->ids, "Object ids: 40 hex characters each; with --ns names");
  cmd->add_option("--ns", o->ns, "Drop names of this namespace instead");
  cmd->add_flag("--all", o->all, "With --ns: drop the whole namespace (and objects only it named)");
  cmd->callback([o] { o->ns.empty() ? remove_objects(*o) : drop_names(*o); });
}

}  // namespace shmkit::cli
