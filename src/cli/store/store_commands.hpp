#pragma once
// `shmkit store`: the server in the foreground, and the put/get/ls/rm/stats
// commands that talk to one.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace shmkit::cli {

/// Registers put, get, ls, rm and stats under `store`.
void register_store_client_commands(CLI::App& store);

/// Registers set and namespaces under `store` (names).
void register_store_name_commands(CLI::App& store);

/// `store get --ns NS NAME`: writes the value `name` refers to.
void get_named_value(const std::string& socket, const std::string& ns, const std::string& name, double timeout_s,
                     const std::string& file);
/// `store ls --ns NS [PREFIX]`: the names of a namespace.
void list_names(const std::string& socket, const std::string& ns, const std::string& prefix);
/// `store rm --ns NS NAME... | --all`: drops names or the whole namespace.
void drop_names(const std::string& socket, const std::string& ns, const std::vector<std::string>& names,
                bool whole_namespace);

}  // namespace shmkit::cli
