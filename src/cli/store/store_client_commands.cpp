// shmkit store put|get|ls|rm|stats -s SOCKET ...: a person's view of a
// running store. Ids are 40 hexadecimal characters; with --ns, get/ls/rm
// work on names instead (store_name_commands.cpp).

#include <unistd.h>

#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/common/format.hpp"
#include "cli/common/table.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct ClientOptions {
  std::string socket;
  std::string id;
  std::vector<std::string> ids;
  std::string file = "-";
  double timeout_s = 0;
  std::string ns;  // set: ID is a name of this namespace (get, ls, rm)
  bool all = false;
};

StoreClient connect(const ClientOptions& o) {
  return StoreClient::connect(o.socket, std::chrono::seconds(2));
}

std::vector<std::byte> read_input(const std::string& file) {
  std::vector<std::byte> bytes;
  std::FILE* in = file == "-" ? stdin : std::fopen(file.c_str(), "rb");
  if (in == nullptr) {
    detail::throw_errno("cannot open '" + file + "'", errno);
  }
  std::byte chunk[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), in)) > 0) {
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  const bool failed = std::ferror(in) != 0;
  if (in != stdin) {
    std::fclose(in);
  }
  if (failed) {
    throw Error("cannot read '" + file + "'");
  }
  return bytes;
}

void add_socket(CLI::App* command, ClientOptions& o) {
  command->add_option("-s,--socket", o.socket, "Socket of the store server")->required();
}

void put(const ClientOptions& o) {
  const ObjectId id = ObjectId::from_hex(o.id);
  const std::vector<std::byte> data = read_input(o.file);
  connect(o).create_and_seal(id, data);
  std::cout << id.hex() << "  " << data.size() << " bytes\n";
}

void get(const ClientOptions& o) {
  if (!o.ns.empty()) {
    get_named_value(o.socket, o.ns, o.id, o.timeout_s, o.file);
    return;
  }
  const ObjectId id = ObjectId::from_hex(o.id);
  StoreClient client = connect(o);
  const auto timeout = o.timeout_s < 0 ? std::chrono::milliseconds(-1)
                                       : std::chrono::milliseconds(static_cast<long long>(o.timeout_s * 1000));
  std::optional<ObjectBuffer> buffer = client.get(id, timeout);
  if (!buffer) {
    throw NotFoundError("no sealed object " + id.hex() + " in store '" + o.socket + "'" +
                        (o.timeout_s != 0 ? " within the timeout" : "; --timeout SECONDS waits for one"));
  }
  if (o.file == "-") {
    std::cout.write(reinterpret_cast<const char*>(buffer->data().data()),
                    static_cast<std::streamsize>(buffer->data().size()));
    std::cout.flush();
    return;
  }
  std::ofstream out(o.file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(buffer->data().data()), static_cast<std::streamsize>(buffer->data().size()));
  if (!out.flush()) {
    throw Error("cannot write '" + o.file + "'");
  }
}

void ls(const ClientOptions& o) {
  if (!o.ns.empty()) {
    list_names(o.socket, o.ns, o.id);
    return;
  }
  if (!o.id.empty()) {
    throw Error("shmkit store ls takes a PREFIX only with --ns NAMESPACE");
  }
  const std::vector<ObjectInfo> infos = connect(o).list();
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

void rm(const ClientOptions& o) {
  if (!o.ns.empty()) {
    drop_names(o.socket, o.ns, o.ids, o.all);
    return;
  }
  if (o.ids.empty() || o.all) {
    throw Error("shmkit store rm needs object IDs (or --ns NAMESPACE with names or --all)");
  }
  StoreClient client = connect(o);
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

void stats(const ClientOptions& o) {
  const StoreStats s = connect(o).stats();
  std::cout << "capacity  " << s.capacity << " (" << human_size(s.capacity) << ")\n"
            << "used      " << s.used << " (" << human_size(s.used) << ")\n"
            << "free      " << s.free() << " (" << human_size(s.free()) << ")\n"
            << "objects   " << s.objects << "\n"
            << "clients   " << s.clients << "\n"
            << "spilled   " << s.spilled << " (" << human_size(s.spilled_bytes) << ")\n";
}

}  // namespace

void register_store_client_commands(CLI::App& store) {
  auto o = std::make_shared<ClientOptions>();

  CLI::App* put_cmd = store.add_subcommand("put", "Store a file (or stdin) as a sealed object");
  add_socket(put_cmd, *o);
  put_cmd->add_option("ID", o->id, "Object id: 40 hex characters")->required();
  put_cmd->add_option("FILE", o->file, "File to store; - for stdin")->required();
  put_cmd->callback([o] { put(*o); });

  CLI::App* get_cmd = store.add_subcommand("get", "Write an object's data to stdout or a file");
  add_socket(get_cmd, *o);
  get_cmd->add_option("ID", o->id, "Object id: 40 hex characters; with --ns a name")->required();
  get_cmd->add_option("--ns", o->ns, "Read the value of a name of this namespace");
  get_cmd->add_option("-o,--output", o->file, "Output file (default: stdout)");
  get_cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for the object to be sealed; -1 waits forever");
  get_cmd->callback([o] { get(*o); });

  CLI::App* ls_cmd = store.add_subcommand("ls", "List the objects in a store");
  add_socket(ls_cmd, *o);
  ls_cmd->add_option("--ns", o->ns, "List the names of this namespace instead");
  ls_cmd->add_option("PREFIX", o->id, "With --ns: only names starting with PREFIX");
  ls_cmd->callback([o] { ls(*o); });

  CLI::App* rm_cmd = store.add_subcommand("rm", "Remove objects (deferred while a client reads them)");
  add_socket(rm_cmd, *o);
  rm_cmd->add_option("ID", o->ids, "Object ids: 40 hex characters each; with --ns names");
  rm_cmd->add_option("--ns", o->ns, "Drop names of this namespace instead");
  rm_cmd->add_flag("--all", o->all, "With --ns: drop the whole namespace (and objects only it named)");
  rm_cmd->callback([o] { rm(*o); });

  CLI::App* stats_cmd = store.add_subcommand("stats", "Capacity, used and free bytes, objects and clients");
  add_socket(stats_cmd, *o);
  stats_cmd->callback([o] { stats(*o); });

  register_store_name_commands(store);
}

}  // namespace shmkit::cli
