// The pieces every `shmkit store` client command shares.

#include <shmkit/core/error.hpp>

#include <fstream>

#include "cli/store/store_commands.hpp"

namespace shmkit::cli {

namespace {
// Long enough for a busy server, short enough that a wrong socket fails fast.
constexpr std::chrono::seconds connect_timeout{2};
}  // namespace

void add_socket_option(CLI::App* command, std::string& socket) {
  command->add_option("-s,--socket", socket, "Socket of the store server")->required();
}

StoreClient connect_to_store(const std::string& socket) {
  return StoreClient::connect(socket, connect_timeout);
}

Brain connect_to_namespace(const std::string& socket, const std::string& ns) {
  return Brain::connect(socket, ns, connect_timeout);
}

std::chrono::milliseconds wait_from_seconds(double seconds) {
  return seconds < 0 ? std::chrono::milliseconds(-1)
                     : std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

void write_bytes_to_file(const std::string& file, std::span<const std::byte> bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) {
    throw Error("cannot write '" + file + "'");
  }
}

}  // namespace shmkit::cli
