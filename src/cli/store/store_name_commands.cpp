// shmkit store set|namespaces|snapshot, and the --ns forms of get|ls|rm:
// typed values bound to names in a store's namespaces, written and read
// with Brain, so C++ programs read what the shell set and the reverse.

#include <unistd.h>

#include <shmkit/core/error.hpp>
#include <shmkit/store/brain.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/common/array_print.hpp"
#include "cli/common/table.hpp"
#include "cli/common/values.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

Brain connect(const std::string& socket, const std::string& ns) {
  return Brain::connect(socket, ns, std::chrono::seconds(2));
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

bool is_integer(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size();
}

bool is_real(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

struct NameOptions {
  std::string socket;
  std::string ns;
  std::string name;
  std::vector<std::string> value;  // empty: read stdin
  std::string type = "auto";
  std::string description;
  std::string dir;
};

void set(const NameOptions& o) {
  const bool from_stdin = o.value.empty();
  const std::string value = from_stdin ? read_stdin() : o.value.front();
  Brain brain = connect(o.socket, o.ns);
  std::string type = o.type;
  if (type == "auto") {
    // Numbers as numbers, everything else as text; stdin is taken as it is.
    type = from_stdin ? "bytes" : is_integer(value) ? "i8" : is_real(value) ? "f8" : "string";
  }
  if (type == "string") {
    brain.set(o.name, value, o.description);
  } else if (type == "bytes") {
    brain.set_bytes(o.name, {reinterpret_cast<const std::byte*>(value.data()), value.size()}, o.description);
  } else {
    visit_dtype(parse_dtype(type), [&](auto tag) {
      using T = typename decltype(tag)::type;
      brain.set(o.name, parse_value<T>(value), o.description);
    });
  }
  const ValueInfo info = brain.metadata(o.name);
  std::cout << o.ns << "/" << o.name << "  " << info.type_text() << "  " << info.size << " bytes\n";
}

// How `get` shows a value on a terminal or in a pipe: text and bytes as
// they are, numbers and arrays as numpy prints them, configs as YAML.
void print_value(std::ostream& out, const ObjectBuffer& buffer, const ValueInfo& info) {
  const std::span<const std::byte> data = buffer.data();
  switch (info.type) {
    case ValueType::bytes:
    case ValueType::string:
    case ValueType::config:
      out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
      return;
    case ValueType::scalar:
    case ValueType::array:
      visit_dtype(*info.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        print_array(out, info.shape, [&](std::size_t flat) {
          T element{};
          std::memcpy(&element, data.data() + flat * sizeof(T), sizeof(T));
          return format_value(element);
        });
      });
      return;
  }
}

void namespaces(const std::string& socket) {
  Table table({{"NAMESPACE"}, {"NAMES", Table::Align::right}});
  for (const NamespaceInfo& info : StoreClient::connect(socket, std::chrono::seconds(2)).namespaces()) {
    table.add_row({info.name, std::to_string(info.names)});
  }
  table.print(std::cout);
}

void snapshot(const NameOptions& o) {
  const std::uint64_t names = StoreClient::connect(o.socket, std::chrono::seconds(2)).snapshot(o.dir);
  std::cout << names << " names written to '" << o.dir << "'; 'shmkit store --persist " << o.dir
            << "' starts a store holding them\n";
}

}  // namespace

void get_named_value(const std::string& socket, const std::string& ns, const std::string& name, double timeout_s,
                     const std::string& file) {
  Brain brain = connect(socket, ns);
  const auto timeout = timeout_s < 0 ? std::chrono::milliseconds(-1)
                                     : std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
  ObjectBuffer buffer;
  try {
    buffer = brain.get_buffer(name, timeout);
  } catch (const TimeoutError&) {
    throw NotFoundError("no name '" + name + "' in namespace '" + ns + "' of store '" + socket +
                        "' within the timeout");
  } catch (const NotFoundError&) {
    throw NotFoundError("no name '" + name + "' in namespace '" + ns + "' of store '" + socket +
                        "'; --timeout SECONDS waits for one");
  }
  const ValueInfo info = shmkit::detail::decode_value_metadata(buffer.metadata(), buffer.data().size());
  if (file == "-") {
    print_value(std::cout, buffer, info);
    std::cout.flush();
    return;
  }
  // A file gets the stored bytes exactly.
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(buffer.data().data()), static_cast<std::streamsize>(buffer.data().size()));
  if (!out.flush()) {
    throw Error("cannot write '" + file + "'");
  }
}

void list_names(const std::string& socket, const std::string& ns, const std::string& prefix) {
  Brain brain = connect(socket, ns);
  Table table({{"NAME"}, {"TYPE"}, {"BYTES", Table::Align::right}, {"DESCRIPTION"}});
  for (const std::string& name : brain.names(prefix)) {
    // The name may go between the two requests (a concurrent drop).
    try {
      const ValueInfo info = brain.metadata(name);
      table.add_row({name, info.type_text(), std::to_string(info.size), info.description});
    } catch (const NotFoundError&) {
    }
  }
  table.print(std::cout);
}

void drop_names(const std::string& socket, const std::string& ns, const std::vector<std::string>& names,
                bool whole_namespace) {
  Brain brain = connect(socket, ns);
  if (whole_namespace) {
    if (!names.empty()) {
      throw Error("shmkit store rm --ns " + ns + " --all takes no names; it drops every name of the namespace");
    }
    std::cout << brain.clear() << " names dropped from namespace '" << ns << "'\n";
    return;
  }
  if (names.empty()) {
    throw Error("shmkit store rm --ns " + ns + " needs the NAMEs to drop, or --all for the whole namespace");
  }
  int failures = 0;
  for (const std::string& name : names) {
    if (!brain.erase(name)) {
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

  CLI::App* set_cmd = store.add_subcommand("set", "Bind a name in a namespace to a value (number, string, bytes)");
  set_cmd->add_option("-s,--socket", o->socket, "Socket of the store server")->required();
  set_cmd->add_option("--ns", o->ns, "Namespace")->required();
  set_cmd->add_option("NAME", o->name, "Name: [A-Za-z0-9._-], 1..200 characters")->required();
  set_cmd->add_option("VALUE", o->value, "The value; omitted: read stdin")->expected(0, 1);
  set_cmd->add_option("--type", o->type,
                      "auto (default: integers as int64, decimals as float64, other text as a string, stdin as "
                      "bytes), string, bytes, or a numpy dtype (u2, f4, ...)");
  set_cmd->add_option("--description", o->description, "Free text kept with the value");
  set_cmd->callback([o] { set(*o); });

  CLI::App* ns_cmd = store.add_subcommand("namespaces", "List the namespaces holding names");
  ns_cmd->add_option("-s,--socket", o->socket, "Socket of the store server")->required();
  ns_cmd->callback([o] { namespaces(o->socket); });

  CLI::App* snapshot_cmd =
      store.add_subcommand("snapshot", "Write every named value into a new LMDB directory (--persist loads it)");
  snapshot_cmd->add_option("-s,--socket", o->socket, "Socket of the store server")->required();
  snapshot_cmd->add_option("DIR", o->dir, "New directory for the snapshot (written by the server)")->required();
  snapshot_cmd->callback([o] { snapshot(*o); });
}

}  // namespace shmkit::cli
