#pragma once
// `shmkit store`: the server in the foreground, and the put/get/ls/rm/stats
// commands that talk to one.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string_view>

namespace shmkit::cli {

/// Registers put, get, ls, rm and stats under `store`.
void register_store_client_commands(CLI::App& store);

/// Parses a size: plain bytes or a K/M/G/T suffix (binary: 1K = 1024),
/// optionally followed by "iB" or "B" ("500M", "2GiB", "4096").
/// @throws Error naming the text and what is accepted
std::uint64_t parse_size(std::string_view text);

}  // namespace shmkit::cli
