// shmkit array rm NAME... [--force]

#include <shmkit/core/error.hpp>
#include <shmkit/core/segment.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/array/array_commands.hpp"
#include "cli/commands.hpp"

namespace shmkit::cli {

namespace {

struct RmOptions {
  std::vector<std::string> names;
  bool force = false;
};

// Throws unless `name` may be removed. Without --force only shmkit arrays
// qualify, so a typo cannot delete another program's shared memory.
void check_removable(const std::string& name, bool force) {
  const auto segment = inspect_segment(name);
  if (!segment) {
    throw NotFoundError("cannot remove shared array '" + name + "': no such segment in /dev/shm");
  }
  if (force) {
    return;
  }
  if (!segment->readable) {
    throw Error("cannot remove shared array '" + name + "': cannot read it to check that it is an array (" +
                segment->unreadable_reason + "); use --force to remove it anyway");
  }
  if (!segment->is_shmkit) {
    throw Error("not removing '" + name +
                "': it is not a shmkit array (no shmkit trailer; it may belong to another program, or its creator "
                "died while creating it); use --force to remove it anyway");
  }
  if (segment->segment_kind() != SegmentKind::array) {
    throw Error("not removing '" + name + "': it is a shmkit " + std::string(to_string(segment->segment_kind())) +
                " segment, not an array; use --force to remove it anyway");
  }
}

void run_rm(const RmOptions& options) {
  int failures = 0;
  for (const std::string& name : options.names) {
    // One bad name must not stop the others: report it and go on.
    try {
      check_removable(name, options.force);
      if (!detail::SharedSegment::unlink(name, "shared array")) {
        throw NotFoundError("cannot remove shared array '" + name + "': it was removed by another process meanwhile");
      }
      std::cout << "removed shared array '" << name << "'\n";
    } catch (const Error& e) {
      std::cout.flush();
      std::cerr << "shmkit: " << e.what() << '\n';
      ++failures;
    }
  }
  if (failures > 0) {
    throw ExitStatus(1);
  }
}

}  // namespace

void register_array_rm_command(CLI::App& array) {
  auto options = std::make_shared<RmOptions>();
  CLI::App* cmd = array.add_subcommand(
      "rm", "Remove shared arrays from /dev/shm; processes that have them open keep using them until they close");
  cmd->add_option("NAME", options->names, "Names of the arrays to remove")->required();
  cmd->add_flag("--force", options->force,
                "Remove the named segments even if they are not shmkit arrays (e.g. left half-created by a crash)");
  cmd->callback([options] { run_rm(*options); });
}

}  // namespace shmkit::cli
