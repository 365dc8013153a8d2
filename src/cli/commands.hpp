#pragma once
// Every subcommand of the `shmkit` command lives in its own file and is
// added to the application by one register_* function. A subcommand does its
// work in a CLI11 callback and reports failure by throwing: shmkit::Error
// (printed as "shmkit: <message>", exit 1) or ExitStatus (exit code only, for
// commands that already printed one message per failed item).

#include <CLI/CLI.hpp>

#include <exception>

namespace shmkit::cli {

/// Ends the command with `code` and no further message.
class ExitStatus : public std::exception {
 public:
  explicit ExitStatus(int code) noexcept : code_(code) {}
  [[nodiscard]] int code() const noexcept { return code_; }
  [[nodiscard]] const char* what() const noexcept override { return "shmkit: exit status"; }

 private:
  int code_;
};

void register_array_command(CLI::App& app);
void register_channel_command(CLI::App& app);
void register_config_command(CLI::App& app);
void register_demo_command(CLI::App& app);
void register_gc_command(CLI::App& app);
void register_ls_command(CLI::App& app);
void register_store_command(CLI::App& app);
void register_log_command(CLI::App& app);

}  // namespace shmkit::cli
