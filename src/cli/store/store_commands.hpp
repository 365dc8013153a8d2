#pragma once
// `shmkit store`: the server in the foreground (store_command.cpp) and the
// commands that talk to one, one file each. Ids are 40 hexadecimal
// characters; with --ns NAMESPACE, get/ls/rm work on names instead, in the
// same file as their id form.

#include <CLI/CLI.hpp>
#include <shmkit/store/brain.hpp>
#include <shmkit/store/store_client.hpp>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

namespace shmkit::cli {

void register_store_put_command(CLI::App& store);
void register_store_get_command(CLI::App& store);
void register_store_ls_command(CLI::App& store);
void register_store_rm_command(CLI::App& store);
void register_store_stats_command(CLI::App& store);
void register_store_set_command(CLI::App& store);
void register_store_namespaces_command(CLI::App& store);
void register_store_snapshot_command(CLI::App& store);

// What every client command shares: the -s option and how it connects.
void add_socket_option(CLI::App* command, std::string& socket);
[[nodiscard]] StoreClient connect_to_store(const std::string& socket);
[[nodiscard]] Brain connect_to_namespace(const std::string& socket, const std::string& ns);
// --timeout SECONDS as a wait: negative waits forever.
[[nodiscard]] std::chrono::milliseconds wait_from_seconds(double seconds);
// Writes `bytes` to `file` exactly. @throws Error naming the file
void write_bytes_to_file(const std::string& file, std::span<const std::byte> bytes);

}  // namespace shmkit::cli
