// shmkit log cat ARCHIVE [--limit N]

#include <shmkit/logger/archive_reader.hpp>

#include <cstdint>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

#include "cli/common/format.hpp"
#include "cli/log/log_commands.hpp"

namespace shmkit::cli {

namespace {

constexpr std::size_t kPreviewBytes = 16;

std::string hex_preview(std::span<const std::byte> payload) {
  std::ostringstream out;
  out << std::hex << std::setfill('0');
  for (std::size_t i = 0; i < payload.size() && i < kPreviewBytes; ++i) {
    out << (i ? " " : "") << std::setw(2) << std::to_integer<unsigned>(payload[i]);
  }
  if (payload.size() > kPreviewBytes) {
    out << " ...";
  }
  return out.str();
}

void run_cat(const std::string& path, std::uint64_t limit) {
  const LogArchiveReader reader(path);
  const std::uint64_t onset = reader.onset_us().value_or(0);
  std::cout << "# source time_us utc bytes payload\n";
  auto cursor = reader.entries();
  LogEntry entry;
  for (std::uint64_t printed = 0; printed < limit && cursor.next(entry); ++printed) {
    const bool is_onset = entry.acquisition_time == kOnsetTime;
    // The onset entry's payload is the epoch itself; every other entry is onset + elapsed.
    const std::uint64_t utc_us = is_onset ? onset : onset + entry.acquisition_time;
    std::cout << unsigned{entry.source_id} << ' ' << entry.acquisition_time << ' '
              << iso8601(static_cast<std::int64_t>(utc_us) * 1000) << ' ' << entry.payload.size() << ' '
              << (is_onset ? "onset" : hex_preview(entry.payload)) << '\n';
  }
}

}  // namespace

void register_log_cat_command(CLI::App& log) {
  auto path = std::make_shared<std::string>();
  auto limit = std::make_shared<std::uint64_t>(std::numeric_limits<std::uint64_t>::max());
  CLI::App* cmd = log.add_subcommand("cat", "Print an archive's entries: source, time, UTC time, size, payload bytes");
  cmd->add_option("ARCHIVE", *path, "A {source}_log.npz archive")->required()->check(CLI::ExistingFile);
  cmd->add_option("--limit", *limit, "Print at most N entries");
  cmd->callback([path, limit] { run_cat(*path, *limit); });
}

}  // namespace shmkit::cli
