// shmkit gc [--dry-run] [PATTERN...]
//
// Removes shmkit segments that nobody can still need: the creator has exited
// and no process has the segment open or mapped. Everything else is kept,
// with the reason printed, so a user can see why something stays.

#include <shmkit/core/name.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <fnmatch.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/common/format.hpp"
#include "cli/common/table.hpp"

namespace shmkit::cli {

namespace {

struct GcOptions {
  bool dry_run = false;
  std::vector<std::string> patterns;
};

struct Verdict {
  bool remove = false;
  std::string reason;
};

bool matches(const std::string& name, const std::vector<std::string>& patterns) {
  if (patterns.empty()) {
    return true;
  }
  for (const std::string& pattern : patterns) {
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

std::string joined_pids(const std::vector<pid_t>& pids) {
  std::string text;
  for (const pid_t pid : pids) {
    text += (text.empty() ? "" : ", ") + std::to_string(pid);
  }
  return text;
}

Verdict judge(const SegmentInfo& segment, const SegmentUsers& users) {
  if (!segment.readable) {
    return {false, "cannot read it to check (" + segment.unreadable_reason + ")"};
  }
  const std::string creator = "creator pid " + std::to_string(segment.creator.pid);
  if (segment.creator_alive) {
    return {false, creator + " is alive"};
  }
  if (!users.pids.empty()) {
    return {false, creator + " has exited, but pid " + joined_pids(users.pids) + " still has it open or mapped"};
  }
  if ((segment.mode & 0066) != 0 && users.uninspectable > 0) {
    // Mode 0660 lets group members map it, and we cannot see into their
    // processes: removing it could pull it from under a running program.
    return {false, creator + " has exited, but mode " + mode_string(segment.mode) + " lets other users open it and " +
                       std::to_string(users.uninspectable) + " of their processes could not be checked (run as root)"};
  }
  const uid_t self = ::geteuid();
  if (self != 0 && segment.owner_uid != self) {
    return {false, "owned by " + segment.owner_name + "; only " + segment.owner_name + " or root can remove it"};
  }
  return {true, creator + " has exited and no process has it open"};
}

// Unlinks `segment` unless it changed since the scan: a name removed and
// re-created by a live process in the meantime must survive.
bool remove_if_unchanged(const SegmentInfo& segment, std::string& error) {
  const auto now = inspect_segment(segment.name);
  if (!now) {
    error = "it was removed by another process meanwhile";
    return false;
  }
  if (!now->is_shmkit || now->creator.pid != segment.creator.pid ||
      now->creator.start_ticks != segment.creator.start_ticks || now->created_unix_ns != segment.created_unix_ns) {
    error = "it was replaced by a new segment meanwhile";
    return false;
  }
  if (::shm_unlink(("/" + segment.name).c_str()) != 0) {
    error = std::strerror(errno);
    return false;
  }
  return true;
}

void run_gc(const GcOptions& options) {
  std::vector<SegmentInfo> segments;
  for (SegmentInfo& segment : list_segments()) {
    if (matches(segment.name, options.patterns)) {
      segments.push_back(std::move(segment));
    }
  }
  if (segments.empty()) {
    std::cout << "nothing to do: no shmkit segments in " << kShmDirectory
              << (options.patterns.empty() ? "" : " match the given patterns") << '\n';
    return;
  }

  // One pass over /proc for every segment whose creator has exited.
  std::vector<std::string> candidates;
  for (const SegmentInfo& segment : segments) {
    if (segment.is_shmkit && !segment.creator_alive && is_valid_name(segment.name)) {
      candidates.push_back(segment.name);
    }
  }
  const std::vector<SegmentUsers> users = segment_users(candidates);

  Table table({{"ACTION"}, {"NAME"}, {"REASON"}});
  int removed = 0;
  int kept = 0;
  int failed = 0;
  std::size_t next_candidate = 0;
  for (const SegmentInfo& segment : segments) {
    const bool is_candidate = next_candidate < candidates.size() && candidates[next_candidate] == segment.name;
    const SegmentUsers no_users;
    Verdict verdict = judge(segment, is_candidate ? users[next_candidate++] : no_users);
    if (!verdict.remove) {
      table.add_row({"kept", segment.name, verdict.reason});
      ++kept;
      continue;
    }
    std::string error;
    if (options.dry_run) {
      table.add_row({"would remove", segment.name, verdict.reason});
      ++removed;
    } else if (remove_if_unchanged(segment, error)) {
      table.add_row({"removed", segment.name, verdict.reason});
      ++removed;
    } else {
      table.add_row({"failed", segment.name, "cannot remove it: " + error});
      ++failed;
    }
  }
  table.print(std::cout);
  std::cout << (options.dry_run ? "dry run: " : "") << removed
            << (options.dry_run ? " would be removed, " : " removed, ") << kept << " kept"
            << (failed > 0 ? ", " + std::to_string(failed) + " failed" : "") << '\n';
  if (failed > 0) {
    throw ExitStatus(1);
  }
}

}  // namespace

void register_gc_command(CLI::App& app) {
  auto options = std::make_shared<GcOptions>();
  CLI::App* cmd =
      app.add_subcommand("gc", "Remove shmkit segments whose creator has exited and that no process has open");
  cmd->add_flag("--dry-run,-n", options->dry_run, "Only print what would be removed");
  cmd->add_option("PATTERN", options->patterns, "Only consider segments whose names match these shell patterns");
  cmd->footer(
      "A segment's creator is the process that created it (for 'shmkit array create', that short-lived command),\n"
      "so gc removes every segment that nobody is using any more, whoever created it. Processes of other users are\n"
      "only visible to root; segments shared with a group (mode 0660) are kept unless gc can check them all.");
  cmd->callback([options] { run_gc(*options); });
}

}  // namespace shmkit::cli
