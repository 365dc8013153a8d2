// shmkit log assemble DIR [--compress LEVEL] [--verify] [--remove-sources] [--threads N]

#include <shmkit/logger/assemble.hpp>

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/common/format.hpp"
#include "cli/log/log_commands.hpp"

namespace shmkit::cli {

namespace {

struct AssembleArgs {
  std::string dir;
  int level = 0;
  bool verify = false;
  bool remove_sources = false;
  unsigned threads = 0;
};

void run_assemble(const AssembleArgs& args) {
  AssembleOptions options;
  options.compression_level = args.level;
  // Deleting inputs is only safe after the archive was read back.
  options.verify = args.verify || args.remove_sources;
  options.remove_sources = args.remove_sources;
  options.threads = args.threads;
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  if (terminal) {
    options.on_progress = [](const AssembleProgress& p) {
      std::cerr << "\rassembling: " << p.sources_done << "/" << p.sources_total << " sources, " << p.entries_written
                << " entries" << std::flush;
    };
  }
  const auto started = std::chrono::steady_clock::now();
  const AssembleReport report = assemble_log_archives(args.dir, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (terminal && !report.sources.empty()) {
    std::cerr << '\n';
  }
  for (const SourceAssembly& s : report.sources) {
    std::cout << s.archive.string() << ": ";
    if (s.failed) {
      std::cout << "FAILED, nothing changed\n";
    } else {
      std::cout << s.entries << " entries (" << s.from_archive << " from the archive, " << s.from_record_files
                << " from record files, " << s.from_npy_files << " from .npy files)";
      if (s.duplicates > 0) {
        std::cout << ", " << s.duplicates << " duplicate (source, time) entries kept";
      }
      std::cout << '\n';
    }
    for (const std::string& problem : s.problems) {
      std::cerr << "shmkit: " << problem << '\n';
    }
  }
  std::cout << "assembled " << report.entries << " entries from " << report.sources.size() << " sources in " << seconds
            << " s (" << static_cast<std::uint64_t>(seconds > 0 ? report.entries / seconds : 0) << " entries/s)\n";
  if (!report.clean()) {
    std::cout.flush();
    std::cerr << "shmkit: some inputs were damaged or a source failed (see above); damaged record files were kept as "
                 "*.damaged\n";
    throw ExitStatus(1);
  }
}

}  // namespace

void register_log_assemble_command(CLI::App& log) {
  auto args = std::make_shared<AssembleArgs>();
  CLI::App* cmd = log.add_subcommand(
      "assemble", "Merge a log directory's record files (and per-entry .npy files) into {source}_log.npz archives");
  cmd->add_option("DIR", args->dir, "Log directory (OUT/NAME_data_log)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--compress", args->level, "Deflate level 1..12 (np.savez_compressed); 0 stores (np.savez)")
      ->check(CLI::Range(0, 12));
  cmd->add_flag("--verify", args->verify, "Read each new archive back and compare before touching the inputs");
  cmd->add_flag("--remove-sources", args->remove_sources,
                "Delete assembled inputs (implies --verify); by default they are renamed *.assembled");
  cmd->add_option("--threads", args->threads, "Sources assembled in parallel (0: one per CPU)");
  cmd->callback([args] { run_assemble(*args); });
}

}  // namespace shmkit::cli
