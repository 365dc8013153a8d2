// shmkit ls [--all] [--json]

#include <shmkit/array/segment_info.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/common/format.hpp"
#include "cli/common/table.hpp"

namespace shmkit::cli {

namespace {

struct LsOptions {
  bool all = false;
  bool json = false;
};

// One row of the listing; "-" where a column does not apply.
struct Row {
  std::string kind = "-";
  std::string dtype = "-";
  std::string shape = "-";
  std::string creator = "-";
  std::string alive = "-";
};

Row describe(const SegmentInfo& segment) {
  Row row;
  if (!segment.readable) {
    row.kind = "unreadable";
    return row;
  }
  if (!segment.is_shmkit) {
    return row;
  }
  row.kind = std::string(to_string(segment.segment_kind()));
  row.creator = std::to_string(segment.creator.pid);
  row.alive = segment.creator_alive ? "yes" : "no";
  if (segment.segment_kind() == SegmentKind::array) {
    if (const auto array = decode_array_segment(segment)) {
      row.dtype = array->dtype;
      row.shape = shape_string(array->shape);
    } else {
      row.dtype = "?";  // a layout version this build cannot read
      row.shape = "?";
    }
  }
  return row;
}

void print_table(const std::vector<SegmentInfo>& segments, bool all) {
  if (segments.empty()) {
    std::cout << "no " << (all ? "files" : "shmkit segments") << " in " << kShmDirectory
              << (all ? "" : " (--all shows other files too)") << '\n';
    return;
  }
  using Align = Table::Align;
  Table table({{"NAME"},
               {"KIND"},
               {"SIZE", Align::right},
               {"DTYPE"},
               {"SHAPE"},
               {"CREATOR", Align::right},
               {"ALIVE"},
               {"OWNER"},
               {"MODE"}});
  std::vector<std::string> unreadable;
  for (const SegmentInfo& segment : segments) {
    const Row row = describe(segment);
    table.add_row({segment.name, row.kind, human_size(segment.size_bytes), row.dtype, row.shape, row.creator, row.alive,
                   segment.owner_name, mode_string(segment.mode)});
    if (!segment.readable) {
      unreadable.push_back(segment.name + ": " + segment.unreadable_reason);
    }
  }
  table.print(std::cout);
  for (const std::string& note : unreadable) {
    std::cout << "cannot read " << note << '\n';
  }
}

void print_json(const std::vector<SegmentInfo>& segments) {
  std::cout << "[";
  const char* separator = "\n";
  for (const SegmentInfo& segment : segments) {
    std::cout << separator << "  {\"name\": " << json_string(segment.name) << ", \"size\": " << segment.size_bytes
              << ", \"owner\": " << json_string(segment.owner_name) << ", \"uid\": " << segment.owner_uid
              << ", \"mode\": " << json_string(mode_string(segment.mode))
              << ", \"readable\": " << (segment.readable ? "true" : "false")
              << ", \"shmkit\": " << (segment.is_shmkit ? "true" : "false");
    if (segment.is_shmkit) {
      std::cout << ", \"kind\": " << json_string(to_string(segment.segment_kind()))
                << ", \"layout_version\": " << segment.layout_version << ", \"creator_pid\": " << segment.creator.pid
                << ", \"creator_alive\": " << (segment.creator_alive ? "true" : "false")
                << ", \"created\": " << json_string(iso8601(segment.created_unix_ns));
      if (const auto array = decode_array_segment(segment)) {
        std::cout << ", \"dtype\": " << json_string(array->dtype) << ", \"shape\": [";
        for (std::size_t i = 0; i < array->shape.size(); ++i) {
          std::cout << (i ? ", " : "") << array->shape[i];
        }
        std::cout << "]";
      }
    }
    if (!segment.readable) {
      std::cout << ", \"error\": " << json_string(segment.unreadable_reason);
    }
    std::cout << "}";
    separator = ",\n";
  }
  std::cout << (segments.empty() ? "]\n" : "\n]\n");
}

void run_ls(const LsOptions& options) {
  ScanOptions scan;
  scan.include_foreign = options.all;
  const std::vector<SegmentInfo> segments = list_segments(scan);
  if (options.json) {
    print_json(segments);
  } else {
    print_table(segments, options.all);
  }
}

}  // namespace

void register_ls_command(CLI::App& app) {
  auto options = std::make_shared<LsOptions>();
  CLI::App* cmd =
      app.add_subcommand("ls", "List shmkit segments in /dev/shm: kind, size, dtype, shape, creator, owner");
  cmd->add_flag("--all,-a", options->all, "Also list files in /dev/shm that are not shmkit segments");
  cmd->add_flag("--json", options->json, "Print a JSON array instead of a table, for scripts");
  cmd->footer(
      "ALIVE tells whether the creating process still runs. Segments whose creator has exited stay until removed;\n"
      "'shmkit gc' removes those that no process has open. Listing never modifies a segment.");
  cmd->callback([options] { run_ls(*options); });
}

}  // namespace shmkit::cli
