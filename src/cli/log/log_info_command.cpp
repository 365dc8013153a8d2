// shmkit log info ARCHIVE|DIR

#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/record_file.hpp>

#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "cli/common/format.hpp"
#include "cli/common/table.hpp"
#include "cli/log/log_commands.hpp"

namespace shmkit::cli {

namespace {

namespace fs = std::filesystem;

void archive_info(const fs::path& path) {
  const LogArchiveReader reader(path);
  auto line = [](std::string_view key, const std::string& value) {
    std::cout << key << std::string(key.size() < 10 ? 10 - key.size() : 1, ' ') << value << '\n';
  };
  line("archive:", path.string());
  line("size:", human_size(fs::file_size(path)) + " (" + std::to_string(fs::file_size(path)) + " bytes)");
  line("entries:", std::to_string(reader.entry_count()));
  line("messages:", std::to_string(reader.message_count()) + " (entries other than onsets)");
  const auto onset = reader.onset_us();
  line("onset:", onset ? iso8601(static_cast<std::int64_t>(*onset) * 1000) + " (" + std::to_string(*onset) +
                             " us since the epoch)"
                       : std::string("none (the archive has no onset entry)"));
}

// What a log directory holds for one source.
struct SourceFiles {
  std::uint64_t archive_entries = 0;
  bool has_archive = false;
  std::uint64_t record_files = 0;
  std::uint64_t record_bytes = 0;
  std::uint64_t npy_files = 0;
  std::uint64_t damaged = 0;
};

// "{source:03d}_..." -> source, or -1.
int leading_source(const std::string& name) {
  if (name.size() < 4 || name[3] != '_' || !std::isdigit(static_cast<unsigned char>(name[0])) ||
      !std::isdigit(static_cast<unsigned char>(name[1])) || !std::isdigit(static_cast<unsigned char>(name[2]))) {
    return -1;
  }
  const int source = std::stoi(name.substr(0, 3));
  return source <= 255 ? source : -1;
}

void directory_info(const fs::path& dir) {
  std::map<int, SourceFiles> sources;
  for (const auto& item : fs::directory_iterator(dir)) {
    if (!item.is_regular_file()) {
      continue;
    }
    const std::string name = item.path().filename().string();
    if (name.ends_with("_log.npz")) {
      const std::string digits = name.substr(0, name.size() - 8);
      if (!digits.empty() && digits.size() <= 3 && digits.find_first_not_of("0123456789") == std::string::npos) {
        SourceFiles& s = sources[std::stoi(digits)];
        s.has_archive = true;
        s.archive_entries = LogArchiveReader(item.path()).entry_count();
      }
      continue;
    }
    const int source = leading_source(name);
    if (source < 0) {
      continue;
    }
    SourceFiles& s = sources[source];
    if (name.ends_with(kRecordFileExtension)) {
      ++s.record_files;
      s.record_bytes += item.file_size();
    } else if (name.ends_with(".npy")) {
      ++s.npy_files;
    } else if (name.ends_with(".damaged")) {
      ++s.damaged;
    }
  }
  std::cout << "log directory: " << dir.string() << '\n';
  if (sources.empty()) {
    std::cout << "no archives, record files or per-entry .npy files\n";
    return;
  }
  using A = Table::Align;
  Table table({{"SOURCE", A::right},
               {"ARCHIVE ENTRIES", A::right},
               {"RECORD FILES", A::right},
               {"RECORD BYTES", A::right},
               {"NPY FILES", A::right},
               {"DAMAGED", A::right}});
  for (const auto& [source, s] : sources) {
    table.add_row({std::to_string(source), s.has_archive ? std::to_string(s.archive_entries) : "-",
                   std::to_string(s.record_files), human_size(s.record_bytes), std::to_string(s.npy_files),
                   std::to_string(s.damaged)});
  }
  table.print(std::cout);
  std::cout << "record files and .npy files are not in the archives yet: run 'shmkit log assemble " << dir.string()
            << "'\n";
}

}  // namespace

void register_log_info_command(CLI::App& log) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = log.add_subcommand("info", "Summarise an archive (entries, onset) or a log directory (per source)");
  cmd->add_option("PATH", *path, "A {source}_log.npz archive or a log directory")->required()->check(CLI::ExistingPath);
  cmd->callback([path] {
    if (fs::is_directory(*path)) {
      directory_info(*path);
    } else {
      archive_info(*path);
    }
  });
}

}  // namespace shmkit::cli
