// shmkit store get -s SOCKET ID [-o FILE] [--timeout S]: an object's bytes;
// with --ns NAMESPACE, ID is a name and its value is shown as what it is.

#include <shmkit/core/error.hpp>

#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/common/array_print.hpp"
#include "cli/common/values.hpp"
#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct GetOptions {
  std::string socket;
  std::string id;
  std::string ns;  // set: ID is a name of this namespace
  std::string file = "-";
  double timeout_s = 0;
};

void write_raw(const std::string& file, std::span<const std::byte> bytes) {
  if (file != "-") {
    write_bytes_to_file(file, bytes);
    return;
  }
  std::cout.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  std::cout.flush();
}

void get_object(const GetOptions& o) {
  const ObjectId id = ObjectId::from_hex(o.id);
  StoreClient client = connect_to_store(o.socket);
  std::optional<ObjectBuffer> buffer = client.get(id, wait_from_seconds(o.timeout_s));
  if (!buffer) {
    throw NotFoundError("no sealed object " + id.hex() + " in store '" + o.socket + "'" +
                        (o.timeout_s != 0 ? " within the timeout" : "; --timeout SECONDS waits for one"));
  }
  write_raw(o.file, buffer->data());
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

void get_named_value(const GetOptions& o) {
  Brain brain = connect_to_namespace(o.socket, o.ns);
  ObjectBuffer buffer;
  try {
    buffer = brain.get_buffer(o.id, wait_from_seconds(o.timeout_s));
  } catch (const TimeoutError&) {
    throw NotFoundError("no name '" + o.id + "' in namespace '" + o.ns + "' of store '" + o.socket +
                        "' within the timeout");
  } catch (const NotFoundError&) {
    throw NotFoundError("no name '" + o.id + "' in namespace '" + o.ns + "' of store '" + o.socket +
                        "'; --timeout SECONDS waits for one");
  }
  const ValueInfo info = shmkit::detail::decode_value_metadata(buffer.metadata(), buffer.data().size());
  if (o.file != "-") {
    // A file gets the stored bytes exactly.
    write_bytes_to_file(o.file, buffer.data());
    return;
  }
  print_value(std::cout, buffer, info);
  std::cout.flush();
}

}  // namespace

void register_store_get_command(CLI::App& store) {
  auto o = std::make_shared<GetOptions>();
  CLI::App* cmd = store.add_subcommand("get", "Write an object's data to stdout or a file");
  add_socket_option(cmd, o->socket);
  cmd->add_option("ID", o->id, "Object id: 40 hex characters; with --ns a name")->required();
  cmd->add_option("--ns", o->ns, "Read the value of a name of this namespace");
  cmd->add_option("-o,--output", o->file, "Output file (default: stdout)");
  cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for the object to be sealed; -1 waits forever");
  cmd->callback([o] { o->ns.empty() ? get_object(*o) : get_named_value(*o); });
}

}  // namespace shmkit::cli
