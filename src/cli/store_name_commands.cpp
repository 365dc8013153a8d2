// shmkit store set|namespaces, and the --ns forms of get|ls|rm: small
// values (strings, numbers) bound to names in a store's namespaces. A value
// is stored as its bytes in a fresh object the name then refers to.

#include <sys/random.h>

#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "store_commands.hpp"
#include "table.hpp"

namespace shmkit::cli {

namespace {

StoreClient connect(const std::string& socket) {
  return StoreClient::connect(socket, std::chrono::seconds(2));
}

// Values get random ids: a name is how they are found, and a rebind must
// never collide with the object it replaces.
ObjectId random_id() {
  char raw[ObjectId::kSize];
  std::size_t got = 0;
  while (got < sizeof(raw)) {
    const ssize_t n = ::getrandom(raw + got, sizeof(raw) - got, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      detail::throw_errno("cannot draw a random object id", errno);
    }
    got += static_cast<std::size_t>(n);
  }
  return ObjectId::from_bytes(std::string_view(raw, sizeof(raw)));
}

std::string read_stdin() {
  std::string text;
  char chunk[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
    text.append(chunk, n);
  }
  if (std::ferror(stdin) != 0) {
    throw Error("cannot read the value from stdin");
  }
  return text;
}

struct NameOptions {
  std::string socket;
  std::string ns;
  std::string name;
  std::vector<std::string> value;  // empty: read stdin
};

void set(const NameOptions& o) {
  const std::string value = o.value.empty() ? read_stdin() : o.value.front();
  StoreClient client = connect(o.socket);
  const ObjectId id = random_id();
  client.create_and_seal(id, {reinterpret_cast<const std::byte*>(value.data()), value.size()});
  try {
    client.put_name(o.ns, o.name, id);
  } catch (...) {
    client.remove(id);  // a bad name must not leave an unnamed value behind
    throw;
  }
  std::cout << o.ns << "/" << o.name << "  " << id.hex() << "  " << value.size() << " bytes\n";
}

void namespaces(const std::string& socket) {
  Table table({{"NAMESPACE"}, {"NAMES", Table::Align::right}});
  for (const NamespaceInfo& info : connect(socket).namespaces()) {
    table.add_row({info.name, std::to_string(info.names)});
  }
  table.print(std::cout);
}

}  // namespace

void get_named_value(const std::string& socket, const std::string& ns, const std::string& name, double timeout_s,
                     const std::string& file) {
  StoreClient client = connect(socket);
  const auto timeout = timeout_s < 0 ? std::chrono::milliseconds(-1)
                                     : std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
  ObjectBuffer value;
  try {
    value = client.get_named(ns, name, timeout);
  } catch (const TimeoutError&) {
    throw NotFoundError("no name '" + name + "' in namespace '" + ns + "' of store '" + socket + "'" +
                        (timeout_s != 0 ? " within the timeout" : "; --timeout SECONDS waits for one"));
  }
  const auto* bytes = reinterpret_cast<const char*>(value.data().data());
  const auto size = static_cast<std::streamsize>(value.data().size());
  if (file == "-") {
    std::cout.write(bytes, size);  // raw bytes, as stored: no newline added
    std::cout.flush();
    return;
  }
  std::ofstream out(file, std::ios::binary);
  out.write(bytes, size);
  if (!out.flush()) {
    throw Error("cannot write '" + file + "'");
  }
}

void list_names(const std::string& socket, const std::string& ns, const std::string& prefix) {
  StoreClient client = connect(socket);
  Table table({{"NAME"}, {"ID"}, {"BYTES", Table::Align::right}});
  for (const NameBinding& binding : client.list_names(ns, prefix)) {
    // The object may go between the two requests (a concurrent rebind).
    const std::optional<ObjectBuffer> value = client.get(binding.id, std::chrono::milliseconds(0));
    table.add_row({binding.name, binding.id.hex(), value ? std::to_string(value->data().size()) : "-"});
  }
  table.print(std::cout);
}

void drop_names(const std::string& socket, const std::string& ns, const std::vector<std::string>& names,
                bool whole_namespace) {
  StoreClient client = connect(socket);
  if (whole_namespace) {
    if (!names.empty()) {
      throw Error("shmkit store rm --ns " + ns + " --all takes no names; it drops every name of the namespace");
    }
    std::cout << client.remove_namespace(ns) << " names dropped from namespace '" << ns << "'\n";
    return;
  }
  if (names.empty()) {
    throw Error("shmkit store rm --ns " + ns + " needs the NAMEs to drop, or --all for the whole namespace");
  }
  int failures = 0;
  for (const std::string& name : names) {
    if (!client.drop_name(ns, name)) {
      std::cerr << "shmkit: no name '" << name << "' in namespace '" << ns << "' of store '" << socket << "'\n";
      ++failures;
    }
  }
  if (failures != 0) {
    throw ExitStatus(1);
  }
}

void register_store_name_commands(CLI::App& store) {
  auto o = std::make_shared<NameOptions>();

  CLI::App* set_cmd = store.add_subcommand("set", "Bind a name in a namespace to a value (string or number)");
  set_cmd->add_option("-s,--socket", o->socket, "Socket of the store server")->required();
  set_cmd->add_option("--ns", o->ns, "Namespace")->required();
  set_cmd->add_option("NAME", o->name, "Name: [A-Za-z0-9._-], 1..200 characters")->required();
  set_cmd->add_option("VALUE", o->value, "Value, stored as its bytes; omitted: read stdin")->expected(0, 1);
  set_cmd->callback([o] { set(*o); });

  CLI::App* ns_cmd = store.add_subcommand("namespaces", "List the namespaces holding names");
  ns_cmd->add_option("-s,--socket", o->socket, "Socket of the store server")->required();
  ns_cmd->callback([o] { namespaces(o->socket); });
}

}  // namespace shmkit::cli
