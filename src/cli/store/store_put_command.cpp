// shmkit store put -s SOCKET ID FILE: stores a file (or stdin) as a sealed object.

#include <shmkit/core/error.hpp>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {

struct PutOptions {
  std::string socket;
  std::string id;
  std::string file = "-";
};

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

void put(const PutOptions& o) {
  const ObjectId id = ObjectId::from_hex(o.id);
  const std::vector<std::byte> data = read_input(o.file);
  connect_to_store(o.socket).create_and_seal(id, data);
  std::cout << id.hex() << "  " << data.size() << " bytes\n";
}

}  // namespace

void register_store_put_command(CLI::App& store) {
  auto o = std::make_shared<PutOptions>();
  CLI::App* cmd = store.add_subcommand("put", "Store a file (or stdin) as a sealed object");
  add_socket_option(cmd, o->socket);
  cmd->add_option("ID", o->id, "Object id: 40 hex characters")->required();
  cmd->add_option("FILE", o->file, "File to store; - for stdin")->required();
  cmd->callback([o] { put(*o); });
}

}  // namespace shmkit::cli
