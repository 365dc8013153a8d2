// shmkit store set -s SOCKET --ns NS NAME [VALUE] [--type T]: binds a name
// to a typed value, written with Brain, so C++ programs read what the
// shell set and the reverse.

#include <shmkit/core/error.hpp>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/common/values.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct SetOptions {
  std::string socket;
  std::string ns;
  std::string name;
  std::vector<std::string> value;  // empty: read stdin
  std::string type = "auto";
  std::string description;
};

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

void set(const SetOptions& o) {
  const bool from_stdin = o.value.empty();
  const std::string value = from_stdin ? read_stdin() : o.value.front();
  Brain brain = connect_to_namespace(o.socket, o.ns);
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

}  // namespace

void register_store_set_command(CLI::App& store) {
  auto o = std::make_shared<SetOptions>();
  CLI::App* cmd = store.add_subcommand("set", "Bind a name in a namespace to a value (number, string, bytes)");
  add_socket_option(cmd, o->socket);
  cmd->add_option("--ns", o->ns, "Namespace")->required();
  cmd->add_option("NAME", o->name, "Name: [A-Za-z0-9._-], 1..200 characters")->required();
  cmd->add_option("VALUE", o->value, "The value; omitted: read stdin")->expected(0, 1);
  cmd->add_option("--type", o->type,
                  "auto (default: integers as int64, decimals as float64, other text as a string, stdin as "
                  "bytes), string, bytes, or a numpy dtype (u2, f4, ...)");
  cmd->add_option("--description", o->description, "Free text kept with the value");
  cmd->callback([o] { set(*o); });
}

}  // namespace shmkit::cli
