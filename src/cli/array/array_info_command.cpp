// shmkit array info NAME

#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "cli/array/array_commands.hpp"
#include "cli/common/format.hpp"
#include "cli/common/values.hpp"

namespace shmkit::cli {

namespace {

std::string pid_list(const std::vector<pid_t>& pids) {
  std::string text;
  for (const pid_t pid : pids) {
    text += (text.empty() ? "pid " : ", ") + std::to_string(pid);
  }
  return text;
}

void run_info(const std::string& name) {
  // Opening validates magic, version and sizes, so a damaged segment is
  // reported as such instead of printed as garbage.
  const auto array = DynamicArray::open(name);
  const ArrayInfo info = array.info();
  const auto file = inspect_segment(name);
  const SegmentUsers users = segment_users(name);

  auto line = [](std::string_view key, const std::string& value) {
    std::cout << key << std::string(key.size() < 11 ? 11 - key.size() : 1, ' ') << value << '\n';
  };
  line("name:", info.name);
  line("dtype:", std::string(dtype_string(info.dtype)) + " (" + std::string(dtype_name(info.dtype)) + ")");
  line("shape:", shape_string(info.shape));
  line("elements:", std::to_string(array.size()));
  line("nbytes:", human_size(info.data_bytes) + " (" + std::to_string(info.data_bytes) + " bytes)");
  line("segment:", human_size(info.segment_bytes) + " (" + std::to_string(info.segment_bytes) + " bytes, /dev/shm/" +
                       info.name + ")");
  line("creator:", "pid " + std::to_string(info.creator.pid) + (is_alive(info.creator) ? " (alive)" : " (exited)"));
  line("created:", iso8601(info.created_unix_ns));
  if (file) {
    line("owner:", file->owner_name + " (uid " + std::to_string(file->owner_uid) + ")");
    line("mode:", mode_string(file->mode));
  }
  line("unlink:", info.unlink_on_creator_close ? "when the creator closes it" : "only when removed (rm or gc)");
  std::string open_by = users.pids.empty() ? "no other process" : pid_list(users.pids);
  if (users.uninspectable > 0) {
    open_by += " (" + std::to_string(users.uninspectable) + " processes of other users could not be checked)";
  }
  line("open by:", open_by);
}

}  // namespace

void register_array_info_command(CLI::App& array) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = array.add_subcommand("info", "Show an array's dtype, shape, sizes, creator, owner and mode");
  cmd->add_option("NAME", *name, "Array name")->required();
  cmd->callback([name] { run_info(*name); });
}

}  // namespace shmkit::cli
